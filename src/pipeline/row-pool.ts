// Both cores for the work after the inference. The edge filter and the colour step each read the
// whole subject region at full resolution, on one thread: at 12 megapixels they take as long as an
// inference while the other core waits. Here a worker thread takes the bottom half of the region's
// rows and the main thread the top half, on the same pixels (copied once into shared memory), for
// the four row passes (refine.ts: the guide's luma sums and the filter's output; foreground.ts: the
// colour sums and the rewrite); the small steps between them (the guided filter on its working
// plane, the pull-push pyramid) stay on the main thread. Each pass's rows are independent, its sums
// exact, so the result is the one the serial functions give, byte for byte (test/pipeline/row-pool.test.ts).
// Regions of MIN_SHARED_PIXELS or more share the edge filter's passes, and the colour step's from
// MIN_SHARED_COLOUR_PIXELS. The PNG encoder (png.ts) splits the same way as the edge filter: the
// worker deflates the bottom half of the rows into a part of the stream that joins the top half's
// as it is. And for an image of MIN_SHARED_COLOUR_PIXELS or more the worker also does the full
// decode, straight into the shared memory, while the main thread runs the model (decodeShared):
// the main thread then neither holds a 48 MB
// decoded copy of its own at 12 MP (which also cost it a garbage collection or two a request) nor
// copies it (16 ms). Measured at 12 MP, two services side by side: 637 against 574 ms at
// concurrency 1, 1.48 against 1.74 requests a second at concurrency 4, the same peak memory.
import { Worker } from 'node:worker_threads';
import { boxRows, clearHidden, type Box } from './compose.js';
import { ServiceError, type ErrorCode } from '../errors.js';
import { LARGE_IMAGE_PIXELS, type DecodedImage, type ImageHeader } from './decode.js';
import {
  addForegroundSums,
  applyForegroundRows,
  foregroundLayout,
  foregroundPlan,
  foregroundSums,
  sumForegroundRows,
  type ForegroundLayout,
  type ForegroundOptions,
  type ForegroundPlan,
  type ForegroundSums,
} from './foreground.js';
import { assemblePng, deflateRows, type DeflatedRows } from './png.js';
import { MODEL_SIZE } from './preprocess.js';
import {
  applyEdgeRows,
  edgeBox,
  edgeGeometry,
  edgePlan,
  joinBounds,
  sumGuideRows,
  type EdgeBounds,
  type EdgeGeometry,
  type EdgePlan,
} from './refine.js';

/**
 * Regions of at least this many pixels share the edge filter's passes and the PNG with the worker
 * (their pixels copied into shared memory first). Measured in two services
 * side by side, requests alternated: at 1 MP refine 21 to 19.5 ms and encode 10 to 7.3 ms, at
 * 0.6 MP 13.2 to 12 ms and 6.6 to 4.7 ms; at 0.3 MP no gain (6.6 to 6.8 ms and 3.7 to 3.2 ms).
 */
export const MIN_SHARED_PIXELS = 500_000;

/**
 * The colour step shares regions of at least this many pixels, and the worker decodes images of
 * this many pixels or more itself (decodeShared). Their hand-overs cost more: the colour step's
 * sums and plan cross between the threads (about 2 MB each way at 1 MP, where it took 17 ms
 * shared against 15 ms on one thread), and the worker's decode runs beside the inference. Measured in one process,
 * requests alternated, all three passes shared: 2 MP 69 to 53 ms, 3 MP 99 to 73 ms, 4 MP 115 to
 * 100 and 120 to 92 ms (at 12 MP the two filters took 0.54x and 0.60x their serial time).
 */
export const MIN_SHARED_COLOUR_PIXELS = 2_000_000;

/**
 * The largest image whose pixels are copied into shared memory (4 bytes a pixel: 100 MB); larger
 * images, which run alone anyway, stay on one thread.
 */
export const MAX_SHARED_PIXELS = LARGE_IMAGE_PIXELS;

/** The pool's shared pixels, lent to one request: give them back when its result is encoded. */
export interface SharedPixels {
  pixels: Buffer;
  release(): void;
}

interface Rows {
  pixels: Uint8Array;
  width: number;
  top: number;
  bottom: number;
}
export type RowTask =
  | (Rows & { kind: 'guide'; region: Box; geometry: EdgeGeometry })
  | (Rows & { kind: 'edge'; plan: EdgePlan })
  | (Rows & { kind: 'colourSums'; layout: ForegroundLayout })
  | (Rows & { kind: 'colour'; layout: ForegroundLayout; plan: ForegroundPlan })
  | (Rows & { kind: 'clear'; region: Box; box: Box })
  | (Rows & { kind: 'png'; box: Box })
  | { kind: 'decode'; bytes: Uint8Array; header: ImageHeader; maxPixels: number; pixels: Uint8Array };
