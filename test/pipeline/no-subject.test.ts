// The no-subject rule (src/pipeline/no-subject.ts) on both sides: generated images in which nothing
// stands out must be refused with no_foreground, and images that plainly have a subject must not be:
// generated product-like scenes (tiny, pale, low-contrast, filling the frame, on a patterned
// background) and real photos (SOD_DEV; the official U^2-Net test images, PARITY_FIXTURES; the
// three dev sets are also checked by test/scripts/eval-pins.test.ts). Each assertion names the
// figures the rule decides on (the raw map's peak, the image's edge share and variation).
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import t, { type Test } from 'tap';
import { ANSWERED_PATTERNS, EMPTY_NEGATIVES, generateNegatives, negativeImage, NEGATIVE_NAMES } from '../../scripts/generate-negatives.js';
import { loadConfig } from '../../src/config.js';
import { ServiceError, type ErrorCode } from '../../src/errors.js';
import { modelPixelsFromBytes, readHeader } from '../../src/pipeline/decode.js';
import { removeBackground, type RemovalOptions } from '../../src/pipeline/index.js';
import {
  BLOCKS, EDGE_STEP, hasSubject, imageFigures, MIN_EDGE_SHARE, MIN_VARIATION, SUBJECT_LEVEL, type ImageFigures,
} from '../../src/pipeline/no-subject.js';
import { Segmenter } from '../../src/pipeline/segment.js';
import { StageTimer } from '../../src/pipeline/timings.js';
import { sceneImage } from '../helpers/images.js';

t.setTimeout(300_000);

t.test('imageFigures: edges and variation of a model view', async (t) => {
  const size = 64;
  const view = (paint: (x: number, y: number) => number) => {
    const rgb = new Uint8Array(size * size * 3);
    for (let y = 0; y < size; y++) for (let x = 0; x < size; x++) rgb.fill(paint(x, y), (y * size + x) * 3, (y * size + x) * 3 + 3);
    return rgb;
  };
  t.same(imageFigures(view(() => 128), size), { edgeShare: 0, variation: 0 }, 'flat: no edge, no variation');
  const ramp = imageFigures(view((x) => x), size);
  t.equal(ramp.edgeShare, 0, `a gentle gradient (1 level a pixel) has no edge under ${EDGE_STEP}`);
  const square = imageFigures(view((x, y) => (x >= 16 && x < 48 && y >= 16 && y < 48 ? 250 : 10)), size);
  t.ok(square.edgeShare > 0.05, `a square has its outline (${square.edgeShare.toFixed(3)})`);
  t.ok(square.variation > 1, `and its ${BLOCKS}x${BLOCKS} blocks differ (${square.variation.toFixed(2)})`);
  const checks = imageFigures(view((x, y) => (((x >> 1) + (y >> 1)) % 2 ? 255 : 0)), size);
  t.ok(checks.edgeShare > 0.5 && checks.variation < 0.01, 'a fine checkerboard: edges everywhere, the same in every block');
});

t.test('hasSubject: the model sees something, or the image has something to see', async (t) => {
  const photo: ImageFigures = { edgeShare: 0.2, variation: 0.5 };
  t.ok(hasSubject(SUBJECT_LEVEL, () => { throw new Error('not needed'); }), 'the map reaches the half-way line: answered, the image not even looked at');
  t.ok(hasSubject(0.17, () => photo), 'a photo the model misses: answered with what it found');
  t.notOk(hasSubject(0.3, () => ({ edgeShare: MIN_EDGE_SHARE / 2, variation: 0.5 })), 'nowhere marked and smooth');
  t.notOk(hasSubject(0.3, () => ({ edgeShare: 0.5, variation: MIN_VARIATION / 2 })), 'nowhere marked and the same everywhere');
  t.ok(hasSubject(0.3, () => ({ edgeShare: MIN_EDGE_SHARE, variation: MIN_VARIATION })), 'the limits themselves are answered');
});

const SERVICE_DEFAULTS: RemovalOptions = {
  crop: true, margin: 0, subject: 'largest', channels: 'rgba', threshold: 0.3, refine: true, accuracy: 'standard',
};

