// The cutout: the original colours with the subject's alpha, cropped to the subject.
//
// Colours stay straight (not premultiplied): a pixel keeps its own RGB whatever its alpha, so edges
// composite onto any background without the dark fringe that premultiplied colour leaves.
import type { DecodedImage } from './decode.js';

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
 * Sets alpha at or below ALPHA_FLOOR to 0 (in place) and returns the bounding box of what is left,
 * or null when nothing is.
 */
export function clearFaintAndBound(alpha: Uint8Array, width: number, height: number): Box | null {
  let minX = width, minY = height, maxX = -1, maxY = -1;
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let x = 0; x < width; x++) {
      if (alpha[row + x]! <= ALPHA_FLOOR) {
        alpha[row + x] = 0;
        continue;
      }
      if (x < minX) minX = x;
      if (x > maxX) maxX = x;
      if (y < minY) minY = y;
      if (y > maxY) maxY = y;
    }
  }
  if (maxX < 0) return null;
  return { left: minX, top: minY, width: maxX - minX + 1, height: maxY - minY + 1 };
}

/** The box grown by `margin` pixels on every side, clamped to the image. */
export function padBox(box: Box, margin: number, width: number, height: number): Box {
  const left = Math.max(0, box.left - margin);
  const top = Math.max(0, box.top - margin);
  const right = Math.min(width, box.left + box.width + margin);
  const bottom = Math.min(height, box.top + box.height + margin);
  return { left, top, width: right - left, height: bottom - top };
}

/**
 * Multiplies the subject's alpha (in place) by the input's own alpha, when it has one, so the
 * output never shows what the input hid.
 */
export function applyOwnAlpha(image: DecodedImage, alpha: Uint8Array): void {
  if (image.channels !== 4) return;
  const { pixels } = image;
  for (let a = 0, p = 3; a < alpha.length; a++, p += 4) alpha[a] = (pixels[p]! * alpha[a]! + 127) / 255 | 0;
}

/** RGBA pixels of `box`: the image's colours with `alpha`. */
export function cutoutPixels(image: DecodedImage, alpha: Uint8Array, box: Box): Buffer {
  const out = Buffer.allocUnsafe(box.width * box.height * 4);
  const { pixels, channels, width } = image;
  let o = 0;
  for (let y = box.top; y < box.top + box.height; y++) {
    let a = y * width + box.left;
    let p = a * channels;
    for (let x = 0; x < box.width; x++, a++, p += channels) {
      out[o++] = pixels[p]!;
      out[o++] = pixels[p + 1]!;
      out[o++] = pixels[p + 2]!;
      out[o++] = alpha[a]!;
    }
  }
  return out;
}

/** The alpha of `box` alone, one byte per pixel (the mask as a greyscale image). */
export function maskPixels(alpha: Uint8Array, width: number, box: Box): Buffer {
  const out = Buffer.allocUnsafe(box.width * box.height);
  for (let y = 0; y < box.height; y++) {
    const from = (box.top + y) * width + box.left;
    out.set(alpha.subarray(from, from + box.width), y * box.width);
  }
  return out;
}