interface RowResults {
  guide: Float32Array;
  edge: EdgeBounds | null;
  colourSums: ForegroundSums;
  colour: number;
  clear: undefined;
  png: DeflatedRows;
  decode: { width: number; height: number };
}

/**
 * How many times a worker that died is replaced. Its tasks fail either way (their requests answer
 * 500); a new worker keeps the second core for the requests after. One that keeps dying (a bug
 * that some input triggers every time, a resource limit) stops being replaced, and later requests
 * run on the main thread alone.
 */
export const MAX_WORKER_RESTARTS = 3;

export class RowPool {
  private nextId = 0;
  private readonly pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  private failed: Error | undefined;
  private worker: Worker;
  private restarts = 0;
  /**
   * One shared buffer for the life of the pool, grown to the largest image shared so far and lent
   * to one request at a time. A new SharedArrayBuffer per request is freed only when both threads'
   * garbage collectors have dropped it, and the worker, which allocates little, seldom collects:
   * 16 requests of 12 MP at concurrency 4 reached 1059 MiB resident that way, against 569 MiB
   * without the worker (measured). The cost: up to 4 bytes per pixel of the largest image shared
   * so far stay resident between requests.
   */
  private readonly memory = new SharedArrayBuffer(0, { maxByteLength: MAX_SHARED_PIXELS * 4 });
  private lent = false;

  private constructor(private readonly spawn: () => Worker) {
    this.worker = this.watch(spawn());
  }

  /** Routes the worker's answers to their tasks; when it dies, fails what it held and replaces it. */
  private watch(worker: Worker): Worker {
    worker.on('message', ({ id, result, error, code }: { id: number; result?: unknown; error?: string; code?: ErrorCode }) => {
      const task = this.pending.get(id);
      this.pending.delete(id);
      if (this.pending.size === 0) worker.unref();
      // A refusal (an image that does not decode) stays the refusal it is; anything else is a fault.
      if (error !== undefined) task?.reject(code ? new ServiceError(code, error) : new Error(`row worker: ${error}`));
      else task?.resolve(result);
    });
    // 'error' (an uncaught exception) is followed by 'exit', which is where the worker is replaced.
    let cause: Error | undefined;
    worker.on('error', (error) => (cause ??= error));
    worker.on('exit', (code) => {
      const error = cause ?? new Error(`row worker exited (${code})`);
      for (const task of this.pending.values()) task.reject(error);
      this.pending.clear();
      if (this.failed) return; // closed
      if (this.restarts >= MAX_WORKER_RESTARTS) this.failed = error;
      else {
        this.restarts++;
        this.worker = this.watch(this.spawn());
      }
    });
    // Idle, the worker does not keep the process alive; with a task out, it does (see run).
    worker.unref();
    return worker;
  }

  /** Starts the worker (from source under the test runner, from dist/ otherwise). */
  static start(): RowPool {
    const file = import.meta.url.endsWith('.ts') ? './row-worker.ts' : './row-worker.js';
    return new RowPool(() => new Worker(new URL(file, import.meta.url)));
  }

  /** Whether the worker is there to take rows. */
  get usable(): boolean {
    return this.failed === undefined;
  }

  run<K extends RowTask['kind']>(task: Extract<RowTask, { kind: K }>): Promise<RowResults[K]> {
    if (this.failed) return Promise.reject(this.failed);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      this.worker.ref();
      this.worker.postMessage({ id, task });
    });
  }

  /**
   * `image`'s pixels copied into the pool's shared memory, or undefined while another request holds
   * it (that request's passes then run on one thread) or when the image is too large for it.
   */
  lend(image: DecodedImage): SharedPixels | undefined {
    const lease = this.lease(image.pixels.length);
    if (lease) image.pixels.copy(lease.pixels);
    return lease;
  }

  /**
   * The image decoded by the worker straight into the pool's shared memory, which is lent to the
   * caller as by lend; undefined when lend would give nothing. The decode and the copy run on the
   * worker, beside whatever this thread does meanwhile (the inference), and this thread never
   * holds a decoded copy of its own: at 12 MP that is 48 MB it neither allocates nor copies.
   */
  decodeShared(bytes: Buffer, header: ImageHeader, limits: { maxPixels: number }): { lease: SharedPixels; decoding: Promise<DecodedImage> } | undefined {
    const lease = this.lease(header.width * header.height * 4);
    if (!lease) return undefined;
    const { pixels } = lease;
    const decoding = this.run({ kind: 'decode', bytes, header, maxPixels: limits.maxPixels, pixels }).then(({ width, height }) => ({
      format: header.format,
      width,
      height,
      hasAlpha: header.hasAlpha,
      pixels: pixels.subarray(0, width * height * 4),
    }));
    return { lease, decoding };
  }

  /** `bytes` of the shared memory, lent until released; undefined while lent or when too large. */
  private lease(bytes: number): SharedPixels | undefined {
    if (this.lent || bytes > this.memory.maxByteLength) return undefined;
    if (this.memory.byteLength < bytes) this.memory.grow(bytes);
    this.lent = true;
    const pixels = Buffer.from(this.memory, 0, bytes);
    let released = false;
    return {
      pixels,
      release: () => {
        if (released) return;
        released = true;
        this.lent = false;
      },
    };
  }

  async close(): Promise<void> {
    this.failed ??= new Error('row pool closed');
    await this.worker.terminate();
  }
}

