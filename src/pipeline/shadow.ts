// A shadow made from the subject's own alpha, at the size the subject has in the result: the full
// image is never read for it. "contact" is the base of the silhouette squashed flat and blurred,
// centred on the subject's bottom edge (a product standing on a surface); "drop" is the whole
// silhouette moved down and blurred. Either is normalised so its darkest point has the asked opacity.
import sharp from 'sharp';
import type { Box } from './compose.js';

export const SHADOW_KINDS = ['none', 'contact', 'drop'] as const;
export type ShadowKind = (typeof SHADOW_KINDS)[number];

export interface ShadowOptions {
  kind: Exclude<ShadowKind, 'none'>;
  /** 0-100: the shadow's alpha at its darkest, in percent. */
  opacity: number;
}

/**
 * Shares of the subject's size, chosen by eye on the generated product shots: a drop shadow
 * falls 3 % of the subject's height and blurs over 2.5 % of its larger side; a contact shadow is
 * the lowest third of the silhouette pressed into a band 6 % of its height, blurred over half the
 * band's height.
 */
export const DROP_OFFSET = 0.03;
export const DROP_BLUR = 0.025;
export const CONTACT_BASE = 1 / 3;
export const CONTACT_BAND = 0.06;
export const CONTACT_BLUR = 0.5;

/** One band of alpha and where it goes, relative to the subject's top-left corner in the result. */
export interface ShadowLayer {
  alpha: Buffer;
  width: number;
  height: number;
  left: number;
  top: number;
}

/** The shadow of a subject given as RGBA pixels (`width` x `height`, straight alpha in band 4). */
export async function makeShadow(subject: Buffer, width: number, height: number, options: ShadowOptions): Promise<ShadowLayer> {
  const source = sharp(subject, { raw: { width, height, channels: 4 } }).extractChannel(3);
  let sigma: number;
  let shape: Buffer;
  let shapeHeight: number;
  let top: number;
  if (options.kind === 'drop') {
    sigma = Math.max(0.5, DROP_BLUR * Math.max(width, height));
    shape = await source.raw().toBuffer();
    shapeHeight = height;
    top = Math.round(DROP_OFFSET * height);
  } else {
    const base = Math.max(1, Math.round(CONTACT_BASE * height));
    shapeHeight = Math.max(2, Math.round(CONTACT_BAND * height));
    sigma = Math.max(0.5, CONTACT_BLUR * shapeHeight);
    shape = await source
      .extract({ left: 0, top: height - base, width, height: base })
      .resize(width, shapeHeight, { fit: 'fill', kernel: 'linear' })
      .raw()
      .toBuffer();
    top = height - Math.round(shapeHeight / 2);
  }
  // Room for the blur to spread: three sigmas hold all but a trace of it.
  const pad = Math.ceil(3 * sigma);
  const alpha = await sharp(shape, { raw: { width, height: shapeHeight, channels: 1 } })
    .extend({ top: pad, bottom: pad, left: pad, right: pad, background: { r: 0, g: 0, b: 0 } })
    .blur({ sigma, precision: 'float' })
    .extractChannel(0)
    .raw()
    .toBuffer();
  scalePeak(alpha, Math.round((options.opacity / 100) * 255));
  return { alpha, width: width + 2 * pad, height: shapeHeight + 2 * pad, left: -pad, top: top - pad };
}

/** Scales `alpha` in place so its highest value becomes `peak` (all zero stays zero). */
export function scalePeak(alpha: Uint8Array, peak: number): void {
  let high = 0;
  for (let i = 0; i < alpha.length; i++) if (alpha[i]! > high) high = alpha[i]!;
  if (high === 0) return;
  const scale = peak / high;
  for (let i = 0; i < alpha.length; i++) alpha[i] = Math.round(alpha[i]! * scale);
}

/**
 * The shadow as translucent black RGBA, clipped to a `width` x `height` result in which the subject
 * sits at `subject`; null when none of it falls inside.
 */
export function shadowOverlay(shadow: ShadowLayer, subject: Box, width: number, height: number): { pixels: Buffer; box: Box } | null {
  const left = subject.left + shadow.left;
  const top = subject.top + shadow.top;
  const x0 = Math.max(0, left);
  const y0 = Math.max(0, top);
  const x1 = Math.min(width, left + shadow.width);
  const y1 = Math.min(height, top + shadow.height);
  if (x1 <= x0 || y1 <= y0) return null;
  const w = x1 - x0;
  const h = y1 - y0;
  const pixels = Buffer.alloc(w * h * 4); // black, and alpha written below
  for (let y = 0; y < h; y++) {
    let from = (y0 - top + y) * shadow.width + (x0 - left);
    let to = y * w * 4 + 3;
    for (let x = 0; x < w; x++, from++, to += 4) pixels[to] = shadow.alpha[from]!;
  }
  return { pixels, box: { left: x0, top: y0, width: w, height: h } };
}
