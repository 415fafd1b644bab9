// The subject placed on a canvas of a fixed size (a shop's 2000 x 2000), scaled to fill a share of
// it, centred, standing on the bottom, or where it was; with a shadow under it if asked.
//
// Only the subject's box is read from the decoded image, and libvips scales it straight to its size
// in the result, so the one new buffer is the subject at that size (at most the canvas's pixels);
// the shadow is made from that buffer's alpha. The canvas itself is never held for a colour or a
// transparent background: libvips extends the buffer to the canvas's size while it encodes.
import sharp, { type Sharp } from 'sharp';
import { ServiceError } from '../errors.js';
import { backdropLayer, type Backdrop, type Colour } from './background.js';
import type { Box } from './compose.js';
import type { DecodedImage } from './decode.js';
import { encoder, isOpaqueColour, type EncodeOptions } from './encode.js';
import { makeShadow, shadowGeometry, type ShadowOptions } from './shadow.js';

export interface Size {
  width: number;
  height: number;
}

/** A fixed size, or "square": a square whose side is the larger side of the result without a canvas. */
export type Canvas = Size | 'square';

export const POSITIONS = ['center', 'bottom', 'original'] as const;
export type Position = (typeof POSITIONS)[number];

export interface PlacementOptions {
  canvas: Canvas;
  /** 0 < fill <= 1: the share of the canvas's width and height the subject's box may take. */
  fill: number;
  position: Position;
}

/** The fill when a canvas comes without one. */
export const DEFAULT_FILL = 0.9;

/** Where the subject lands: the result's size, the subject's box in it, and the scale from input pixels. */
export interface Layout extends Size {
  subject: Box;
  /** Result pixels per input pixel; above 1 the subject was enlarged. */
  scale: number;
}

/** The canvas's size; `otherwise` is the size the result would have without one. */
export function canvasSize(canvas: Canvas, otherwise: Size): Size {
  if (canvas !== 'square') return canvas;
  const side = Math.max(otherwise.width, otherwise.height);
  return { width: side, height: side };
}

/** Refuses a canvas of more than `maxPixels` pixels (MAX_CANVAS_PIXELS), naming the field. */
export function checkCanvasSize(size: Size, maxPixels: number, square = false): void {
  if (size.width * size.height <= maxPixels) return;
  throw new ServiceError(
    'invalid_request',
    `the field canvas would make a ${size.width}x${size.height} result (${((size.width * size.height) / 1e6).toFixed(1)} megapixels)${
      square ? ' from the "square" of this image' : ''
    }; the limit is ${(maxPixels / 1e6).toFixed(1)} megapixels (MAX_CANVAS_PIXELS)${square ? ': set max_dimension, or give the canvas a size' : ''}`,
  );
}

/**
 * The subject's box (input pixels) scaled to fit `fill` of the canvas's width and height, whichever
 * binds, and placed by `position`: "center"; "bottom", centred across with the gap below equal to the
 * gap on the binding sides; "original", with the gaps on either side in the same proportion as in the
 * `image` (centred on an axis the subject spans).
 */
export function placeOnCanvas(subject: Box, image: Size, canvas: Size, fill: number, position: Position): Layout {
  const across = (fill * canvas.width) / subject.width;
  const down = (fill * canvas.height) / subject.height;
  const scale = Math.min(across, down);
  const width = Math.min(canvas.width, Math.max(1, Math.round(subject.width * scale)));
  const height = Math.min(canvas.height, Math.max(1, Math.round(subject.height * scale)));
  const spareX = canvas.width - width;
  const spareY = canvas.height - height;
  let left = Math.round(spareX / 2);
  let top = Math.round(spareY / 2);
  if (position === 'bottom') {
    const gap = across <= down ? spareX / 2 : spareY / 2;
    top = Math.round(spareY - gap);
  } else if (position === 'original') {
    const share = (before: number, spare: number) => (spare > 0 ? before / spare : 0.5);
    left = Math.round(spareX * share(subject.left, image.width - subject.width));
    top = Math.round(spareY * share(subject.top, image.height - subject.height));
  }
  return { ...canvas, subject: { left, top, width, height }, scale };
}

