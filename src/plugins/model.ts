// The model session: loaded once when the app starts, warmed with one run of the whole pipeline,
// released on close.
//
// Loading (digest check, session creation) blocks start-up, so a missing or corrupt model stops
// the service with a message. Warming runs after that without blocking it: the server can listen,
// /ready answers 503 until the first inference is done, and a request that arrives meanwhile waits
// for it rather than paying for it.
import fp from 'fastify-plugin';
import { RowPool } from '../pipeline/row-pool.js';
import { Segmenter } from '../pipeline/segment.js';
import { warmUp } from '../pipeline/warm-up.js';

export interface ModelState {
  segmenter: Segmenter;
  /** The worker for the full-resolution passes' second half (ROW_WORKER), if any. */
  rows: RowPool | undefined;
  /** True once the warm-up inference has finished. */
  readonly warm: boolean;
  /** Resolves when warm; rejects if warming failed. */
  readonly warmed: Promise<void>;
}

declare module 'fastify' {
  interface FastifyInstance {
    model: ModelState;
  }
}

export default fp(
  async (app) => {
    const segmenter = await Segmenter.load({
      modelPath: app.config.MODEL_PATH,
      threads: app.config.INFERENCE_THREADS,
      arena: app.config.INFERENCE_ARENA,
      worker: app.config.INFERENCE_WORKER,
    });
    const rows = app.config.ROW_WORKER ? RowPool.start() : undefined;
    let warm = false;
    const started = performance.now();
    const warmed = warmUp(segmenter, rows).then(() => {
      warm = true;
      app.log.info({ warmUpMs: Math.round(performance.now() - started) }, 'model warmed');
    });
    warmed.catch(() => {}); // observed by whoever awaits it; never an unhandled rejection
    app.decorate('model', {
      segmenter,
      rows,
      get warm() {
        return warm;
      },
      warmed,
    });
    app.addHook('onClose', async () => {
      await warmed.catch(() => {});
      await segmenter.release();
      await rows?.close();
    });
  },
  { name: 'model' },
);
