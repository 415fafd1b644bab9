// The process: read the config, build the app, listen, and stop cleanly on a signal.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { buildApp } from './app.js';
import { ConfigError, loadConfig, projectRoot } from './config.js';
import { ModelLoadError } from './pipeline/segment.js';

const started = performance.now();

async function main(): Promise<void> {
  // A .env file in the project folder fills in settings the environment does not set.
  const envFile = path.join(projectRoot, '.env');
  if (existsSync(envFile)) process.loadEnvFile(envFile);
  const config = loadConfig();
  const app = await buildApp(config);

  const stop = async (signal: NodeJS.Signals) => {
    app.log.info({ signal }, 'stopping');
    await app.close();
    process.exit(0);
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);

  await app.listen({ host: config.HOST, port: config.PORT });
  await app.model.warmed;
  app.log.info({ coldStartMs: Math.round(performance.now() - started) }, 'ready');
}

main().catch((error: unknown) => {
  // Start-up problems a person can fix get one clear line; anything else gets the stack.
  if (error instanceof ConfigError || error instanceof ModelLoadError) console.error(`cannot start: ${error.message}`);
  else console.error('cannot start:', error);
  process.exit(1);
});
