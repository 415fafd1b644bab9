// What the service does to the model's soft alpha beyond the reference: calibration on the grid,
// and an edge-aware filter that uses the full-resolution image where it holds more than the grid.
//
// Calibration: the model's soft ramps are wide (a few grid cells, so up to ten pixels on a large
// photo); stretching them so that ALPHA_LEVELS.high and above is opaque and ALPHA_LEVELS.low and
// below transparent makes the edge steeper and the inside solid, while keeping the model's own
// half-way line (0.5 stays 0.5), where its training put the boundary between subject and
// background. Moving that line outwards (levels 0.05 and 0.5, measured before) made unsure parts
// solid on salient-object photos but turned the shadow at a person's feet and the haze around hair
// opaque: it cost 0.008 IoU on the street-fashion set (README, Quality).
//
// Edge filter: a guided filter (He, Sun and Tang) of the alpha with the image's luma as the guide,
// so the alpha's edge follows the image's own edges within about a grid cell, then stretched again
// (EDGE_LEVELS) to clear the faint tails the filter leaves. Its coefficients are
// computed at a working resolution of about two pixels per grid cell (at most 2 x MODEL_SIZE on the
// long side, whatever the image's size) with box filters made of running sums, then applied at
// full resolution in one pass over the subject's region. Only for images with MIN_EDGE_SCALE or
// more pixels per grid cell along their long side: below that the grid already resolves what the
// image shows, and the filter measured worse on the dev set (README, Quality).
import { ALPHA_FLOOR, type Box } from './compose.js';
import { pixelWords, type DecodedImage } from './decode.js';
import { MODEL_SIZE } from './preprocess.js';

/** The calibration's levels, on the 0..1 scale of the normalised map (README, Quality). */
export const ALPHA_LEVELS = { low: 0.25, high: 0.75 } as const;

/** Stretches the grid's values in place: `low` and below become 0, `high` and above 255. */
export function calibrateGrid(grid: Uint8Array, low: number = ALPHA_LEVELS.low, high: number = ALPHA_LEVELS.high): Uint8Array {
  const table = new Uint8Array(256);
  for (let v = 0; v < 256; v++) table[v] = Math.round(255 * Math.min(1, Math.max(0, (v / 255 - low) / (high - low))));
  for (let i = 0; i < grid.length; i++) grid[i] = table[grid[i]!]!;
  return grid;
}

/** The edge filter runs on images whose long side spans at least this many pixels per grid cell. */
export const MIN_EDGE_SCALE = 2;
/** Guided filter regulariser on luma in 0..1: edges with a local contrast under about 0.03 are smoothed over. */
export const EDGE_EPSILON = 1e-3;
/**
 * The filter's output is stretched again, from these levels to 0 and 1: the filter puts a step at
 * the image's edge but leaves a faint tail a window wide on each side, which this clears.
 */
export const EDGE_LEVELS = { low: 0.25, high: 0.75 } as const;

/** Whether refineEdges has anything to add for this image. */
export function wantsEdgeFilter(image: DecodedImage, size = MODEL_SIZE): boolean {
  // Inputs with transparency keep the grid's edge: the filter would need their original alpha,
  // which the subject's alpha has already been multiplied into.
  return !image.hasAlpha && Math.max(image.width, image.height) / size >= MIN_EDGE_SCALE;
}

/**
 * Writes the subject's alpha for `region` into the image's alpha channel: the calibrated `grid`
 * (size x size) guided-filtered with the image's luma as the guide. Returns the bounding box of the
 * alpha left above ALPHA_FLOOR (null when none is). Pixels outside `region` are not touched.
 *
 * The filter needs the alpha only at its working resolution, where the grid resized bilinearly is
 * sampled directly; so the alpha is written once, by the filter, and the image is read twice (its
 * luma at the working resolution, then where the edge lies).
 */
export function refineEdges(image: DecodedImage, grid: Uint8Array, region: Box, size = MODEL_SIZE): Box | null {
  const geometry = edgeGeometry(image, region, size);
  const guide = new Float32Array(geometry.w * geometry.h);
  sumGuideRows(image.pixels, image.width, region, geometry, 0, region.height, guide);
  const plan = edgePlan(guide, grid, region, image, geometry, size);
  return edgeBox(region, applyEdgeRows(image.pixels, image.width, plan, 0, region.height));
}

