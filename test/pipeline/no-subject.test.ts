// The no-subject rule on both sides: generated images that hold no subject must be refused with
// no_foreground, and images that plainly have one must not be: generated product-like scenes (tiny,
// pale, low-contrast, filling the frame, on a patterned background) and real photos (the dev set,
// SOD_DEV; the official U^2-Net test images, PARITY_FIXTURES). Each assertion names the raw map's
// figures the rule (src/pipeline/mask.ts, hasSubject) decides on, so it can be tuned from data.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import t, { type Test } from 'tap';
import { generateNegatives, KNOWN_ACCEPTED, negativeImage, NEGATIVE_NAMES } from '../../scripts/generate-negatives.js';
import { loadConfig } from '../../src/config.js';
import { ServiceError, type ErrorCode } from '../../src/errors.js';
import { removeBackground, type RemovalOptions } from '../../src/pipeline/index.js';
import { normaliseSaliency, type Saliency } from '../../src/pipeline/mask.js';
import { Segmenter } from '../../src/pipeline/segment.js';
import { StageTimer } from '../../src/pipeline/timings.js';
import { sceneImage } from '../helpers/images.js';

t.setTimeout(300_000);

const SERVICE_DEFAULTS: RemovalOptions = {
  crop: true, margin: 0, subject: 'largest', channels: 'rgba', threshold: 0.3, refine: true, accuracy: 'standard',
};

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

/** The three figures hasSubject reads: sure share (of the marked area), haze and coverage (of the image). */
const figures = ({ sure, marked, coverage }: Saliency) => ({ sureShare: marked > 0 ? sure / marked : 0, haze: marked - sure, coverage });
const describe = (saliency: Saliency): string => {
  const { sureShare, haze, coverage } = figures(saliency);
  return `sure share ${sureShare.toFixed(3)}, haze ${haze.toFixed(4)}, coverage ${coverage.toFixed(4)}, peak ${saliency.peak.toFixed(4)}`;
};

/** Tracks the accepted images' figures closest to the rule's limits, for the margins in the log. */
class Margins {
  lowestSureShare = Infinity;
  highestHaze = 0;
  highestCoverage = 0;
  add(saliency: Saliency): void {
    const { sureShare, haze, coverage } = figures(saliency);
    this.lowestSureShare = Math.min(this.lowestSureShare, sureShare);
    this.highestHaze = Math.max(this.highestHaze, haze);
    this.highestCoverage = Math.max(this.highestCoverage, coverage);
  }
  toString(): string {
    return `lowest sure share ${this.lowestSureShare.toFixed(3)}, highest haze ${this.highestHaze.toFixed(4)}, highest coverage ${this.highestCoverage.toFixed(4)}`;
  }
}

t.test('images without a subject are refused with no_foreground', async (t) => {
  const negatives = await generateNegatives(t.testdir());
  t.same(negatives.map((n) => n.name), NEGATIVE_NAMES, 'every negative was generated');
  for (const negative of negatives) {
    const { refused, saliency } = await judge(negative.png);
    const known = KNOWN_ACCEPTED[negative.name];
    if (known) t.equal(refused, null, `${negative.name} is a known gap, accepted: ${known} (${describe(saliency)})`);
    else t.equal(refused, 'no_foreground', `${negative.name}: ${describe(saliency)}`);
  }
});

