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
/** The sigma (pixels) wide blurs are made at, on a shrunk copy (see makeShadow). */
export const BLUR_SIGMA_WORKING = 4;

/** The shadow's shape before blurring, and where its layer lies relative to the subject (`box`). */
export interface ShadowGeometry {
  sigma: number;
  /** Room left on every side of the shape for the blur to spread: three sigmas hold all but a trace of it. */
  pad: number;
  /** Rows of the shape (the silhouette's, or the squashed band's). */
  shapeHeight: number;
  box: Box;
}

/** Where the shadow of a `width` x `height` subject goes, known before any pixel is read. */
export function shadowGeometry(width: number, height: number, kind: ShadowOptions['kind']): ShadowGeometry {
  const shapeHeight = kind === 'drop' ? height : Math.max(2, Math.round(CONTACT_BAND * height));
  const sigma = Math.max(0.5, kind === 'drop' ? DROP_BLUR * Math.max(width, height) : CONTACT_BLUR * shapeHeight);
  const top = kind === 'drop' ? Math.round(DROP_OFFSET * height) : height - Math.round(shapeHeight / 2);
  const pad = Math.ceil(3 * sigma);
  return { sigma, pad, shapeHeight, box: { left: -pad, top: top - pad, width: width + 2 * pad, height: shapeHeight + 2 * pad } };
}

/**
 * The shadow of the subject that lies at `subject` in `pixels` (RGBA, straight alpha, `width` x
 * `height`): its alpha, one band of `shadowGeometry(...).box`'s size.
 */
export async function makeShadow(pixels: Buffer, width: number, height: number, subject: Box, options: ShadowOptions): Promise<Buffer> {
  const { sigma, pad, shapeHeight } = shadowGeometry(subject.width, subject.height, options.kind);
  let source = sharp(pixels, { raw: { width, height, channels: 4 } }).extract(subject).extractChannel(3);
  if (options.kind === 'contact') {
    const base = Math.max(1, Math.round(CONTACT_BASE * subject.height));
    // Two steps: sharp applies a single extract before its resize, and this one is within the subject.
    const alpha = await source.raw().toBuffer();
    source = sharp(alpha, { raw: { width: subject.width, height: subject.height, channels: 1 } })
      .extract({ left: 0, top: subject.height - base, width: subject.width, height: base })
      .resize(subject.width, shapeHeight, { fit: 'fill', kernel: 'linear' });
  }
  const shape = await source.raw().toBuffer();
  // A wide blur costs its width in taps per pixel; it is made on a copy shrunk to a sigma of
  // BLUR_SIGMA_WORKING and enlarged again, which a blur that wide cannot tell apart.
  const shrink = Math.min(1, BLUR_SIGMA_WORKING / sigma);
  const small = (length: number) => Math.max(1, Math.round(length * shrink));
  const smallPad = Math.ceil(3 * sigma * shrink);
  const blurred = await sharp(shape, { raw: { width: subject.width, height: shapeHeight, channels: 1 } })
    .resize(small(subject.width), small(shapeHeight), { fit: 'fill', kernel: 'linear' })
    .extend({ top: smallPad, bottom: smallPad, left: smallPad, right: smallPad, background: { r: 0, g: 0, b: 0 } })
    .blur({ sigma: Math.max(0.3, sigma * shrink), precision: 'float' })
    .extractChannel(0)
    .raw()
    .toBuffer({ resolveWithObject: true });
  const alpha = await sharp(blurred.data, { raw: { width: blurred.info.width, height: blurred.info.height, channels: 1 } })
    .resize(subject.width + 2 * pad, shapeHeight + 2 * pad, { fit: 'fill', kernel: 'linear' })
    .extractChannel(0)
    .raw()
    .toBuffer();
  scalePeak(alpha, Math.round((options.opacity / 100) * 255));
  return alpha;
}

/** Scales `alpha` in place so its highest value becomes `peak` (all zero stays zero). */
export function scalePeak(alpha: Uint8Array, peak: number): void {
  let high = 0;
  for (let i = 0; i < alpha.length; i++) if (alpha[i]! > high) high = alpha[i]!;
  if (high === 0) return;
  const scale = peak / high;
  for (let i = 0; i < alpha.length; i++) alpha[i] = Math.round(alpha[i]! * scale);
}
