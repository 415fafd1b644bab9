// Builds the app the way the server does, quiet, closed when the test ends.
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';

interface Teardown {
  teardown(fn: () => unknown): void;
}

export async function buildTestApp(t: Teardown, env: Record<string, string> = {}): Promise<FastifyInstance> {
  // Test sources listen on 127.0.0.1, which the service refuses unless told otherwise.
  const app = await buildApp(loadConfig({ LOG_LEVEL: 'silent', ALLOW_PRIVATE_NETWORKS: 'true', ...env }));
  t.teardown(() => app.close());
  await app.ready();
  await app.model.warmed;
  return app;
}