/** Whether `region` (or a whole image) is worth the worker: the pool is up and it has `minPixels` or more. */
export const worthSharing = (pool: RowPool | undefined, region: { width: number; height: number }, minPixels = MIN_SHARED_PIXELS): pool is RowPool =>
  pool !== undefined && pool.usable && region.width * region.height >= minPixels;

/** Where the rows of a region `height` tall are cut: half way, rounded down to a multiple of `multiple`. */
const middle = (height: number, multiple = 2): number => Math.floor(height / 2 / multiple) * multiple;

/**
 * `mine` on this thread while the worker does `theirs`; both results. If `mine` throws, the worker's
 * half is waited for before the error goes on, so the shared pixels are never lent again while the
 * worker still writes them.
 */
export async function bothHalves<Mine, Theirs>(theirs: Promise<Theirs>, mine: () => Mine): Promise<[Mine, Theirs]> {
  let result: Mine;
  try {
    result = mine();
  } catch (error) {
    await theirs.catch(() => {});
    throw error;
  }
  return [result, await theirs];
}

/** refineEdges (refine.ts) on both threads; the same result. */
export async function refineEdgesShared(pool: RowPool, image: DecodedImage, grid: Uint8Array, region: Box, size = MODEL_SIZE): Promise<Box | null> {
  const { pixels, width } = image;
  const geometry = edgeGeometry(image, region, size);
  // Cut at a block boundary, so the two halves sum into different working rows.
  const cut = middle(region.height, geometry.step);
  const guide = new Float32Array(geometry.w * geometry.h);
  const [, other] = await bothHalves(pool.run({ kind: 'guide', pixels, width, region, geometry, top: cut, bottom: region.height }), () =>
    sumGuideRows(pixels, width, region, geometry, 0, cut, guide),
  );
  for (let i = 0; i < guide.length; i++) guide[i]! += other[i]!;
  const plan = edgePlan(guide, grid, region, image, geometry, size);
  const [mine, theirs] = await bothHalves(pool.run({ kind: 'edge', pixels, width, plan, top: middle(region.height), bottom: region.height }), () =>
    applyEdgeRows(pixels, width, plan, 0, middle(region.height)),
  );
  return edgeBox(region, joinBounds(mine, theirs));
}

/** estimateForeground (foreground.ts) on both threads; the same result. */
export async function estimateForegroundShared(pool: RowPool, image: DecodedImage, region: Box, options: Partial<ForegroundOptions> = {}): Promise<number> {
  if (region.width <= 0 || region.height <= 0) return 0;
  const { pixels, width } = image;
  const layout = foregroundLayout(image, region, options);
  // Cut at an even row: the sums read colours on even rows and soft pixels on odd ones.
  const cut = middle(region.height);
  const sums = foregroundSums(layout);
  const [, theirSums] = await bothHalves(pool.run({ kind: 'colourSums', pixels, width, layout, top: cut, bottom: region.height }), () =>
    sumForegroundRows(pixels, width, layout, 0, cut, sums),
  );
  addForegroundSums(sums, theirSums);
  const plan = foregroundPlan(layout, sums);
  if (!plan) return 0;
  const [mine, theirs] = await bothHalves(pool.run({ kind: 'colour', pixels, width, layout, plan, top: cut, bottom: region.height }), () =>
    applyForegroundRows(pixels, width, layout, plan, 0, cut),
  );
  return mine + theirs;
}

/** clearHidden (compose.ts) on both threads: each clears half the box's rows; the same pixels. */
export async function clearHiddenShared(pool: RowPool, image: DecodedImage, region: Box, box: Box): Promise<void> {
  const { pixels, width } = image;
  const cut = middle(box.height, 1);
  await bothHalves(pool.run({ kind: 'clear', pixels, width, region, box, top: cut, bottom: box.height }), () => clearHidden(image, region, boxRows(box, 0, cut)));
}

/** encodePng (png.ts) on both threads: the worker deflates the bottom half of the box's rows; the same file. */
export async function encodePngShared(pool: RowPool, image: DecodedImage, box: Box): Promise<Buffer> {
  const { pixels, width } = image;
  const cut = middle(box.height, 1);
  const [mine, theirs] = await bothHalves(pool.run({ kind: 'png', pixels, width, box, top: cut, bottom: box.height }), () => deflateRows(pixels, width, box, 0, cut));
  return assemblePng(box.width, box.height, [mine, theirs]);
}
