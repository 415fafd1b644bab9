// The colours of the cutout's edge without the old background.
//
// A pixel on the subject's edge is a mix, I = a F + (1 - a) B, of the subject's colour F and the old
// background's B; kept as it is, the old background shows through on any new one (green grass in a
// horse's tail, a studio's grey in fly-away hair). The model's alpha is too coarse to say how much
// of B a pixel holds: about a grid cell off either way, and after calibration a third of the truly
// mixed pixels come out opaque (measured on fashion-dev, scripts/eval/edge-colour.ts). So the mix
// is read from the colours instead, as in colour decontamination (spill suppression): near the
// edge, smooth estimates F^ and B^ of the subject's and the background's colours are taken from
// the pixels away from it, opaque ones for F^ and clear ones for B^; a pixel's colour is placed on
// the line between them, t = (I - B^).(F^ - B^) / |F^ - B^|^2, and the background's share is taken
// out, F = I + (1 - t)(F^ - B^): the part of I off that line (the pixel's own detail) stays, and a
// colour already at or beyond the subject's (t >= 1) is kept exactly, as is any where the two look
// alike. Only visible pixels within the reach of the edge (soft, or opaque meeting clear) change.
//
// The smooth estimates come from a pull-push pyramid (Gortler et al. 1996, "The Lumigraph"): known
// colours are averaged up a pyramid of 2x2 cells, and each level's holes are filled from the
// coarser one (bilinear), so every edge pixel gets the colour of the nearest known pixels at the
// scale it takes to reach them, however wide the band. Cost: one pass over the subject's region
// (reading every pixel's alpha, and the colours of every other row) into cells about the reach's
// size, the pyramid on those cells, and the work per pixel near the edge.
//
// Methods that solve for F with the model's alpha (multi-level foreground estimation, Germer et al.
// 2020; blur fusion, Forte and Pitie 2021) leave every pixel that alpha calls opaque as it is, and
// those hold half the old background's tint; a blur-fusion version of this step (same pyramid,
// the residual shared by the alpha) took off a fifth of the tint where this takes off two thirds
// (README, Quality).
import type { Box } from './compose.js';
import { dilate } from './components.js';
import { pixelWords, type DecodedImage } from './decode.js';
import { MODEL_SIZE } from './preprocess.js';

export interface ForegroundOptions {
  /** How far from the alpha's edge (pixels) colours may hold the old background; unset: edgeReach(image). */
  reach?: number;
  /** Subject and background colours closer than this (RGB distance) are not told apart: the pixel is kept. */
  separation: number;
}

export const FOREGROUND_DEFAULTS: Readonly<ForegroundOptions> = Object.freeze({ separation: 24 });

/**
 * The pyramid's base has at most this many cells (8 floats each: 32 MB). Cells are about the reach's
 * size anyway (4x4 pixels on a 1000-pixel photo, 16x16 at 12 megapixels), far fewer than this.
 */
export const MAX_BASE_CELLS = 1 << 20;

/** Channels per cell: the subject's colour and weight, then the background's. */
const CELL = 8;

interface Level {
  width: number;
  height: number;
  cells: Float32Array;
}

/** Divides each cell's sums by their weight and caps the weight at 1 (a fully known cell). */
function normalise(cells: Float32Array): void {
  for (let c = 0; c < cells.length; c += 4) {
    const w = cells[c + 3]!;
    if (w > 0) {
      cells[c] = cells[c]! / w;
      cells[c + 1] = cells[c + 1]! / w;
      cells[c + 2] = cells[c + 2]! / w;
      if (w > 1) cells[c + 3] = 1;
    }
  }
}

