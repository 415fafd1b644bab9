// The second core's half of the full-resolution passes (row-pool.ts): a worker thread that runs
// the same row functions as the main thread, on rows of the same shared pixels; and the decode of
// a large image straight into those pixels, while the main thread runs the model.
import v8 from 'node:v8';
import vm from 'node:vm';
import { parentPort } from 'node:worker_threads';
import { ServiceError } from '../errors.js';
import { boxRows, clearHidden } from './compose.js';
import { decodePixels } from './decode.js';
import { applyForegroundRows, foregroundSums, sumForegroundRows } from './foreground.js';
import { deflateRows } from './png.js';
import { applyEdgeRows, sumGuideRows } from './refine.js';
import type { RowTask } from './row-pool.js';

// A decoded image's own buffer (48 MB at 12 MP) is garbage once copied into the shared memory, but
// this thread allocates little else, so its collector would leave it resident for a request or two
// (the worker's external memory 116 to 120 MB against 55 to 72 MB, measured at 12 MP). A
// young-generation collection right after the copy frees it, while the main thread runs the model;
// a full one freed it too but slowed the passes that follow (colour 67 to 120 ms). (The flag only
// exposes gc() to contexts made after it, such as this one; no other code sees it.)
v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as (options: { type: 'minor' }) => void;
const collectGarbage = () => gc({ type: 'minor' });

/** Decodes the image and copies it into the shared pixels; its size. */
async function decodeInto(task: Extract<RowTask, { kind: 'decode' }>): Promise<{ width: number; height: number }> {
  const bytes = Buffer.from(task.bytes.buffer, task.bytes.byteOffset, task.bytes.byteLength);
  const image = await decodePixels(bytes, task.header, { maxPixels: task.maxPixels });
  if (image.pixels.length > task.pixels.length) throw new Error('the decoded image is larger than its header said');
  task.pixels.set(image.pixels);
  return { width: image.width, height: image.height };
}

async function run(task: RowTask): Promise<{ result: unknown; transfer: ArrayBuffer[] }> {
  switch (task.kind) {
    case 'decode': {
      const size = await decodeInto(task);
      collectGarbage(); // the decoded image's own buffer, out of reach once decodeInto has returned
      return { result: size, transfer: [] };
    }
    case 'guide': {
      const guide = new Float32Array(task.geometry.w * task.geometry.h);
      sumGuideRows(task.pixels, task.width, task.region, task.geometry, task.top, task.bottom, guide);
      return { result: guide, transfer: [guide.buffer] };
    }
    case 'edge':
      return { result: applyEdgeRows(task.pixels, task.width, task.plan, task.top, task.bottom), transfer: [] };
    case 'colourSums': {
      const sums = foregroundSums(task.layout);
      sumForegroundRows(task.pixels, task.width, task.layout, task.top, task.bottom, sums);
      return { result: sums, transfer: [sums.cells.buffer as ArrayBuffer, sums.soft.buffer as ArrayBuffer] };
    }
    case 'colour':
      return { result: applyForegroundRows(task.pixels, task.width, task.layout, task.plan, task.top, task.bottom), transfer: [] };
    case 'clear':
      clearHidden({ pixels: task.pixels, width: task.width }, task.region, boxRows(task.box, task.top, task.bottom));
      return { result: undefined, transfer: [] };
    case 'png': {
      const part = deflateRows(task.pixels, task.width, task.box, task.top, task.bottom);
      return { result: part, transfer: part.blocks.map((block) => block.buffer as ArrayBuffer) };
    }
  }
}

parentPort!.on('message', async ({ id, task }: { id: number; task: RowTask }) => {
  try {
    const { result, transfer } = await run(task);
    parentPort!.postMessage({ id, result }, transfer);
  } catch (error) {
    const code = error instanceof ServiceError ? { code: error.code } : {};
    parentPort!.postMessage({ id, error: error instanceof Error ? error.message : String(error), ...code });
  }
});