/** Without a canvas: the subject's box as it lies in the result, which is `kept` (input pixels) scaled to `size`. */
export function layoutInResult(subject: Box, kept: Box, size: Size): Layout {
  const scaleX = size.width / kept.width;
  const scaleY = size.height / kept.height;
  const left = Math.min(size.width - 1, Math.round((subject.left - kept.left) * scaleX));
  const top = Math.min(size.height - 1, Math.round((subject.top - kept.top) * scaleY));
  const width = Math.max(1, Math.min(size.width - left, Math.round(subject.width * scaleX)));
  const height = Math.max(1, Math.min(size.height - top, Math.round(subject.height * scaleY)));
  return { ...size, subject: { left, top, width, height }, scale: scaleX };
}

export interface ComposeOptions extends Pick<EncodeOptions, 'format' | 'quality' | 'pngCompressionLevel'> {
  channels: 'rgba' | 'alpha';
  backdrop: Backdrop;
  shadow?: ShadowOptions;
  /**
   * The part of the input the result shows, when it is not a canvas: a blurred original behind it is
   * that part of the original. On a canvas the backdrop is cover-fitted instead.
   */
  kept?: Box;
}

/**
 * Encodes the result of `layout`: the image's `subjectBox` (input pixels, its alpha written) scaled
 * into `layout.subject`, over its shadow, over the backdrop.
 *
 * libvips scales the subject straight into a buffer the size of the part of the result it and its
 * shadow cover (`span`), transparent around it; the shadow and a colour backdrop are composited into
 * that buffer in place, and libvips extends it with the backdrop's colour to the result's size while
 * it encodes. So the one large buffer is at most the result's pixels, and a flat background is
 * written as the exact colour rather than computed (libvips's own composite works in float over the
 * whole canvas: three times slower at 2000 x 2000, measured).
 */
export async function composeResult(image: DecodedImage, subjectBox: Box, layout: Layout, options: ComposeOptions): Promise<Buffer> {
  const { width, height, subject } = layout;
  const shadowBox = options.shadow && offset(shadowGeometry(subject.width, subject.height, options.shadow.kind).box, subject);
  const span = clip(shadowBox ? union(subject, shadowBox) : subject, width, height);
  let cut = sharp(image.pixels, { raw: { width: image.width, height: image.height, channels: 4 } }).extract(subjectBox);
  // sharp premultiplies the alpha for the resize, so edges do not darken.
  if (subject.width !== subjectBox.width || subject.height !== subjectBox.height) cut = cut.resize(subject.width, subject.height, { fit: 'fill' });
  const inSpan = { left: subject.left - span.left, top: subject.top - span.top, width: subject.width, height: subject.height };
  const pixels = await cut
    .extend({
      left: inSpan.left,
      top: inSpan.top,
      right: span.width - inSpan.left - subject.width,
      bottom: span.height - inSpan.top - subject.height,
      background: { r: 0, g: 0, b: 0, alpha: 0 },
    })
    .raw()
    .toBuffer();

  const shadow =
    options.shadow && shadowBox
      ? { alpha: await makeShadow(pixels, span.width, span.height, inSpan, options.shadow), box: { ...shadowBox, left: shadowBox.left - span.left, top: shadowBox.top - span.top } }
      : undefined;
  const { backdrop } = options;
  const alphaOnly = options.channels === 'alpha';
  const under = !alphaOnly && backdrop.kind === 'colour' ? backdrop.colour : undefined;
  // A transparent result without a shadow is the cutout as it is.
  const channels = shadow || under ? flattenLayers(pixels, span.width, span.height, shadow, under) : 4;

  const around = { left: span.left, top: span.top, right: width - span.left - span.width, bottom: height - span.top - span.height };
  const raw = { raw: { width: span.width, height: span.height, channels } };
  let pipeline: Sharp;
  if (alphaOnly) {
    // Transparent around: sharp extends before it extracts the band.
    pipeline = sharp(pixels, raw).extend({ ...around, background: { r: 0, g: 0, b: 0, alpha: 0 } }).extractChannel(3).toColourspace('b-w');
  } else if (backdrop.kind === 'none' || backdrop.kind === 'colour') {
    pipeline = sharp(pixels, raw).extend({ ...around, background: under ?? { r: 0, g: 0, b: 0, alpha: 0 } });
  } else {
    // An image behind: libvips composites the flattened subject and shadow over it.
    const layer = await backgroundLayer(backdrop, width, height, options.kept);
    pipeline = sharp(layer, { raw: { width, height, channels: 3 } })
      .composite([{ input: pixels, ...raw, left: span.left, top: span.top }])
      .removeAlpha();
  }
  return encoder(pipeline, options, !alphaOnly && isOpaqueColour(backdrop), true).toBuffer();
}

const offset = (box: Box, by: Box): Box => ({ ...box, left: box.left + by.left, top: box.top + by.top });

