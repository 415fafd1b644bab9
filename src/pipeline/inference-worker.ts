// The model's session on a thread of its own (segment.ts, INFERENCE_WORKER). onnxruntime-node's
// run is synchronous behind its promise: on the main thread it stops the event loop for the whole
// inference, so /health, /ready, /metrics, a 400 or 503 that needs no model, and uploads being
// received all wait for it. Here the main thread keeps serving while the model runs.
import { parentPort, workerData } from 'node:worker_threads';
import { openSession, type Runner, type SessionSpec, type WorkerAnswer, type WorkerReady } from './segment.js';

const port = parentPort!;

function serve(session: Runner): void {
  port.on('message', async ({ id, input }: { id: number; input: Float32Array }) => {
    try {
      const output = await session.run(input);
      port.postMessage({ id, output } satisfies WorkerAnswer, [output.buffer as ArrayBuffer]); // moved, not copied
    } catch (error) {
      port.postMessage({ id, error: error instanceof Error ? error.message : String(error) } satisfies WorkerAnswer);
    }
  });
}

try {
  serve(await openSession(workerData as SessionSpec));
  port.postMessage({ kind: 'ready' } satisfies WorkerReady);
} catch (error) {
  // The main thread ends this worker when it reads why.
  port.postMessage({ kind: 'failed', message: error instanceof Error ? error.message : String(error) } satisfies WorkerReady);
}
