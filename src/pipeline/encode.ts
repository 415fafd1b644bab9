// The answer's image: a box of the decoded image, as RGBA or as its alpha alone, optionally scaled
// down and put on a background, encoded as PNG, WebP or JPEG. libvips does all of it in one
// pipeline straight from the decoded buffer (no copy of the box is made); the default (PNG, the
// box at its own size, transparent) is a crop and an encode, nothing more.
import sharp, { type Sharp } from 'sharp';
import { ServiceError } from '../errors.js';
import { backdropLayer, type Backdrop } from './background.js';
import type { Box } from './compose.js';
import type { DecodedImage } from './decode.js';
import { encodePng } from './png.js';
import { encodePngShared, type RowPool } from './row-pool.js';

export const OUTPUT_FORMATS = ['png', 'webp', 'jpeg'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

export const CONTENT_TYPES: Readonly<Record<OutputFormat, string>> = { png: 'image/png', webp: 'image/webp', jpeg: 'image/jpeg' };

/** The largest side each format can store. */
export const FORMAT_MAX_SIDE: Readonly<Record<OutputFormat, number>> = { png: 2 ** 31 - 1, webp: 16_383, jpeg: 65_535 };

export interface EncodeOptions {
  format: OutputFormat;
  /** 1-100, for WebP and JPEG. */
  quality: number;
  /**
   * PNG compression: OWN_PNG_LEVEL for png.ts's encoder where it applies (see ownsPng), otherwise
   * libvips' zlib level 0-9 (level 1 is about 2.5 times faster than 6, for files about 30 % larger).
   */
  pngCompressionLevel: number;
  /** The output's size: the box's, or smaller. */
  width: number;
  height: number;
  backdrop: Backdrop;
  /** The worker that deflates half of a large PNG's rows, when the image's pixels are shared with it (row-pool.ts). */
  rows?: RowPool;
}

/** The PNG level at which png.ts encodes the transparent cutouts it can (ownsPng); libvips the rest. */
export const OWN_PNG_LEVEL = 1;

/**
 * Whether png.ts encodes this result: a transparent RGBA PNG of the box at its own size, at
 * OWN_PNG_LEVEL. Everything else (a background, a resize, the alpha alone, another level) is libvips'.
 */
export function ownsPng(box: Box, channels: 'rgba' | 'alpha', options: Pick<EncodeOptions, 'format' | 'pngCompressionLevel' | 'width' | 'height' | 'backdrop'>): boolean {
  return options.format === 'png' && channels === 'rgba' && options.backdrop.kind === 'none' && options.pngCompressionLevel === OWN_PNG_LEVEL && options.width === box.width && options.height === box.height;
}

/** The size of `box` scaled down so neither side exceeds `maxDimension` (never scaled up). */
export function outputSize(box: Box, maxDimension?: number): { width: number; height: number } {
  const scale = maxDimension === undefined ? 1 : Math.min(1, maxDimension / Math.max(box.width, box.height));
  if (scale === 1) return { width: box.width, height: box.height };
  return { width: Math.max(1, Math.round(box.width * scale)), height: Math.max(1, Math.round(box.height * scale)) };
}

export async function encodeImage(image: DecodedImage, box: Box, channels: 'rgba' | 'alpha', options: EncodeOptions): Promise<Buffer> {
  const { format, width, height, backdrop } = options;
  if (Math.max(width, height) > FORMAT_MAX_SIDE[format]) {
    throw new ServiceError(
      'invalid_request',
      `${format} images can be at most ${FORMAT_MAX_SIDE[format]} pixels on a side and this one would be ${width}x${height}: set max_dimension, or choose png`,
    );
  }
  if (ownsPng(box, channels, options)) return options.rows ? encodePngShared(options.rows, image, box) : encodePng(image.pixels, image.width, box);
  let pipeline = sharp(image.pixels, { raw: { width: image.width, height: image.height, channels: 4 } }).extract(box);
  // sharp premultiplies the alpha for the resize, so edges do not darken.
  if (width !== box.width || height !== box.height) pipeline = pipeline.resize(width, height, { fit: 'fill' });

  if (channels === 'alpha') {
    // sharp would otherwise widen a single band to sRGB.
    pipeline = pipeline.extractChannel(3).toColourspace('b-w');
  } else if (backdrop.kind === 'colour') {
    const { colour } = backdrop;
    pipeline =
      colour.alpha === 1
        ? pipeline.flatten({ background: colour })
        : pipeline.composite([{ input: { create: { width, height, channels: 4, background: colour } }, blend: 'dest-over' }]);
  } else if (backdrop.kind !== 'none') {
    const layer = await backdropLayer(backdrop, box, width, height);
    // The layer is opaque, so the result is: its alpha channel says nothing and is dropped.
    pipeline = pipeline.composite([{ input: layer, raw: { width, height, channels: 3 }, blend: 'dest-over' }]).removeAlpha();
  }
  return encoder(pipeline, options, channels === 'rgba' && isOpaqueColour(backdrop)).toBuffer();
}

/** Whether the result's background is one opaque colour, which must come out exactly (see encoder). */
export const isOpaqueColour = (backdrop: Backdrop): boolean => backdrop.kind === 'colour' && backdrop.colour.alpha === 1;

/**
 * The encoder for `format`. With `exactColour` (an opaque colour background), a flat background
 * decodes to exactly its colour: JPEG keeps full-resolution chroma (4:2:0 subsampling tints the
 * blocks next to the subject; 4:4:4 decodes flat 8x8 blocks of white exact at every quality,
 * measured) and WebP is encoded near-lossless (lossy WebP converts to YUV, which moves most colours
 * by a step or more; near-lossless keeps flat areas exact, for files about four times larger).
 * `streaming` JPEGs keep the standard Huffman tables: optimising them holds every coefficient of the
 * image in memory (about 50 MB at 2000 x 2000 with full chroma, measured), for files a few percent smaller.
 */
export function encoder(
  pipeline: Sharp,
  options: Pick<EncodeOptions, 'format' | 'quality' | 'pngCompressionLevel'>,
  exactColour = false,
  streaming = false,
): Sharp {
  switch (options.format) {
    case 'png':
      // Adaptive filtering doubles the time for a few percent; off.
      return pipeline.png({ compressionLevel: options.pngCompressionLevel, adaptiveFiltering: false });
    case 'webp':
      return pipeline.webp(exactColour ? { quality: options.quality, nearLossless: true } : { quality: options.quality });
    case 'jpeg':
      return pipeline.jpeg({
        quality: options.quality,
        ...(exactColour ? { chromaSubsampling: '4:4:4' } : {}),
        ...(streaming ? { optimiseCoding: false } : {}),
      });
  }
}
