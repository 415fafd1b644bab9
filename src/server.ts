// The process: read the config, build the app, listen, and stop cleanly on a signal.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { buildApp } from './app.js';
import { applyHeapGrowth, ConfigError, loadConfig, projectRoot } from './config.js';
import { ModelLoadError } from './pipeline/segment.js';

const started = performance.now();

async function main(): Promise<void> {
  // A .env file in the project folder fills in settings the environment does not set.
  const envFile = path.join(projectRoot, '.env');
  if (existsSync(envFile)) process.loadEnvFile(envFile);
  const config = loadConfig();
  applyHeapGrowth(config);
  const app = await buildApp(config);

  // On SIGTERM: /ready turns 503 and new work is refused, while requests in flight get up to
  // SHUTDOWN_GRACE_MS to finish; then the server closes and the process exits 0. A second signal
  // exits at once.
  let stopping = false;
  const stop = async (signal: NodeJS.Signals) => {
    if (stopping) process.exit(0);
    stopping = true;
    app.log.info({ signal, inFlight: app.queue.stats.admitted }, 'draining');
    app.queue.drain();
    const drained = await within(app.queue.idle(), config.SHUTDOWN_GRACE_MS);
    if (!drained) app.log.warn({ inFlight: app.queue.stats.admitted }, 'grace period over; stopping with requests in flight');
    await within(app.close(), 2_000);
    app.log.info('stopped');
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);

  await app.listen({ host: config.HOST, port: config.PORT });
  await app.model.warmed;
  app.log.info({ coldStartMs: Math.round(performance.now() - started) }, 'ready');
}

/** Whether `promise` settled within `ms`. */
function within(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  return Promise.race([promise.then(() => true, () => true), timeout]).finally(() => clearTimeout(timer));
}

main().catch((error: unknown) => {
  // Start-up problems a person can fix get one clear line; anything else gets the stack.
  if (error instanceof ConfigError || error instanceof ModelLoadError) console.error(`cannot start: ${error.message}`);
  else console.error('cannot start:', error);
  process.exit(1);
});
