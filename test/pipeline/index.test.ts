// The pipeline as a whole, with a stand-in for the model: what removeBackground leaves running when
// it fails. (Cutouts themselves are tested through the routes, and against the reference model in
// the parity test.)
import { readFileSync, writeFileSync } from 'node:fs';
import v8 from 'node:v8';
import vm from 'node:vm';
import sharp from 'sharp';
import t from 'tap';
import { ServiceError } from '../../src/errors.js';
import { removeBackground, type RemovalOptions } from '../../src/pipeline/index.js';
import { MODEL_SIZE } from '../../src/pipeline/preprocess.js';
import { StageTimer } from '../../src/pipeline/timings.js';

const OPTIONS: RemovalOptions = {
  crop: true, margin: 0, subject: 'largest', channels: 'rgba', threshold: 0.3, refine: true, accuracy: 'standard',
};

// A model that answers at once and sees nothing: the request fails with no_foreground while the
// JPEG's full-resolution decode, started alongside the inference, is still under way.
const blindModel = { predict: async () => new Float32Array(MODEL_SIZE * MODEL_SIZE) };

const noisyJpeg = (width: number, height: number): Promise<Buffer> =>
  sharp({ create: { width, height, channels: 3, background: '#808080', noise: { type: 'gaussian', mean: 128, sigma: 60 } } })
    .jpeg({ quality: 95 })
    .toBuffer();

t.test('a failed request leaves no decode running behind it, so its work slot frees its memory too', async (t) => {
  const bytes = await noisyJpeg(4000, 3000);
  for (let attempt = 0; attempt < 3; attempt++) {
    const context = { segmenter: blindModel, maxPixels: 50_000_000, pngCompressionLevel: 1, timer: new StageTimer() };
    const failure = await removeBackground(bytes, OPTIONS, context).then(
      () => null,
      (error: unknown) => error,
    );
    t.ok(failure instanceof ServiceError && failure.code === 'no_foreground', 'no subject found');
    t.same(sharp.counters(), { queue: 0, process: 0 }, 'libvips has nothing queued or running once it has failed');
  }
});

/** The process's peak resident memory (MiB) since the last resetPeak. */
const peakMib = () => Number(/VmHWM:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))![1]) / 1024;
// The kernel resets VmHWM to the current resident size on "5"; garbage is collected first so one
// run's buffers are not counted in the next.
v8.setFlagsFromString('--expose-gc');
const collect = vm.runInNewContext('gc') as () => void;
const resetPeak = () => {
  collect();
  writeFileSync('/proc/self/clear_refs', '5');
};

t.test("a 2000 x 2000 canvas from a 12 MP photo raises the peak memory by less than the canvas's own pixels", async (t) => {
  // A model that sees a disc in the middle, so the subject is large (2263 px across) and is scaled down onto the canvas.
  const disc = new Float32Array(MODEL_SIZE * MODEL_SIZE);
  for (let y = 0; y < MODEL_SIZE; y++) for (let x = 0; x < MODEL_SIZE; x++) disc[y * MODEL_SIZE + x] = Math.hypot(x - 160, y - 160) < 128 ? 1 : 0;
  const discModel = { predict: async () => disc.slice() };
  const bytes = await noisyJpeg(4243, 2829);
  const context = () => ({ segmenter: discModel, maxPixels: 50_000_000, pngCompressionLevel: 1, timer: new StageTimer(), maxCanvasPixels: 16_000_000 });
  const white = { kind: 'colour', colour: { r: 255, g: 255, b: 255, alpha: 1 } } as const;
  // The service's default answer (the crop as a transparent PNG) against the marketplace's.
  const plain = { format: 'png', quality: 90, background: { kind: 'transparent' } } as const;
  const marketplace = { format: 'jpeg', quality: 90, background: white, placement: { canvas: { width: 2000, height: 2000 }, fill: 0.85, position: 'center' }, shadow: { kind: 'contact', opacity: 40 } } as const;
  const peaks = { plain: 0, canvas: 0 };
  // A first run of each warms libvips's threads and the code paths up. The order alternates: memory
  // one run freed stays resident, and the run after it may fit in it. Whether it does varies from
  // run to run, so each kind's highest rise over four runs is compared: the run that had to take
  // fresh memory for what it needed.
  const runs = [['plain', plain], ['canvas', marketplace]] as const;
  for (let round = 0; round < 5; round++) {
    for (const [name, output] of round % 2 === 0 ? runs : [...runs].reverse()) {
      resetPeak();
      const before = peakMib();
      const result = await removeBackground(bytes, OPTIONS, context(), output);
      if (name === 'canvas') t.equal(result.outputWidth, 2000);
      if (round > 0) peaks[name] = Math.max(peaks[name], peakMib() - before);
    }
  }
  const canvasMib = (2000 * 2000 * 4) / 2 ** 20;
  t.comment(`highest peak above the resident memory before the run: ${peaks.plain.toFixed(1)} MiB for the transparent PNG, ${peaks.canvas.toFixed(1)} MiB for the marketplace canvas (its pixels: ${canvasMib.toFixed(1)} MiB)`);
  t.ok(peaks.canvas - peaks.plain <= canvasMib, `the canvas adds ${(peaks.canvas - peaks.plain).toFixed(1)} MiB at most`);
});

t.test('a PNG gives the same cutout and the same model input whether its full decode runs beside the model or after it', async (t) => {
  const disc = new Float32Array(MODEL_SIZE * MODEL_SIZE);
  for (let y = 0; y < MODEL_SIZE; y++) for (let x = 0; x < MODEL_SIZE; x++) disc[y * MODEL_SIZE + x] = Math.hypot(x - 160, y - 160) < 100 ? 1 : 0;
  const inputs: Float32Array[] = [];
  const discModel = { predict: async (input: Float32Array) => (inputs.push(input.slice()), disc.slice()) };
  const bytes = await sharp(await noisyJpeg(1200, 800)).png().toBuffer();
  const run = (decodeAlongsideMaxPixels: number) =>
    removeBackground(bytes, OPTIONS, { segmenter: discModel, maxPixels: 50_000_000, pngCompressionLevel: 1, timer: new StageTimer(), decodeAlongsideMaxPixels });
  const beside = await run(50_000_000);
  const after = await run(0);
  t.ok(Buffer.from(inputs[0]!.buffer).equals(Buffer.from(inputs[1]!.buffer)), 'the same model input');
  t.ok(beside.image.equals(after.image), 'the same encoded cutout');
  t.same(beside.box, after.box);
  // And a failure leaves nothing running, whichever way the decode went.
  for (const decodeAlongsideMaxPixels of [50_000_000, 0]) {
    const failure = await removeBackground(bytes, OPTIONS, { segmenter: blindModel, maxPixels: 50_000_000, pngCompressionLevel: 1, timer: new StageTimer(), decodeAlongsideMaxPixels }).catch((error: unknown) => error);
    t.ok(failure instanceof ServiceError && failure.code === 'no_foreground', 'no subject found');
    t.same(sharp.counters(), { queue: 0, process: 0 }, 'libvips has nothing queued or running once it has failed');
  }
});
