import t from 'tap';
import type { Box } from '../../src/pipeline/compose.js';
import type { DecodedImage } from '../../src/pipeline/decode.js';
import { edgeReach, estimateForeground } from '../../src/pipeline/foreground.js';

type RGB = readonly [number, number, number];
const SUBJECT: RGB = [200, 60, 40];
const GREEN: RGB = [0, 255, 0];

/**
 * A disc of SUBJECT on GREEN, its edge a linear ramp `ramp` pixels wide: the true alpha `truth`, and
 * the image I = a F + (1 - a) C with the alpha channel `alphaOf(truth)` (the model's alpha, which
 * may be off: opaque where the truth is only partly subject).
 */
function disc(size: number, ramp: number, alphaOf: (truth: number) => number = (a) => Math.round(a * 255)) {
  const pixels = Buffer.alloc(size * size * 4);
  const truth = new Float64Array(size * size);
  const centre = size / 2;
  const radius = size / 4;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const i = y * size + x;
      const a = Math.min(1, Math.max(0, 0.5 - (Math.hypot(x + 0.5 - centre, y + 0.5 - centre) - radius) / ramp));
      truth[i] = a;
      for (let c = 0; c < 3; c++) pixels[i * 4 + c] = Math.round(a * SUBJECT[c]! + (1 - a) * GREEN[c]!);
      pixels[i * 4 + 3] = alphaOf(a);
    }
  }
  const image: DecodedImage = { format: 'png', width: size, height: size, hasAlpha: false, pixels };
  return { image, truth };
}

const whole = (image: DecodedImage): Box => ({ left: 0, top: 0, width: image.width, height: image.height });

/** The mean length, over pixels the result shows (alpha > 0) and the truth mixes, of alpha' (F' - F). */
function colourError(image: DecodedImage, truth: Float64Array): number {
  let sum = 0;
  let count = 0;
  for (let i = 0; i < truth.length; i++) {
    const kept = image.pixels[i * 4 + 3]! / 255;
    if (kept === 0 || truth[i] === 0 || truth[i] === 1) continue;
    sum += kept * Math.hypot(...SUBJECT.map((v, c) => image.pixels[i * 4 + c]! - v));
    count++;
  }
  return sum / count;
}

t.test('the green of the old background leaves a soft edge whose true colour is known', async (t) => {
  const { image, truth } = disc(200, 8);
  const before = colourError(image, truth);
  const rewritten = estimateForeground(image, whole(image));
  const after = colourError(image, truth);
  t.ok(rewritten > 100, `${rewritten} pixels rewritten`);
  t.ok(after < before / 10, `colour error ${before.toFixed(1)} before, ${after.toFixed(1)} after`);
});

t.test('the same where the alpha calls mixed pixels opaque: colours, not the alpha, say how much green they hold', async (t) => {
  // A model's alpha that is too steep: everything above a quarter subject is opaque.
  const { image, truth } = disc(200, 8, (a) => (a >= 0.25 ? 255 : Math.round(a * 4 * 255)));
  const before = colourError(image, truth);
  // Opaque pixels hold green up to 6 px in from the soft ones here: a reach that far.
  estimateForeground(image, whole(image), { reach: 6 });
  const after = colourError(image, truth);
  t.ok(after < before / 5, `colour error ${before.toFixed(1)} before, ${after.toFixed(1)} after`);
});

t.test('only visible pixels near the edge change: the inside, the outside, clear pixels and all beyond the region stay', async (t) => {
  const size = 200;
  const { image } = disc(size, 8);
  // A green stripe inside the subject, far from its edge: the subject's own colour, whatever it looks like.
  for (let x = 90; x < 110; x++) image.pixels.set([0, 255, 0], ((size / 2) * size + x) * 4);
  const original = Buffer.from(image.pixels);
  const region: Box = { left: 10, top: 10, width: 180, height: 170 };
  estimateForeground(image, region);
  const reach = edgeReach(image);
  let changed = 0;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const p = (y * size + x) * 4;
      const same = image.pixels.subarray(p, p + 4).equals(original.subarray(p, p + 4));
      if (same) continue;
      changed++;
      const inside = x >= region.left && x < region.left + region.width && y >= region.top && y < region.top + region.height;
      const fromEdge = Math.abs(Math.hypot(x + 0.5 - size / 2, y + 0.5 - size / 2) - size / 4);
      if (!inside || original[p + 3] === 0 || fromEdge > 4 * reach + 8 || image.pixels[p + 3] !== original[p + 3]) {
        t.fail(`pixel ${x},${y} changed (alpha ${original[p + 3]}, ${fromEdge.toFixed(1)} px from the edge)`);
        return;
      }
    }
  }
  t.ok(changed > 100, `${changed} pixels changed, all visible, near the edge and inside the region; alpha untouched`);
  const stripe = ((size / 2) * size + 100) * 4;
  t.same([...image.pixels.subarray(stripe, stripe + 3)], [0, 255, 0], 'the stripe inside keeps its green');
});

t.test('a subject coloured like its background is left as it is, and so is an image with nothing to learn from', async (t) => {
  const { image } = disc(120, 8);
  const grey = (v: number) => [v, v, v];
  // Recolour: a grey subject on a slightly lighter grey.
  for (let i = 0; i < image.width * image.height; i++) {
    const a = image.pixels[i * 4 + 3]! / 255;
    image.pixels.set(grey(Math.round(a * 120 + (1 - a) * 130)), i * 4);
  }
  const original = Buffer.from(image.pixels);
  estimateForeground(image, whole(image));
  t.ok(image.pixels.equals(original), 'subject and background too alike to tell apart');

  const allSoft: DecodedImage = { format: 'png', width: 16, height: 16, hasAlpha: false, pixels: Buffer.alloc(16 * 16 * 4, 128) };
  t.equal(estimateForeground(allSoft, whole(allSoft)), 0, 'no opaque or clear pixel anywhere: nothing rewritten');
  t.ok(allSoft.pixels.every((v) => v === 128));
  t.equal(estimateForeground(allSoft, { left: 0, top: 0, width: 0, height: 0 }), 0, 'an empty region');
});

t.test('the reach grows with the image: about one and a half grid cells', async (t) => {
  t.equal(edgeReach({ width: 320, height: 200 }), 2, 'at least 2 pixels');
  t.equal(edgeReach({ width: 550, height: 830 }), 4);
  t.equal(edgeReach({ width: 4000, height: 3000 }), 19);
});

t.test('the work is the region\'s: a region twice as large rewrites about twice the edge, and nothing outside it', async (t) => {
  // (Counting pixels, not timing them: speed is measured by scripts/eval/edge-colour.ts.)
  const small = disc(200, 8).image;
  const large = disc(400, 8).image;
  const a = estimateForeground(small, whole(small));
  const b = estimateForeground(large, whole(large));
  t.ok(b > 1.5 * a && b < 3 * a, `${a} pixels at 200 px, ${b} at 400 px: the edge scales with the perimeter`);
});
