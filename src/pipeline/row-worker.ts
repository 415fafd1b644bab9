// The second core's half of the full-resolution passes (row-pool.ts): a worker thread that runs
// the same row functions as the main thread, on rows of the same shared pixels.
import { parentPort } from 'node:worker_threads';
import { boxRows, clearHidden } from './compose.js';
import { applyForegroundRows, foregroundSums, sumForegroundRows } from './foreground.js';
import { deflateRows } from './png.js';
import { applyEdgeRows, sumGuideRows } from './refine.js';
import type { RowTask } from './row-pool.js';

function run(task: RowTask): { result: unknown; transfer: ArrayBuffer[] } {
  switch (task.kind) {
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

parentPort!.on('message', ({ id, task }: { id: number; task: RowTask }) => {
  try {
    const { result, transfer } = run(task);
    parentPort!.postMessage({ id, result }, transfer);
  } catch (error) {
    parentPort!.postMessage({ id, error: error instanceof Error ? error.message : String(error) });
  }
});