/** The working resolution for `region`: `step` image pixels a working pixel, a window `radius` working pixels. */
export interface EdgeGeometry {
  step: number;
  radius: number;
  /** The working plane's size. */
  w: number;
  h: number;
}

export function edgeGeometry(image: { width: number; height: number }, region: Box, size = MODEL_SIZE): EdgeGeometry {
  const scale = Math.max(image.width, image.height) / size; // image pixels per grid cell
  const step = Math.ceil(scale / 2); // image pixels per working pixel: the working image is at most 2 * size across
  const radius = Math.max(1, Math.round(scale / step)); // one grid cell, in working pixels
  return { step, radius, w: Math.ceil(region.width / step), h: Math.ceil(region.height / step) };
}

/**
 * Adds the luma sums of the region's rows [top, bottom) (region rows) to `guide`, a block of `step`
 * pixels to a working pixel: each channel summed (in integers, a whole pixel read at a time) along
 * a row, weighted once per block. Rows split at multiples of `step` add to disjoint working rows.
 */
export function sumGuideRows(pixels: Uint8Array, width: number, region: Box, geometry: EdgeGeometry, top: number, bottom: number, guide: Float32Array): void {
  const { step, w } = geometry;
  const words = pixelWords(pixels);
  for (let y = top; y < bottom; y++) {
    const row = ((y / step) | 0) * w;
    let q = (region.top + y) * width + region.left;
    for (let j = 0, x = 0; j < w; j++) {
      const end = Math.min(region.width, x + step);
      let red = 0, green = 0, blue = 0;
      for (; x < end; x++, q++) {
        const v = words[q]!;
        red += v & 255;
        green += (v >>> 8) & 255;
        blue += (v >>> 16) & 255;
      }
      guide[row + j]! += 0.299 * red + 0.587 * green + 0.114 * blue;
    }
  }
}

/** The filter's coefficients on the working plane, with the output levels still to fold in. */
export interface EdgePlan {
  region: Box;
  geometry: EdgeGeometry;
  /** Window means of the coefficients: alpha ~ meanA * luma + meanB (luma and alpha in 0..1). */
  meanA: Float32Array;
  meanB: Float32Array;
}

/**
 * The guided filter on the working plane, from the luma sums (see sumGuideRows, which `guide`
 * holds; it is overwritten) and the calibrated grid.
 */