/** The next level up: 2x2 cells, each the weighted mean of its children. */
function pull(level: Level): Level {
  const width = (level.width + 1) >> 1;
  const height = (level.height + 1) >> 1;
  const cells = new Float32Array(width * height * CELL);
  const from = level.cells;
  for (let y = 0; y < level.height; y++) {
    const row = (y >> 1) * width;
    for (let x = 0; x < level.width; x++) {
      const c = (y * level.width + x) * CELL;
      const p = (row + (x >> 1)) * CELL;
      for (let k = 0; k < CELL; k += 4) {
        const w = from[c + k + 3]!;
        if (w === 0) continue;
        cells[p + k]! += w * from[c + k]!;
        cells[p + k + 1]! += w * from[c + k + 1]!;
        cells[p + k + 2]! += w * from[c + k + 2]!;
        cells[p + k + 3]! += w;
      }
    }
  }
  normalise(cells);
  return { width, height, cells };
}

/**
 * Fills each cell's unknown part from the (already filled) coarser level, sampled bilinearly at
 * the cell's centre; every cell is then known. Only the unknown parts' colours are sampled (most
 * cells lack one of the two), each rounded to a float as it is stored.
 */
function push(level: Level, coarser: Level): void {
  const { width, height, cells } = level;
  const { width: coarseWidth, height: coarseHeight, cells: from } = coarser;
  for (let y = 0; y < height; y++) {
    const fy = y / 2 - 0.25; // the cell's centre in the coarser level's cell coordinates
    const y0 = Math.floor(fy);
    const ty = fy - y0;
    const ya = y0 < 0 ? 0 : y0 >= coarseHeight ? coarseHeight - 1 : y0;
    const yb = y0 + 1 >= coarseHeight ? coarseHeight - 1 : y0 + 1 < 0 ? 0 : y0 + 1;
    for (let x = 0; x < width; x++) {
      const c = (y * width + x) * CELL;
      if (cells[c + 3]! >= 1 && cells[c + 7]! >= 1) continue;
      const fx = x / 2 - 0.25;
      const x0 = Math.floor(fx);
      const tx = fx - x0;
      const xa = x0 < 0 ? 0 : x0 >= coarseWidth ? coarseWidth - 1 : x0;
      const xb = x0 + 1 >= coarseWidth ? coarseWidth - 1 : x0 + 1 < 0 ? 0 : x0 + 1;
      const p00 = (ya * coarseWidth + xa) * CELL;
      const p01 = (ya * coarseWidth + xb) * CELL;
      const p10 = (yb * coarseWidth + xa) * CELL;
      const p11 = (yb * coarseWidth + xb) * CELL;
      const w00 = (1 - tx) * (1 - ty);
      const w01 = tx * (1 - ty);
      const w10 = (1 - tx) * ty;
      const w11 = tx * ty;
      for (let k = 0; k < CELL; k += 4) {
        const w = cells[c + k + 3]!;
        if (w >= 1) continue;
        const r = Math.fround(w00 * from[p00 + k]! + w01 * from[p01 + k]! + w10 * from[p10 + k]! + w11 * from[p11 + k]!);
        const g = Math.fround(w00 * from[p00 + k + 1]! + w01 * from[p01 + k + 1]! + w10 * from[p10 + k + 1]! + w11 * from[p11 + k + 1]!);
        const b = Math.fround(w00 * from[p00 + k + 2]! + w01 * from[p01 + k + 2]! + w10 * from[p10 + k + 2]! + w11 * from[p11 + k + 2]!);
        cells[c + k] = w * cells[c + k]! + (1 - w) * r;
        cells[c + k + 1] = w * cells[c + k + 1]! + (1 - w) * g;
        cells[c + k + 2] = w * cells[c + k + 2]! + (1 - w) * b;
        cells[c + k + 3] = 1;
      }
    }
  }
}

/** Pixels of the edge's reach per pixel of the model's grid cell (the model's edge is about a cell off either way). */
export const REACH_CELLS = 1.5;

/** The reach (pixels) for an image: REACH_CELLS grid cells, at least 2 pixels. */
export function edgeReach(image: { width: number; height: number }, size = MODEL_SIZE): number {
  return Math.max(2, Math.round((REACH_CELLS * Math.max(image.width, image.height)) / size));
}

/** The weight of a cell near the edge in the smooth estimates: used only where nothing else reaches. */
const FAINT = 1e-3;

const clampByte = (v: number): number => (v <= 0 ? 0 : v >= 255 ? 255 : (v + 0.5) | 0);

