// The subject placed on a canvas of a fixed size (a shop's 2000 x 2000), scaled to fill a share of
// it, centred, standing on the bottom, or where it was; with a shadow under it if asked.
//
// Only the subject's box is read from the decoded image, and libvips scales it straight to its size
// in the result, so the one new buffer is the subject at that size (at most the canvas's pixels);
// the shadow is made from that buffer's alpha. The canvas itself is never held: libvips makes its
// background, composites the layers and encodes in one streaming pipeline.
import sharp, { type OverlayOptions, type Sharp } from 'sharp';
import { ServiceError } from '../errors.js';
import { backdropLayer, type Backdrop } from './background.js';
import type { Box } from './compose.js';
import type { DecodedImage } from './decode.js';
import { encoder, isOpaqueColour, type EncodeOptions } from './encode.js';
import { makeShadow, shadowOverlay, type ShadowOptions } from './shadow.js';

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
 */
export async function composeResult(image: DecodedImage, subjectBox: Box, layout: Layout, options: ComposeOptions): Promise<Buffer> {
  const { width, height, subject } = layout;
  let cut = sharp(image.pixels, { raw: { width: image.width, height: image.height, channels: 4 } }).extract(subjectBox);
  // sharp premultiplies the alpha for the resize, so edges do not darken.
  if (subject.width !== subjectBox.width || subject.height !== subjectBox.height) cut = cut.resize(subject.width, subject.height, { fit: 'fill' });
  const pixels = await cut.raw().toBuffer();

  const layers: OverlayOptions[] = [];
  if (options.shadow) {
    const overlay = shadowOverlay(await makeShadow(pixels, subject.width, subject.height, options.shadow), subject, width, height);
    if (overlay) layers.push({ input: overlay.pixels, raw: { width: overlay.box.width, height: overlay.box.height, channels: 4 }, left: overlay.box.left, top: overlay.box.top });
  }
  layers.push({ input: pixels, raw: { width: subject.width, height: subject.height, channels: 4 }, left: subject.left, top: subject.top });

  const { backdrop } = options;
  const alphaOnly = options.channels === 'alpha';
  let pipeline: Sharp;
  if (alphaOnly || backdrop.kind === 'none') {
    pipeline = sharp({ create: { width, height, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0 } } }).composite(layers);
  } else if (backdrop.kind === 'colour') {
    const { colour } = backdrop;
    pipeline = sharp({ create: { width, height, channels: colour.alpha === 1 ? 3 : 4, background: colour } }).composite(layers);
    // The base is opaque, so the composite is: its alpha channel says nothing.
    if (colour.alpha === 1) pipeline = pipeline.removeAlpha();
  } else {
    const layer = await backgroundLayer(backdrop, width, height, options.kept);
    pipeline = sharp(layer, { raw: { width, height, channels: 3 } }).composite(layers).removeAlpha();
  }
  // The composite is a new image, so the alpha is taken from a second pipeline over its pixels.
  if (alphaOnly) pipeline = sharp(await pipeline.raw().toBuffer(), { raw: { width, height, channels: 4 } }).extractChannel(3).toColourspace('b-w');
  return encoder(pipeline, options, !alphaOnly && isOpaqueColour(backdrop)).toBuffer();
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
