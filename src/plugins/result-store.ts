// The result store of POST /remove-bg (see src/result-store.ts) and its cleanup timer. The timer
// does not keep the process alive, and stops with the app.
import fp from 'fastify-plugin';
import { ResultStore } from '../result-store.js';

declare module 'fastify' {
  interface FastifyInstance {
    resultStore: ResultStore;
  }
}

/** How often the folder is swept: a tenth of the maximum age, between 1 s and 10 minutes. */
export const sweepIntervalMs = (maxAgeMs: number): number => Math.min(10 * 60_000, Math.max(1000, Math.round(maxAgeMs / 10)));

export default fp(
  async (app) => {
    const store = new ResultStore({ dir: app.config.STORAGE_DIR, maxAgeMs: app.config.STORAGE_MAX_AGE_MS, maxBytes: app.config.STORAGE_MAX_BYTES });
    const sweep = () => {
      store.sweep().then(
        ({ deleted, bytes }) => {
          if (deleted > 0) app.log.info({ deleted, bytes }, 'stored results swept');
        },
        (error: unknown) => app.log.warn({ err: error }, 'sweeping stored results failed'),
      );
    };
    const timer = setInterval(sweep, sweepIntervalMs(app.config.STORAGE_MAX_AGE_MS)).unref();
    app.addHook('onReady', async () => sweep());
    app.addHook('onClose', async () => clearInterval(timer));
    app.decorate('resultStore', store);
  },
  { name: 'result-store' },
);