/**
 * Rewrites, in place, the RGB of the visible pixels of `region` near the subject's edge (within
 * about `reach` pixels of a soft pixel, or of opaque meeting clear) with the subject's estimated
 * colour; clear pixels, pixels further in or out, and everything outside `region` are left alone,
 * and so is any pixel whose colour holds nothing of the background's. The image's alpha channel
 * must hold the subject's alpha for `region`. Returns the number of pixels rewritten.
 */
export function estimateForeground(image: DecodedImage, region: Box, options: Partial<ForegroundOptions> = {}): number {
  if (region.width <= 0 || region.height <= 0) return 0;
  const layout = foregroundLayout(image, region, options);
  const sums = foregroundSums(layout);
  sumForegroundRows(image.pixels, image.width, layout, 0, region.height, sums);
  const plan = foregroundPlan(layout, sums);
  return plan ? applyForegroundRows(image.pixels, image.width, layout, plan, 0, region.height) : 0;
}

/** The cells of the smooth estimates over `region`: 2^shift pixels on a side, about the reach's size. */
export interface ForegroundLayout {
  region: Box;
  reach: number;
  separation: number;
  shift: number;
  gridWidth: number;
  gridHeight: number;
}

export function foregroundLayout(image: { width: number; height: number }, region: Box, options: Partial<ForegroundOptions> = {}): ForegroundLayout {
  const { reach = edgeReach(image), separation } = { ...FOREGROUND_DEFAULTS, ...options };
  // Cells about the reach's size, fewer than MAX_BASE_CELLS.
  let shift = 1;
  while (2 ** (shift + 1) <= reach) shift++;
  while (Math.ceil(region.width / 2 ** shift) * Math.ceil(region.height / 2 ** shift) > MAX_BASE_CELLS) shift++;
  return { region, reach, separation, shift, gridWidth: Math.ceil(region.width / 2 ** shift), gridHeight: Math.ceil(region.height / 2 ** shift) };
}

/** Each cell's colour sums and counts (CELL floats: the subject's, then the background's), and whether it holds a soft pixel. */
export interface ForegroundSums {
  cells: Float32Array;
  soft: Uint8Array;
}

export const foregroundSums = ({ gridWidth, gridHeight }: ForegroundLayout): ForegroundSums => ({
  cells: new Float32Array(gridWidth * gridHeight * CELL),
  soft: new Uint8Array(gridWidth * gridHeight),
});

/** Adds `from`'s sums to `into` (sums of integers, exact in floats, so the order does not matter). */
export function addForegroundSums(into: ForegroundSums, from: ForegroundSums): void {
  for (let i = 0; i < into.cells.length; i++) into.cells[i]! += from.cells[i]!;
  for (let i = 0; i < into.soft.length; i++) into.soft[i]! |= from.soft[i]!;
}

/** Adds the region's rows [top, bottom) (region rows) to the cells' sums. */
export function sumForegroundRows(pixels: Uint8Array, width: number, layout: ForegroundLayout, top: number, bottom: number, sums: ForegroundSums): void {
  const { region, shift, gridWidth } = layout;
  const side = 2 ** shift;
  const { cells, soft } = sums;
  // One pass over the region: each cell sums its opaque pixels' colours and its clear pixels' (on
  // every other row: a mean needs no more), and notes whether it holds a soft pixel (on every row,
  // so no strand of hair is missed).
  const words = pixelWords(pixels);
  for (let y = top; y < bottom; y++) {
    const row = (y >> shift) * gridWidth;
    let q = (region.top + y) * width + region.left;
    if ((y & 1) === 1) {
      for (let x = 0; x < region.width; x++, q++) {
        const a = words[q]! >>> 24;
        if (a !== 0 && a !== 255) soft[row + (x >> shift)] = 1;
      }
      continue;
    }
    for (let cx = 0, x = 0; cx < gridWidth; cx++) {
      const end = Math.min(region.width, x + side);
      let fr = 0, fg = 0, fb = 0, fn = 0, br = 0, bg = 0, bb = 0, bn = 0, mixed = 0;
      for (; x < end; x++, q++) {
        const v = words[q]!;
        const a = v >>> 24;
        if (a === 255) {
          fr += v & 255;
          fg += (v >>> 8) & 255;
          fb += (v >>> 16) & 255;
          fn++;
        } else if (a === 0) {
          br += v & 255;
          bg += (v >>> 8) & 255;
          bb += (v >>> 16) & 255;
          bn++;
        } else {
          mixed = 1;
        }
      }
      const c = (row + cx) * CELL;
      if (fn > 0) {
        cells[c]! += fr;
        cells[c + 1]! += fg;
        cells[c + 2]! += fb;
        cells[c + 3]! += fn;
      }
      if (bn > 0) {
        cells[c + 4]! += br;
        cells[c + 5]! += bg;
        cells[c + 6]! += bb;
        cells[c + 7]! += bn;
      }
      if (mixed) soft[row + cx] = 1;
    }
  }

}