const config = loadConfig({});
const segmenter = await Segmenter.load({ modelPath: config.MODEL_PATH, threads: config.INFERENCE_THREADS });
t.teardown(() => segmenter.release());
const limits = { maxPixels: config.MAX_INPUT_PIXELS };

// Keeps the last raw map the pipeline asked for, so one inference gives both the verdict and the
// numbers behind it.
let lastMap: Float32Array | undefined;
const predict = segmenter.predict.bind(segmenter);
segmenter.predict = async (input) => (lastMap = await predict(input));

interface Verdict {
  refused: ErrorCode | null;
  peak: number;
  figures: ImageFigures;
}

/** The pipeline's verdict on an image (null: a cutout came back) with the figures behind it. */
async function judge(bytes: Buffer): Promise<Verdict> {
  lastMap = undefined;
  let refused: ErrorCode | null = null;
  try {
    await removeBackground(bytes, SERVICE_DEFAULTS, { segmenter, maxPixels: limits.maxPixels, pngCompressionLevel: config.PNG_COMPRESSION_LEVEL, timer: new StageTimer() });
  } catch (error) {
    if (!(error instanceof ServiceError)) throw error;
    refused = error.code;
  }
  const map = lastMap as Float32Array | undefined; // set by the pipeline's call to predict
  if (!map) throw new Error('the pipeline refused the image before running the model');
  let peak = 0;
  for (const value of map) if (value > peak) peak = value;
  // The model's view, made as the pipeline makes it.
  const header = await readHeader(bytes, limits);
  const view = await modelPixelsFromBytes(bytes, header, limits);
  return { refused, peak, figures: imageFigures(view) };
}

const describe = ({ peak, figures }: Verdict): string =>
  `peak ${peak.toFixed(3)}, edge share ${figures.edgeShare.toFixed(4)}, variation ${figures.variation.toFixed(3)}`;

/** Tracks, among images the model sees nothing in, the figures closest to the rule's limits. */
class Margins {
  lowestPeak = Infinity;
  lowestEdgeShare = Infinity;
  lowestVariation = Infinity;
  add({ peak, figures }: Verdict): void {
    this.lowestPeak = Math.min(this.lowestPeak, peak);
    if (peak >= SUBJECT_LEVEL) return;
    this.lowestEdgeShare = Math.min(this.lowestEdgeShare, figures.edgeShare);
    this.lowestVariation = Math.min(this.lowestVariation, figures.variation);
  }
  toString(): string {
    return `lowest peak ${this.lowestPeak.toFixed(3)}; below ${SUBJECT_LEVEL}: lowest edge share ${this.lowestEdgeShare.toFixed(4)}, lowest variation ${this.lowestVariation.toFixed(3)}`;
  }
}

t.test('images in which nothing stands out are refused with no_foreground', async (t) => {
  const negatives = await generateNegatives(t.testdir());
  t.same(negatives.map((n) => n.name), NEGATIVE_NAMES, 'every negative was generated');
  t.ok(EMPTY_NEGATIVES.every((name) => NEGATIVE_NAMES.includes(name) && !(name in ANSWERED_PATTERNS)), 'the empty ones are negatives, none answered');
  for (const negative of negatives) {
    const verdict = await judge(negative.png);
    const answered = ANSWERED_PATTERNS[negative.name];
    if (answered) t.equal(verdict.refused, null, `${negative.name} is answered: ${answered} (${describe(verdict)})`);
    else t.equal(verdict.refused, 'no_foreground', `${negative.name}${EMPTY_NEGATIVES.includes(negative.name) ? ' (empty)' : ''}: ${describe(verdict)}`);
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
    const verdict = await judge(await make());
    t.equal(verdict.refused, null, `${name}: ${describe(verdict)}`);
    margins.add(verdict);
  }
  t.comment(String(margins));
});

/** Every photo in `folder` goes through the service's defaults and must come back as a cutout. */
async function photosAreAccepted(t: Test, folder: string, expected: number): Promise<void> {
  const names = readdirSync(folder).filter((name) => !name.startsWith('.')).sort();
  t.equal(names.length, expected, `${expected} photos in ${folder}`);
  const margins = new Margins();
  for (const name of names) {
    const verdict = await judge(readFileSync(path.join(folder, name)));
    t.equal(verdict.refused, null, `${name}: ${describe(verdict)}`);
    margins.add(verdict);
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
