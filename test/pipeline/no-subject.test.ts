// The no-subject rule on both sides: generated images that hold no subject must be refused with
// no_foreground, and real photos (the dev set, SOD_DEV; the official U^2-Net test images,
// PARITY_FIXTURES) must not be. Each assertion names the raw map's peak and coverage, the two
// numbers the rule (src/pipeline/mask.ts, hasSubject) decides on, so the rule can be tuned from data.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import t, { type Test } from 'tap';
import { generateNegatives, NEGATIVE_NAMES } from '../../scripts/generate-negatives.js';
import { loadConfig } from '../../src/config.js';
import { ServiceError, type ErrorCode } from '../../src/errors.js';
import { removeBackground, type RemovalOptions } from '../../src/pipeline/index.js';
import { normaliseSaliency, type Saliency } from '../../src/pipeline/mask.js';
import { Segmenter } from '../../src/pipeline/segment.js';
import { StageTimer } from '../../src/pipeline/timings.js';

/**
 * Negatives the current rule (peak >= 0.2 and coverage < 0.99) accepts: known failures, kept as
 * todo so the suite passes while they stay visible. A negative that starts being accepted and is
 * not listed here fails the test.
 */
const ACCEPTED_TODAY = new Set<string>([
  'blurred-noise-3', // soft blobs: a peak just above 0.2
  'blurred-noise-12',
  'random-dots',
  'checkerboard-8', // fine textures: the model is sure about a few cells
  'bricks',
  'stripes-vertical-16', // salient almost everywhere, but just under the 99 % coverage cap
]);

const SERVICE_DEFAULTS: RemovalOptions = { crop: true, margin: 0, subject: 'largest', channels: 'rgba', threshold: 0.5 };

const config = loadConfig({});
const segmenter = await Segmenter.load({ modelPath: config.MODEL_PATH, threads: config.INFERENCE_THREADS });
t.teardown(() => segmenter.release());

// Keeps the last raw map the pipeline asked for, so one inference gives both the verdict and the
// numbers behind it.
let lastMap: Float32Array | undefined;
const predict = segmenter.predict.bind(segmenter);
segmenter.predict = async (input) => (lastMap = await predict(input));

/** The pipeline's verdict on an image (null: a cutout came back) with its raw peak and coverage. */
async function judge(bytes: Buffer): Promise<{ refused: ErrorCode | null; saliency: Saliency }> {
  lastMap = undefined;
  let refused: ErrorCode | null = null;
  try {
    await removeBackground(bytes, SERVICE_DEFAULTS, { segmenter, maxPixels: config.MAX_INPUT_PIXELS, pngCompressionLevel: config.PNG_COMPRESSION_LEVEL, timer: new StageTimer() });
  } catch (error) {
    if (!(error instanceof ServiceError)) throw error;
    refused = error.code;
  }
  if (!lastMap) throw new Error('the pipeline refused the image before running the model');
  return { refused, saliency: normaliseSaliency(lastMap) };
}

const describe = ({ peak, coverage }: Saliency): string => `peak ${peak.toFixed(4)}, coverage ${coverage.toFixed(4)}`;

t.test('images without a subject are refused with no_foreground', async (t) => {
  const negatives = await generateNegatives(t.testdir());
  t.same(negatives.map((n) => n.name), NEGATIVE_NAMES, 'every negative was generated');
  for (const negative of negatives) {
    const { refused, saliency } = await judge(negative.png);
    const todo = ACCEPTED_TODAY.has(negative.name) ? 'accepted by the current rule' : false;
    t.equal(refused, 'no_foreground', `${negative.name}: ${describe(saliency)}`, { todo });
  }
});

/** Every photo in `folder` goes through the service's defaults and must come back as a cutout. */
async function photosAreAccepted(t: Test, folder: string, expected: number): Promise<void> {
  const names = readdirSync(folder).filter((name) => !name.startsWith('.')).sort();
  t.equal(names.length, expected, `${expected} photos in ${folder}`);
  let lowestPeak = Infinity;
  let highestCoverage = 0;
  for (const name of names) {
    const { refused, saliency } = await judge(readFileSync(path.join(folder, name)));
    t.equal(refused, null, `${name}: ${describe(saliency)}`);
    lowestPeak = Math.min(lowestPeak, saliency.peak);
    highestCoverage = Math.max(highestCoverage, saliency.coverage);
  }
  t.comment(`lowest peak ${lowestPeak.toFixed(4)}, highest coverage ${highestCoverage.toFixed(4)}`);
}

const devSet = process.env.SOD_DEV;
t.test('no photo of the dev set is refused', { skip: devSet ? false : 'SOD_DEV is not set' }, async (t) => {
  await photosAreAccepted(t, path.resolve(devSet!, 'images'), 20);
});

const official = process.env.PARITY_FIXTURES;
t.test('no official U^2-Net test image is refused', { skip: official ? false : 'PARITY_FIXTURES is not set' }, async (t) => {
  await photosAreAccepted(t, path.resolve(official!, 'images'), 18);
});
