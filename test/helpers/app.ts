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

/** Every route of the app as [method, OpenAPI path], from Fastify's own route tree. */
export function appRoutes(app: FastifyInstance): [string, string][] {
  const routes: [string, string][] = [];
  const parents: string[] = [];
  for (const line of app.printRoutes({ commonPrefix: false }).split('\n')) {
    const match = /^([│ ]*)[├└]── (.*?)(?: \(([A-Z, ]+)\))?$/.exec(line);
    if (!match) continue;
    const depth = match[1]!.length / 4;
    parents.length = depth;
    const path = [...parents, match[2]!].join('');
    parents.push(match[2]!);
    for (const method of match[3]?.split(', ') ?? []) routes.push([method, path.replace(/:(\w+)/g, '{$1}')]);
  }
  return routes;
}