/** The smooth estimates, and which cells are near enough the edge to be rewritten. */
export interface ForegroundPlan {
  /** The pyramid's base level, every cell known. */
  base: Float32Array;
  near: Uint8Array;
}

/** The edge cells, their reach and the pull-push pyramid, from the sums; null when there is nothing to estimate from. */
export function foregroundPlan(layout: ForegroundLayout, sums: ForegroundSums): ForegroundPlan | null {
  const { shift, gridWidth, gridHeight } = layout;
  const side = 2 ** shift;
  const count = gridWidth * gridHeight;
  const { cells, soft } = sums;
  // Edge cells: a soft pixel, or subject in a cell that holds or touches background.
  const edge = soft;
  let subject = 0;
  let background = 0;
  for (let cy = 0; cy < gridHeight; cy++) {
    for (let cx = 0; cx < gridWidth; cx++) {
      const i = cy * gridWidth + cx;
      const b = i * CELL + 7; // the background's count, in this cell and (b -/+ CELL, b -/+ rowStep) its neighbours
      const rowStep = gridWidth * CELL;
      if (cells[b]! > 0) background++;
      if (cells[i * CELL + 3]! === 0) continue;
      subject++;
      if (cells[b]! > 0 || (cx > 0 && cells[b - CELL]! > 0) || (cx + 1 < gridWidth && cells[b + CELL]! > 0) ||
        (cy > 0 && cells[b - rowStep]! > 0) || (cy + 1 < gridHeight && cells[b + rowStep]! > 0)) edge[i] = 1;
    }
  }
  // Without subject or background known anywhere, there is nothing to estimate from.
  if (subject === 0 || background === 0) return null;
  const near = dilate(edge, gridWidth, gridHeight, Math.ceil(layout.reach / side));

  // Known colours are the cells' away from the edge; near it they count faintly.
  normalise(cells);
  for (let i = 0; i < count; i++) {
    if (near[i] === 0) continue;
    cells[i * CELL + 3]! *= FAINT;
    cells[i * CELL + 7]! *= FAINT;
  }
  const levels: Level[] = [{ width: gridWidth, height: gridHeight, cells }];
  while (levels.at(-1)!.width > 1 || levels.at(-1)!.height > 1) levels.push(pull(levels.at(-1)!));
  for (let k = levels.length - 2; k >= 0; k--) push(levels[k]!, levels[k + 1]!);
  return { base: levels[0]!.cells, near };

}

