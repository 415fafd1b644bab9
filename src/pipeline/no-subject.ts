// Whether an image has anything to cut out at all.
//
// Min-max normalisation stretches any saliency map to 0..1, so an image without a subject would
// otherwise come out as a mask of amplified noise. But the model's map alone cannot tell an empty
// image from a photo the model does not understand: a landscape whose salient bridge it misses
// peaks at 0.17, lower than blurred noise (0.22) or clouds (0.32). So a refusal needs two things:
// the model sees nothing (no raw value reaches the half-way line, SUBJECT_LEVEL), and the image
// itself holds nothing that could stand out: it has almost no edges (blank, flat colour,
// gradients, sky, clouds, smooth noise) or it is the same everywhere (noise of any strength, fine
// blurred noise: every block of the image has the same brightness). Everything else is answered
// with a cutout: when the map cannot tell, the user gets what the model found, not a refusal.
// Measured on the dev sets, the official images and generated negatives (README, "When is there no subject?").
import { MODEL_SIZE } from './preprocess.js';

/** The model marks something as more likely subject than not: a subject, as far as the map goes. */
export const SUBJECT_LEVEL = 0.5;
/** A step of at least this many grey levels between a pixel's two neighbours (central difference, halved) is an edge. */
export const EDGE_STEP = 16;
/** Under this share of edge pixels the image is smooth. Photos measured 0.021 and more; blurred noise 0.003. */
export const MIN_EDGE_SHARE = 0.01;
/** The image is cut into BLOCKS x BLOCKS blocks to see whether it changes from place to place. */
export const BLOCKS = 4;
/**
 * Under this spread of the blocks' mean brightness (relative to their mean contrast) the image is
 * the same everywhere. Photos measured 0.23 and more; noise 0.01, fine blurred noise 0.07.
 */
export const MIN_VARIATION = 0.15;

export interface ImageFigures {
  /** Share of the model view's pixels on an edge (see EDGE_STEP). */
  edgeShare: number;
  /** Standard deviation of the blocks' mean grey over the blocks' mean standard deviation. */
  variation: number;
}

/** The figures of the model's view of the image (MODEL_SIZE x MODEL_SIZE interleaved RGB). */
export function imageFigures(rgb: Uint8Array, size = MODEL_SIZE): ImageFigures {
  const grey = new Float32Array(size * size);
  for (let i = 0, p = 0; i < grey.length; i++, p += 3) grey[i] = 0.299 * rgb[p]! + 0.587 * rgb[p + 1]! + 0.114 * rgb[p + 2]!;

  let edges = 0;
  const limit = (2 * EDGE_STEP) ** 2;
  for (let y = 1; y < size - 1; y++) {
    for (let x = 1, i = y * size + 1; x < size - 1; x++, i++) {
      const dx = grey[i + 1]! - grey[i - 1]!;
      const dy = grey[i + size]! - grey[i - size]!;
      if (dx * dx + dy * dy > limit) edges++;
    }
  }

  const side = Math.floor(size / BLOCKS);
  const means = new Float64Array(BLOCKS * BLOCKS);
  let contrast = 0;
  for (let b = 0; b < means.length; b++) {
    const top = Math.floor(b / BLOCKS) * side;
    const left = (b % BLOCKS) * side;
    let sum = 0, squares = 0;
    for (let y = top; y < top + side; y++) {
      for (let x = left; x < left + side; x++) {
        const v = grey[y * size + x]!;
        sum += v;
        squares += v * v;
      }
    }
    const n = side * side;
    means[b] = sum / n;
    contrast += Math.sqrt(Math.max(0, squares / n - (sum / n) ** 2)) / means.length;
  }
  let meanOfMeans = 0;
  for (const m of means) meanOfMeans += m / means.length;
  let spread = 0;
  for (const m of means) spread += (m - meanOfMeans) ** 2 / means.length;
  // Contrast is floored at one grey level: a flat image is the same everywhere (0), an image of flat
  // blocks that differ is not.
  const variation = Math.sqrt(spread) / Math.max(contrast, 1);
  return { edgeShare: edges / ((size - 2) * (size - 2)), variation };
}

/**
 * Whether to answer with a cutout: `peak` is the raw map's highest value, `figures` the image's
 * (a function, so they are computed only for the few images whose map needs them).
 */
export function hasSubject(peak: number, figures: () => ImageFigures): boolean {
  if (peak >= SUBJECT_LEVEL) return true;
  const { edgeShare, variation } = figures();
  return edgeShare >= MIN_EDGE_SHARE && variation >= MIN_VARIATION;
}
