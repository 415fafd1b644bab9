// The cutout: the original colours with the subject's alpha, cropped to the subject.
//
// The decoded image's own alpha channel receives the subject's alpha (multiplied by whatever alpha
// the input had, so nothing the input hid shows), and libvips crops and encodes from that buffer.
// Resizing the mask and writing it happen in one pass over the subject's region only: at 12
// megapixels that is about three times faster than a libvips resize followed by a separate pass.
// Colours stay straight (not premultiplied): a pixel keeps its own RGB whatever its alpha, so edges
// composite onto any background without the dark fringe that premultiplied colour leaves.
import type { DecodedImage } from './decode.js';
import { MODEL_SIZE } from './preprocess.js';
import { bilinearTaps } from './resample.js';

/**
 * Alpha at or below this (about 2 %) counts as background: it is invisible, but left in place such
 * faint leftovers would stretch the crop box to the image's edges.
 */
export const ALPHA_FLOOR = 5;

export interface Box {
  left: number;
  top: number;
  width: number;
  height: number;
}

/**
 * Resizes the subject's grid (bilinear, as the reference) to the image's size, for `region` only,
 * and writes the result into the image's alpha channel in the same pass: multiplied by the alpha
 * already there, faint values cleared. Returns the bounding box of what is left, or null when
 * nothing is. Pixels outside `region` are not touched.
 */
export function applySubjectAlpha(image: DecodedImage, grid: Uint8Array, region: Box, size = MODEL_SIZE): Box | null {
  const { pixels, width, height, hasAlpha } = image;
  const across = bilinearTaps(size, width, region.left, region.left + region.width);
  const down = bilinearTaps(size, height, region.top, region.top + region.height);
  // Only the grid columns the region's taps read need blending.
  const firstColumn = across.start[0]!;
  const lastColumn = across.start[region.width - 1]! + across.count[region.width - 1]!;
  const row = new Float32Array(size);

  let minX = Infinity, minY = Infinity, maxX = -1, maxY = -1;
  for (let y = 0; y < region.height; y++) {
    row.fill(0, firstColumn, lastColumn);
    for (let k = 0; k < down.count[y]!; k++) {
      const weight = down.weights[y * down.stride + k]!;
      const gridRow = (down.start[y]! + k) * size;
      for (let x = firstColumn; x < lastColumn; x++) row[x]! += weight * grid[gridRow + x]!;
    }
    let p = ((region.top + y) * width + region.left) * 4 + 3;
    for (let x = 0; x < region.width; x++, p += 4) {
      const start = across.start[x]!;
      const base = x * across.stride;
      // Enlarging (the usual case) reads two samples; shrinking reads more.
      let sum = across.weights[base]! * row[start]! + across.weights[base + 1]! * (row[start + 1] ?? 0);
      for (let k = 2; k < across.count[x]!; k++) sum += across.weights[base + k]! * row[start + k]!;
      let value = (sum + 0.5) | 0;
      if (hasAlpha) value = (pixels[p]! * value + 127) / 255 | 0;
      if (value <= ALPHA_FLOOR) {
        pixels[p] = 0;
        continue;
      }
      pixels[p] = value;
      if (x < minX) minX = x;
      if (x > maxX) maxX = x;
      if (y < minY) minY = y;
      if (y > maxY) maxY = y;
    }
  }
  if (maxX < 0) return null;
  return { left: region.left + minX, top: region.top + minY, width: maxX - minX + 1, height: maxY - minY + 1 };
}

/**
 * Makes `box` ready for a transparent encoding: pixels outside `region` (beyond the subject's
 * reach) become fully transparent, and every fully transparent pixel loses its colour (0, 0, 0, 0).
 * Invisible either way, but runs of zeros cost zlib almost nothing: a 6-megapixel cutout encodes
 * three times faster and into a third of the bytes. Colours a compositing step still needs (a blurred
 * background) must be taken before this.
 */
export function clearHidden(image: { pixels: Uint8Array; width: number }, region: Box, box: Box): void {
  const { pixels } = image;
  const { from, to } = clearOutside(image, region, box);
  for (let y = Math.max(box.top, region.top); y < Math.min(box.top + box.height, region.top + region.height); y++) {
    for (let p = rowStart(image, y, from) + 3; p < rowStart(image, y, to); p += 4) {
      if (pixels[p] === 0) pixels[p - 3] = pixels[p - 2] = pixels[p - 1] = 0;
    }
  }
}

const rowStart = (image: { width: number }, y: number, x: number) => (y * image.width + x) * 4;

/**
 * The first half of clearHidden: the pixels of `box` outside `region` become (0, 0, 0, 0). Returns
 * the columns [from, to) of the box that lie inside the region, where hidden pixels are left with
 * their colour (png.ts encodes them as zeros itself).
 */
export function clearOutside(image: { pixels: Uint8Array; width: number }, region: Box, box: Box): { from: number; to: number } {
  const { pixels } = image;
  const boxRight = box.left + box.width;
  const from = Math.min(Math.max(region.left, box.left), boxRight);
  const to = Math.max(Math.min(region.left + region.width, boxRight), from);
  for (let y = box.top; y < box.top + box.height; y++) {
    if (y < region.top || y >= region.top + region.height) {
      pixels.fill(0, rowStart(image, y, box.left), rowStart(image, y, boxRight));
      continue;
    }
    pixels.fill(0, rowStart(image, y, box.left), rowStart(image, y, from));
    pixels.fill(0, rowStart(image, y, to), rowStart(image, y, boxRight));
  }
  return { from, to };
}

/** The rows [top, bottom) of `box`, as a box: what one thread clears of it (row-pool.ts). */
export const boxRows = (box: Box, top: number, bottom: number): Box => ({ left: box.left, top: box.top + top, width: box.width, height: bottom - top });

/** Padding around the subject's box: pixels, or a percentage of the box's larger side. */
export type Margin = number | { percent: number };

/**
 * The margin in pixels for a subject's box. A percentage is of the box's larger side and the same on
 * every side, so the padding looks even around tall and wide subjects alike.
 */
export function marginPixels(margin: Margin, box: Box): number {
  return typeof margin === 'number' ? margin : Math.round((margin.percent / 100) * Math.max(box.width, box.height));
}

/** The box grown by `margin` pixels on every side, clamped to the image. */
export function padBox(box: Box, margin: number, width: number, height: number): Box {
  const left = Math.max(0, box.left - margin);
  const top = Math.max(0, box.top - margin);
  const right = Math.min(width, box.left + box.width + margin);
  const bottom = Math.min(height, box.top + box.height + margin);
  return { left, top, width: right - left, height: bottom - top };
}