/** Rewrites the colours near the edge in the region's rows [top, bottom); returns how many pixels changed. */
export function applyForegroundRows(pixels: Uint8Array, width: number, layout: ForegroundLayout, plan: ForegroundPlan, top: number, bottom: number): number {
  const { region, shift, gridWidth, gridHeight, separation } = layout;
  const side = 2 ** shift;
  // Each visible pixel of a cell near the edge: how far its colour lies from the background's
  // towards the subject's (t, 0..1), and the background's share taken out: I + (1 - t)(F - B). A
  // colour at or beyond the subject's (t = 1) is kept as it is; so is any where subject and
  // background look alike.
  const { base, near } = plan;
  const scale = 1 / side;
  const minSpread = separation * separation;
  // The base level blended down to the pixel row at hand (the subject's and the background's RGB,
  // 6 floats a cell), for the cells that row needs: each pixel then blends only across.
  const blended = new Float32Array(gridWidth * 6);
  const blendedRow = new Int32Array(gridWidth).fill(-1);
  // Where each pixel column falls between two cells (the same on every row), found once.
  const columnA = new Int32Array(region.width);
  const columnB = new Int32Array(region.width);
  const columnT = new Float64Array(region.width);
  for (let x = 0; x < region.width; x++) {
    const fx = (x + 0.5) * scale - 0.5;
    const x0 = Math.floor(fx);
    columnT[x] = fx - x0;
    columnA[x] = (x0 < 0 ? 0 : x0) * 6;
    columnB[x] = (x0 + 1 >= gridWidth ? gridWidth - 1 : x0 + 1) * 6;
  }
  let rewritten = 0;
  for (let y = top; y < bottom; y++) {
    const row = (y >> shift) * gridWidth;
    const fy = (y + 0.5) * scale - 0.5;
    const y0 = Math.floor(fy);
    const ty = fy - y0;
    const above = (y0 < 0 ? 0 : y0) * gridWidth * CELL;
    const below = (y0 + 1 >= gridHeight ? gridHeight - 1 : y0 + 1) * gridWidth * CELL;
    for (let cx = 0; cx < gridWidth; cx++) {
      if (near[row + cx] === 0) continue;
      // Its pixels blend between this cell and the one either side.
      for (let c = cx > 0 ? cx - 1 : 0, last = cx + 1 < gridWidth ? cx + 1 : cx; c <= last; c++) {
        if (blendedRow[c] === y) continue;
        blendedRow[c] = y;
        const a = above + c * CELL, b = below + c * CELL, q = c * 6;
        blended[q] = base[a]! + (base[b]! - base[a]!) * ty;
        blended[q + 1] = base[a + 1]! + (base[b + 1]! - base[a + 1]!) * ty;
        blended[q + 2] = base[a + 2]! + (base[b + 2]! - base[a + 2]!) * ty;
        blended[q + 3] = base[a + 4]! + (base[b + 4]! - base[a + 4]!) * ty;
        blended[q + 4] = base[a + 5]! + (base[b + 5]! - base[a + 5]!) * ty;
        blended[q + 5] = base[a + 6]! + (base[b + 6]! - base[a + 6]!) * ty;
      }
      const end = Math.min(region.width, (cx + 1) * side);
      let p = ((region.top + y) * width + region.left + cx * side) * 4;
      for (let x = cx * side; x < end; x++, p += 4) {
        if (pixels[p + 3] === 0) continue;
        const tx = columnT[x]!;
        const qa = columnA[x]!;
        const qb = columnB[x]!;
        const br = blended[qa + 3]! + (blended[qb + 3]! - blended[qa + 3]!) * tx;
        const bg = blended[qa + 4]! + (blended[qb + 4]! - blended[qa + 4]!) * tx;
        const bb = blended[qa + 5]! + (blended[qb + 5]! - blended[qa + 5]!) * tx;
        const dr = blended[qa]! + (blended[qb]! - blended[qa]!) * tx - br;
        const dg = blended[qa + 1]! + (blended[qb + 1]! - blended[qa + 1]!) * tx - bg;
        const db = blended[qa + 2]! + (blended[qb + 2]! - blended[qa + 2]!) * tx - bb;
        const spread = dr * dr + dg * dg + db * db;
        if (spread < minSpread) continue;
        const r = pixels[p]!, g = pixels[p + 1]!, b = pixels[p + 2]!;
        const t = ((r - br) * dr + (g - bg) * dg + (b - bb) * db) / spread;
        if (t >= 1) continue;
        const share = t <= 0 ? 1 : 1 - t;
        pixels[p] = clampByte(r + share * dr);
        pixels[p + 1] = clampByte(g + share * dg);
        pixels[p + 2] = clampByte(b + share * db);
        rewritten++;
      }
    }
  }
  return rewritten;
}