export function edgePlan(guide: Float32Array, grid: Uint8Array, region: Box, image: { width: number; height: number }, geometry: EdgeGeometry, size = MODEL_SIZE): EdgePlan {
  const { step, radius, w, h } = geometry;
  const n = w * h;
  const columnPixels = new Float64Array(w);
  for (let x = 0; x < w; x++) columnPixels[x] = Math.min(step, region.width - x * step);
  for (let y = 0; y < h; y++) {
    const rowScale = 255 * Math.min(step, region.height - y * step);
    for (let x = 0, i = y * w; x < w; x++, i++) guide[i]! /= rowScale * columnPixels[x]!;
  }

  // The alpha (0..1) at the centre of each working block: the grid resized bilinearly (Pillow's
  // pixel centres), which on a linear ramp is also the block's mean.
  const alpha = new Float32Array(n);
  const gridAt = (pixel: number, length: number) => {
    const at = Math.min(size - 1, Math.max(0, ((pixel + 0.5) * size) / length - 0.5));
    const first = Math.min(size - 2, Math.floor(at));
    return { first, weight: at - first };
  };
  const columnFirst = new Int32Array(w);
  const columnWeight = new Float64Array(w);
  for (let j = 0; j < w; j++) {
    const { first, weight } = gridAt(region.left + Math.min(region.width, j * step + step / 2) - 0.5, image.width);
    columnFirst[j] = first;
    columnWeight[j] = weight;
  }
  for (let i = 0; i < h; i++) {
    const { first: y0, weight: ty } = gridAt(region.top + Math.min(region.height, i * step + step / 2) - 0.5, image.height);
    const above = y0 * size;
    const below = above + size;
    for (let j = 0, k = i * w; j < w; j++, k++) {
      const x0 = columnFirst[j]!;
      const tx = columnWeight[j]!;
      const top = grid[above + x0]! + (grid[above + x0 + 1]! - grid[above + x0]!) * tx;
      const bottom = grid[below + x0]! + (grid[below + x0 + 1]! - grid[below + x0]!) * tx;
      alpha[k] = (top + (bottom - top) * ty) / 255;
    }
  }

  // Six planes in all: each box mean's source takes its result (boxMeans reads a source in its first
  // pass only), and a plane takes the next value once the last is read.
  const guideAlpha = new Float32Array(n);
  const guideSquared = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    guideAlpha[i] = guide[i]! * alpha[i]!;
    guideSquared[i] = guide[i]! * guide[i]!;
  }
  const scratch: [Float32Array, Float32Array] = [new Float32Array(n), new Float32Array(n)];
  const [meanI, meanP] = boxMeans([guide, alpha], [guide, alpha], scratch, w, h, radius);
  const [meanIP, meanII] = boxMeans([guideAlpha, guideSquared], [guideAlpha, guideSquared], scratch, w, h, radius);
  // alpha ~ a * luma + b in every window.
  const a = meanIP;
  const b = meanII;
  for (let i = 0; i < n; i++) {
    const variance = meanII[i]! - meanI[i]! * meanI[i]!;
    a[i] = (meanIP[i]! - meanI[i]! * meanP[i]!) / (variance + EDGE_EPSILON);
    b[i] = meanP[i]! - a[i]! * meanI[i]!;
  }
  const [meanA, meanB] = boxMeans([a, b], [a, b], scratch, w, h, radius);

  return { region, geometry, meanA, meanB };
}

/** The box (image pixels) of the bounds applyEdgeRows found, or null for none. */
export function edgeBox(region: Box, bounds: EdgeBounds | null): Box | null {
  if (!bounds) return null;
  const [minX, minY, maxX, maxY] = bounds;
  return { left: region.left + minX, top: region.top + minY, width: maxX - minX + 1, height: maxY - minY + 1 };
}

// Filter outputs (0..255 scale) below this round to ALPHA_FLOOR or less, and are cleared; above
// OPAQUE_ABOVE they round to 255 or more (applyEdgeRows), each with a margin for float rounding.
const CLEAR_BELOW = ALPHA_FLOOR + 0.5 - 1e-6;
const OPAQUE_ABOVE = 254.5 + 1e-6;

/** [minX, minY, maxX, maxY] of the visible alpha, in region pixels. */
export type EdgeBounds = [number, number, number, number];

/** The union of two rows' worth of bounds. */
export function joinBounds(a: EdgeBounds | null, b: EdgeBounds | null): EdgeBounds | null {
  if (!a || !b) return a ?? b;
  return [Math.min(a[0], b[0]), Math.min(a[1], b[1]), Math.max(a[2], b[2]), Math.max(a[3], b[3])];
}

/**
 * Writes the filtered alpha of the region's rows [top, bottom) (region rows) at full resolution;
 * returns the bounds of what is left visible there, or null.
 */