function union(a: Box, b: Box): Box {
  const left = Math.min(a.left, b.left);
  const top = Math.min(a.top, b.top);
  return { left, top, width: Math.max(a.left + a.width, b.left + b.width) - left, height: Math.max(a.top + a.height, b.top + b.height) - top };
}

/** `box` within a `width` x `height` result (the subject always is, so this is never empty). */
function clip(box: Box, width: number, height: number): Box {
  const left = Math.max(0, box.left);
  const top = Math.max(0, box.top);
  return { left, top, width: Math.min(width, box.left + box.width) - left, height: Math.min(height, box.top + box.height) - top };
}

/**
 * Composites, in place, the RGBA `pixels` (straight alpha) over the shadow (black, its alpha placed
 * at `shadow.box`, which may reach beyond the buffer) over the colour `under` (none: transparent).
 * Over an opaque colour the result is RGB, packed into the start of the buffer; returns the
 * channel count. Where neither subject nor shadow has any alpha, the colour is written exactly.
 */
export function flattenLayers(pixels: Buffer, width: number, height: number, shadow: { alpha: Buffer; box: Box } | undefined, under?: Colour): 3 | 4 {
  const opaque = under !== undefined && under.alpha === 1;
  const baseAlpha = under ? under.alpha : 0;
  const [r0, g0, b0] = under ? [under.r * baseAlpha, under.g * baseAlpha, under.b * baseAlpha] : [0, 0, 0];
  const inverse = 1 / 255;
  let write = 0;
  for (let y = 0; y < height; y++) {
    const shadowRow = y - (shadow?.box.top ?? 0);
    const rowInShadow = shadow !== undefined && shadowRow >= 0 && shadowRow < shadow.box.height;
    for (let x = 0, read = y * width * 4; x < width; x++, read += 4) {
      const subjectAlpha = pixels[read + 3]! * inverse;
      let shadowAlpha = 0;
      if (rowInShadow) {
        const shadowColumn = x - shadow.box.left;
        if (shadowColumn >= 0 && shadowColumn < shadow.box.width) shadowAlpha = shadow.alpha[shadowRow * shadow.box.width + shadowColumn]! * inverse;
      }
      // Premultiplied, bottom up: the colour, the (black) shadow over it, the subject over both.
      const keep = (1 - shadowAlpha) * (1 - subjectAlpha);
      const alpha = subjectAlpha + (shadowAlpha + baseAlpha * (1 - shadowAlpha)) * (1 - subjectAlpha);
      let r = pixels[read]! * subjectAlpha + r0 * keep;
      let g = pixels[read + 1]! * subjectAlpha + g0 * keep;
      let b = pixels[read + 2]! * subjectAlpha + b0 * keep;
      if (!opaque && alpha > 0) {
        r /= alpha;
        g /= alpha;
        b /= alpha;
      }
      pixels[write] = Math.round(r);
      pixels[write + 1] = Math.round(g);
      pixels[write + 2] = Math.round(b);
      if (opaque) {
        write += 3;
      } else {
        pixels[write + 3] = Math.round(alpha * 255);
        write += 4;
      }
    }
  }
  return opaque ? 3 : 4;
}

/** The blurred original or a background image, as raw RGB at the result's size. */
async function backgroundLayer(backdrop: Extract<Backdrop, { kind: 'blurred' | 'image' }>, width: number, height: number, kept?: Box): Promise<Buffer> {
  if (backdrop.kind === 'image') return backdropLayer(backdrop, { left: 0, top: 0, width, height }, width, height);
  if (kept) return backdropLayer(backdrop, kept, width, height);
  return sharp(backdrop.pixels, { raw: { width: backdrop.width, height: backdrop.height, channels: 3 } })
    .resize(width, height, { fit: 'cover', position: 'centre', kernel: 'cubic' })
    .raw()
    .toBuffer();
}

/**
 * The result's layout: on the canvas of `placement` (checked against `maxCanvasPixels`), or, without
 * one, the crop box `kept` at `size`.
 */
export function layoutResult(subject: Box, kept: Box, size: Size, image: Size, placement?: PlacementOptions, maxCanvasPixels = Infinity): Layout {
  if (!placement) return layoutInResult(subject, kept, size);
  const canvas = canvasSize(placement.canvas, size);
  checkCanvasSize(canvas, maxCanvasPixels, placement.canvas === 'square');
  return placeOnCanvas(subject, image, canvas, placement.fill, placement.position);
}