const svg = (body: string, background = '#ffffff'): Buffer =>
  Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="640" height="480"><rect width="100%" height="100%" fill="${background}"/>${body}</svg>`);
const png = (image: Buffer): Promise<Buffer> => sharp(image).png().toBuffer();
const SHIRT = 'M40 20 L230 0 C280 60 360 60 410 0 L600 20 L640 200 L560 230 L560 480 L80 480 L80 230 L0 200 Z';
const DRESS = 'M280 60 L360 60 L380 160 L470 440 L170 440 L260 160 Z';
const STRIPED = '<defs><pattern id="p" width="24" height="24" patternUnits="userSpaceOnUse"><rect width="24" height="24" fill="#fff"/><rect width="12" height="24" fill="#1b2a5c"/></pattern></defs>';
const DOTTED = '<defs><pattern id="p" width="30" height="30" patternUnits="userSpaceOnUse"><rect width="30" height="30" fill="#1b2a5c"/><circle cx="15" cy="15" r="6" fill="#fff"/></pattern></defs>';

/** Scenes a shop would send that plainly have a subject, including the awkward ones. */
const SUBJECTS: Record<string, () => Promise<Buffer>> = {
  'ring, 16 px across': () => png(svg('<circle cx="320" cy="240" r="8" fill="none" stroke="#c9a227" stroke-width="4"/>')),
  'two pale earrings': () => png(svg('<circle cx="300" cy="240" r="12" fill="#eee8d8"/><circle cx="340" cy="240" r="12" fill="#eee8d8"/>')),
  'small bag': () => png(svg('<rect x="290" y="220" width="70" height="60" rx="6" fill="#7a3b2e"/><path d="M300 222 C300 180 350 180 350 222" stroke="#7a3b2e" stroke-width="5" fill="none"/>')),
  'thin pen': () => sceneImage(640, 480, [{ kind: 'rect', x: 120, y: 236, w: 400, h: 8, fill: '#222233' }]),
  'watch in a corner': () => png(svg('<circle cx="80" cy="80" r="40" fill="#333"/><rect x="65" y="0" width="30" height="160" fill="#333"/>')),
  'grey sock on grey': () => png(svg('<path d="M280 100 L340 100 L340 300 L420 330 L420 380 L280 380 Z" fill="#9a9a9a"/>', '#a8a8a8')),
  'beige on cream': () => png(svg('<ellipse cx="320" cy="250" rx="150" ry="120" fill="#d9cdb4"/>', '#e8e0cf')),
  'shirt filling the frame': () => png(svg(`<path d="${SHIRT}" fill="#2d6cdf"/>`, '#fafafa')),
  'striped shirt filling the frame': () => png(svg(`${STRIPED}<path d="${SHIRT}" fill="url(#p)"/>`, '#f4f4f4')),
  'shoe close-up': () => png(svg('<path d="M-20 300 C-20 60 250 40 380 200 L620 330 C700 380 700 480 620 480 L-20 480 Z" fill="#222"/>', '#f3f3f3')),
  'polka-dot dress': () => png(svg(`${DOTTED}<path d="${DRESS}" fill="url(#p)"/>`, '#f5f5f5')),
  'dress on a brick wall': async () =>
    sharp(await negativeImage('bricks')).composite([{ input: svg(`<path d="${DRESS}" fill="#e6c229"/>`, 'none') }]).png().toBuffer(),
};

t.test('generated scenes that plainly have a subject are accepted', async (t) => {
  const margins = new Margins();
  for (const [name, make] of Object.entries(SUBJECTS)) {
    const { refused, saliency } = await judge(await make());
    t.equal(refused, null, `${name}: ${describe(saliency)}`);
    margins.add(saliency);
  }
  t.comment(String(margins));
});

/** Every photo in `folder` goes through the service's defaults and must come back as a cutout. */
async function photosAreAccepted(t: Test, folder: string, expected: number): Promise<void> {
  const names = readdirSync(folder).filter((name) => !name.startsWith('.')).sort();
  t.equal(names.length, expected, `${expected} photos in ${folder}`);
  const margins = new Margins();
  for (const name of names) {
    const { refused, saliency } = await judge(readFileSync(path.join(folder, name)));
    t.equal(refused, null, `${name}: ${describe(saliency)}`);
    margins.add(saliency);
  }
  t.comment(String(margins));
}

const devSet = process.env.SOD_DEV;
t.test('no photo of the dev set is refused', { skip: devSet ? false : 'SOD_DEV is not set' }, async (t) => {
  await photosAreAccepted(t, path.resolve(devSet!, 'images'), 20);
});

const official = process.env.PARITY_FIXTURES;
t.test('no official U^2-Net test image is refused', { skip: official ? false : 'PARITY_FIXTURES is not set' }, async (t) => {
  await photosAreAccepted(t, path.resolve(official!, 'images'), 18);
});