export function applyEdgeRows(pixels: Uint8Array, width: number, plan: EdgePlan, top: number, bottom: number): EdgeBounds | null {
  const { region, meanA, meanB } = plan;
  const { step, w, h } = plan.geometry;
  const words = pixelWords(pixels);
  // Bilinear positions of the full-resolution pixels on the working grid (centres aligned).
  const column0 = new Int32Array(region.width);
  const columnT = new Float32Array(region.width);
  for (let x = 0; x < region.width; x++) {
    const at = Math.min(w - 1, Math.max(0, (x + 0.5) / step - 0.5));
    column0[x] = Math.max(0, Math.min(w - 2, Math.floor(at)));
    columnT[x] = Math.min(1, at - column0[x]!);
  }
  // The runs of pixels between the same two working columns are the same on every row: their
  // ends, found once (column0 never decreases), instead of a search on each row.
  const runEnds = new Int32Array(region.width);
  for (let x = region.width - 1; x >= 0; x--) runEnds[x] = x + 1 < region.width && column0[x + 1] === column0[x] ? runEnds[x + 1]! : x + 1;
  const gain = 255 / (EDGE_LEVELS.high - EDGE_LEVELS.low);
  const shift = gain * EDGE_LEVELS.low;
  // One working row pair blended down, with the output levels folded in, so that on the 0..255
  // scale alpha = rowA * luma + rowB, blended across between working columns.
  const rowA = new Float32Array(w + 1);
  const rowB = new Float32Array(w + 1);
  let minX = Infinity, minY = Infinity, maxX = -1, maxY = -1;
  for (let y = top; y < bottom; y++) {
    const at = Math.min(h - 1, Math.max(0, (y + 0.5) / step - 0.5));
    const y0 = Math.min(Math.max(0, h - 2), Math.floor(at));
    const y1 = Math.min(h - 1, y0 + 1);
    const ty = Math.min(1, at - y0);
    for (let x = 0; x < w; x++) {
      rowA[x] = (gain / 255) * (meanA[y0 * w + x]! + (meanA[y1 * w + x]! - meanA[y0 * w + x]!) * ty);
      rowB[x] = gain * (meanB[y0 * w + x]! + (meanB[y1 * w + x]! - meanB[y0 * w + x]!) * ty) - shift;
    }
    rowA[w] = rowA[w - 1]!; // a one-column plane blends with itself
    rowB[w] = rowB[w - 1]!;
    let first = -1;
    let last = -1;
    const base = ((region.top + y) * width + region.left) * 4;
    // A run of pixels between the same two working columns at a time. The value is bilinear in
    // the position between the columns (0..1) and the luma (0..255), so its extremes over the run
    // are at those four corners: where they all round to clear, or all to opaque, which is most of a
    // region, the run is filled without computing a pixel (a margin of 1e-6 leaves the borderline
    // runs to the exact path).
    for (let start = 0; start < region.width; ) {
      const x0 = column0[start]!;
      const end = runEnds[start]!;
      const a0 = rowA[x0]!, a1 = rowA[x0 + 1]!, b0 = rowB[x0]!, b1 = rowB[x0 + 1]!;
      const high0 = a0 > 0 ? b0 + 255 * a0 : b0, high1 = a1 > 0 ? b1 + 255 * a1 : b1;
      const low0 = a0 < 0 ? b0 + 255 * a0 : b0, low1 = a1 < 0 ? b1 + 255 * a1 : b1;
      const clear = high0 < CLEAR_BELOW && high1 < CLEAR_BELOW;
      if (clear || (low0 > OPAQUE_ABOVE && low1 > OPAQUE_ABOVE)) {
        const fill = clear ? 0 : 255;
        for (let p = base + start * 4 + 3; p < base + end * 4; p += 4) pixels[p] = fill;
        if (fill === 255) {
          if (first < 0) first = start;
          last = end - 1;
        }
        start = end;
        continue;
      }
      for (let x = start, p = base + start * 4; x < end; x++, p += 4) {
        const tx = columnT[x]!;
        const v = words[p >> 2]!;
        const luma = 0.299 * (v & 255) + 0.587 * ((v >>> 8) & 255) + 0.114 * ((v >>> 16) & 255);
        // Rounded as Math.round would (which costs a quarter of this loop), except just below 0.5,
        // where either way the pixel is cleared.
        const value = Math.floor((a0 + (a1 - a0) * tx) * luma + b0 + (b1 - b0) * tx + 0.5);
        if (value <= ALPHA_FLOOR) {
          pixels[p + 3] = 0;
          continue;
        }
        pixels[p + 3] = value > 255 ? 255 : value;
        if (first < 0) first = x;
        last = x;
      }
      start = end;
    }
    if (first < 0) continue;
    if (first < minX) minX = first;
    if (last > maxX) maxX = last;
    if (minY === Infinity) minY = y;
    maxY = y;
  }
  return maxX < 0 ? null : [minX, minY, maxX, maxY];
}

