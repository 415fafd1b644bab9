// What goes behind the subject: nothing, a colour, the original blurred, or another image.
//
// A colour needs no pixels of its own: libvips flattens onto it, or composites a constant under
// the cutout. The two image backgrounds become a layer exactly the output's size, made in the encode
// stage once the crop box is known, and the cutout is composited over it.
//
// The blurred original is made from the small copy of the image the model is shown (MODEL_SIZE
// square, flattened on white):
// brought back to the image's proportions, blurred there and enlarged later. A heavy blur keeps
// no detail that the small copy lacks, and it saves reading the full image again (at 12 megapixels,
// 9 ms instead of 107 ms on the development machine). A background image is checked (format,
// pixel limit) before the inference, so a bad one fails early, and decoded straight to the output's
// size, which lets libvips shrink JPEGs while loading them.
import sharp from 'sharp';
import { ServiceError } from '../errors.js';
import type { Box } from './compose.js';
import { decodeOptions, readHeader } from './decode.js';
import { MODEL_SIZE } from './preprocess.js';

/** sRGB 0-255 and an alpha of 0-1, as sharp takes colours. */
export interface Colour {
  r: number;
  g: number;
  b: number;
  alpha: number;
}

export type Background =
  | { kind: 'transparent' }
  | { kind: 'colour'; colour: Colour }
  /** The original image, blurred. */
  | { kind: 'blur' }
  /** Another image's encoded bytes, cover-fitted to the output. */
  | { kind: 'image'; bytes: Buffer };

export const WHITE: Colour = Object.freeze({ r: 255, g: 255, b: 255, alpha: 1 });

/**
 * The blur's sigma as a share of the image's long side, so the background looks equally out of
 * focus at any resolution: 20 px on a 1000 px photo, 80 px on a 4000 px one.
 */
export const BLUR_FRACTION = 0.02;

const COLOUR = /^#(?:[0-9a-f]{3}|[0-9a-f]{6}|[0-9a-f]{8})$/i;

/** Parses `#rgb`, `#rrggbb` or `#rrggbbaa`. */
export function parseColour(text: string): Colour {
  if (!COLOUR.test(text)) throw new RangeError(`not a colour: ${text}`);
  const hex = text.length === 4 ? [...text.slice(1)].map((digit) => digit + digit).join('') : text.slice(1);
  const byte = (at: number) => Number.parseInt(hex.slice(at, at + 2), 16);
  return { r: byte(0), g: byte(2), b: byte(4), alpha: hex.length === 8 ? byte(6) / 255 : 1 };
}

/** What a colour looks like over white, made opaque (for outputs without alpha). */
export function overWhite(colour: Colour): Colour {
  const mix = (channel: number) => Math.round(channel * colour.alpha + 255 * (1 - colour.alpha));
  return { r: mix(colour.r), g: mix(colour.g), b: mix(colour.b), alpha: 1 };
}

/** A background made ready for the encode stage. */
export type Backdrop =
  | { kind: 'none' }
  | { kind: 'colour'; colour: Colour }
  /** The whole image, flattened, shrunk to `width` x `height` and blurred (RGB). */
  | { kind: 'blurred'; pixels: Buffer; width: number; height: number; imageWidth: number; imageHeight: number }
  | { kind: 'image'; bytes: Buffer; maxPixels: number };

/** Adds "background image:" to the message of an error about the background image, so the caller knows which image failed. */
export function aboutBackground(error: unknown): unknown {
  if (!(error instanceof ServiceError)) return error;
  return new ServiceError(error.code, `background image: ${error.message}`, { cause: error, headers: error.headers });
}

export interface BackdropOptions {
  /** The output cannot carry alpha (JPEG): a transparent or translucent background becomes its colour over white. */
  opaque: boolean;
  maxPixels: number;
  /** The image as the model sees it: MODEL_SIZE x MODEL_SIZE RGB, squashed, flattened on white (decode.ts modelPixels). */
  modelView: Buffer;
}

/** Prepares `background` for an image of `image.width` x `image.height` (after orientation). */
export async function prepareBackdrop(background: Background, image: { width: number; height: number }, options: BackdropOptions): Promise<Backdrop> {
  switch (background.kind) {
    case 'transparent':
      return options.opaque ? { kind: 'colour', colour: WHITE } : { kind: 'none' };
    case 'colour':
      return { kind: 'colour', colour: options.opaque ? overWhite(background.colour) : background.colour };
    case 'image':
      try {
        await readHeader(background.bytes, { maxPixels: options.maxPixels });
      } catch (error) {
        throw aboutBackground(error);
      }
      return { kind: 'image', bytes: background.bytes, maxPixels: options.maxPixels };
    case 'blur': {
      const long = Math.max(image.width, image.height);
      const scale = Math.min(1, MODEL_SIZE / long);
      const width = Math.max(1, Math.round(image.width * scale));
      const height = Math.max(1, Math.round(image.height * scale));
      const pixels = await sharp(options.modelView, { raw: { width: MODEL_SIZE, height: MODEL_SIZE, channels: 3 } })
        .resize(width, height, { fit: 'fill' })
        // Float precision: the integer mask darkens even a flat area by a step or two. On this small copy it costs nothing.
        .blur({ sigma: Math.max(0.3, BLUR_FRACTION * long * scale), precision: 'float' })
        .raw()
        .toBuffer();
      return { kind: 'blurred', pixels, width, height, imageWidth: image.width, imageHeight: image.height };
    }
  }
}

/** A backdrop made of pixels rather than one colour. */
export type LayerBackdrop = Extract<Backdrop, { kind: 'blurred' | 'image' }>;

/** The layer behind the cutout: the part of the backdrop under `box` (input pixels), at the output's `width` x `height`, as raw RGB. */
export async function backdropLayer(backdrop: LayerBackdrop, box: Box, width: number, height: number): Promise<Buffer> {
  if (backdrop.kind === 'blurred') {
    // Enlarge the whole blurred copy to the scale of the output, then cut out the box: libvips only
    // computes the pixels of the box.
    const scaleX = width / box.width;
    const scaleY = height / box.height;
    const fullWidth = Math.max(width, Math.round(backdrop.imageWidth * scaleX));
    const fullHeight = Math.max(height, Math.round(backdrop.imageHeight * scaleY));
    return sharp(backdrop.pixels, { raw: { width: backdrop.width, height: backdrop.height, channels: 3 } })
      .resize(fullWidth, fullHeight, { fit: 'fill', kernel: 'cubic' })
      .extract({
        left: Math.min(Math.round(box.left * scaleX), fullWidth - width),
        top: Math.min(Math.round(box.top * scaleY), fullHeight - height),
        width,
        height,
      })
      .raw()
      .toBuffer();
  }
  try {
    const { data, info } = await sharp(backdrop.bytes, decodeOptions({ maxPixels: backdrop.maxPixels }))
      .resize(width, height, { fit: 'cover', position: 'centre' })
      .flatten({ background: WHITE })
      .toColourspace('srgb')
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`unexpected channel count ${info.channels}`);
    return data;
  } catch (error) {
    throw new ServiceError('image_decode_failed', 'background image: the image is truncated or corrupt and cannot be decoded', { cause: error });
  }
}