/**
 * Means over the (2 * radius + 1)^2 window around each sample of two planes at once (the filter
 * needs them in pairs; one loop over both costs less than two), each window cut to the plane at
 * its borders. Two passes of running sums, so the cost does not depend on the radius. The second
 * pass keeps one running sum per column and walks the plane row by row, in memory order; each
 * window's size is a reciprocal computed once (twice as fast as a column walk dividing every
 * sample). Each plane's arithmetic is what a pass over it alone would do. A target may be its own
 * source (the source is read in the first pass only), but not a plane of `rows`. Returns the targets.
 */
export function boxMeans(
  [first, second]: readonly [Float32Array, Float32Array],
  [firstTarget, secondTarget]: readonly [Float32Array, Float32Array],
  [firstRows, secondRows]: readonly [Float32Array, Float32Array],
  w: number,
  h: number,
  radius: number,
): [Float32Array, Float32Array] {
  const inverseX = new Float64Array(w);
  for (let x = 0; x < w; x++) inverseX[x] = 1 / (Math.min(w - 1, x + radius) - Math.max(0, x - radius) + 1);
  const inverseWhole = 1 / (2 * radius + 1); // inverseX's value wherever the window is whole
  const head = Math.min(radius, w);
  for (let y = 0; y < h; y++) {
    const row = y * w;
    let sum1 = 0;
    let sum2 = 0;
    for (let x = 0; x < head; x++) {
      sum1 += first[row + x]!;
      sum2 += second[row + x]!;
    }
    // The window grows in at the left, slides, then shrinks out at the right.
    let x = 0;
    for (; x < w && x <= radius; x++) {
      if (x + radius < w) {
        sum1 += first[row + x + radius]!;
        sum2 += second[row + x + radius]!;
      }
      firstRows[row + x] = sum1 * inverseX[x]!;
      secondRows[row + x] = sum2 * inverseX[x]!;
    }
    for (; x + radius < w; x++) {
      const i = row + x;
      sum1 += first[i + radius]! - first[i - radius - 1]!;
      sum2 += second[i + radius]! - second[i - radius - 1]!;
      firstRows[i] = sum1 * inverseWhole;
      secondRows[i] = sum2 * inverseWhole;
    }
    for (; x < w; x++) {
      sum1 -= first[row + x - radius - 1]!;
      sum2 -= second[row + x - radius - 1]!;
      firstRows[row + x] = sum1 * inverseX[x]!;
      secondRows[row + x] = sum2 * inverseX[x]!;
    }
  }
  const sums1 = new Float64Array(w);
  const sums2 = new Float64Array(w);
  for (let y = 0; y < Math.min(radius, h); y++) {
    for (let x = 0; x < w; x++) {
      sums1[x]! += firstRows[y * w + x]!;
      sums2[x]! += secondRows[y * w + x]!;
    }
  }
  for (let y = 0; y < h; y++) {
    const added = y + radius < h ? (y + radius) * w : -1;
    const dropped = y - radius - 1 >= 0 ? (y - radius - 1) * w : -1;
    const inverse = 1 / (Math.min(h - 1, y + radius) - Math.max(0, y - radius) + 1);
    const row = y * w;
    if (added >= 0 && dropped >= 0) {
      for (let x = 0; x < w; x++) {
        const sum1 = sums1[x]! + firstRows[added + x]! - firstRows[dropped + x]!;
        sums1[x] = sum1;
        firstTarget[row + x] = sum1 * inverse;
        const sum2 = sums2[x]! + secondRows[added + x]! - secondRows[dropped + x]!;
        sums2[x] = sum2;
        secondTarget[row + x] = sum2 * inverse;
      }
      continue;
    }
    if (added >= 0) {
      for (let x = 0; x < w; x++) {
        sums1[x]! += firstRows[added + x]!;
        sums2[x]! += secondRows[added + x]!;
      }
    }
    if (dropped >= 0) {
      for (let x = 0; x < w; x++) {
        sums1[x]! -= firstRows[dropped + x]!;
        sums2[x]! -= secondRows[dropped + x]!;
      }
    }
    for (let x = 0; x < w; x++) {
      firstTarget[row + x] = sums1[x]! * inverse;
      secondTarget[row + x] = sums2[x]! * inverse;
    }
  }
  return [firstTarget, secondTarget];
}
