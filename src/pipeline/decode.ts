// Bytes in, 8-bit sRGB pixels out, with EXIF orientation applied.
//
// The format is sniffed from the bytes (a Content-Type header proves nothing), the pixel count is
// checked from the header before anything is decoded, and sharp's own limits stay on as a second
// wall. Whatever the input (CMYK, 16-bit, greyscale, palette), the result is interleaved 8-bit
// sRGB with an alpha channel: the input's own, or opaque. The subject's alpha is later written into
// that alpha channel, so one buffer carries the image from decoding to encoding. The model's input
// is decoded separately, straight from the bytes (modelPixelsFromBytes), so that it never waits for
// the full-resolution pixels.
import sharp, { type Metadata, type SharpOptions } from 'sharp';
import { ServiceError } from '../errors.js';
import { MODEL_SIZE } from './preprocess.js';

// libvips keeps recent operations' results for reuse; every request here is a new image, so its
// cache would only hold memory (about 40 MB of peak at 12 megapixels, measured).
sharp.cache(false);

export const ACCEPTED_FORMATS = ['jpeg', 'png', 'webp', 'gif', 'avif', 'tiff'] as const;
export type ImageFormat = (typeof ACCEPTED_FORMATS)[number];

export interface DecodedImage {
  format: ImageFormat;
  width: number;
  height: number;
  /** Whether the input has an alpha channel of its own (otherwise every alpha byte is 255). */
  hasAlpha: boolean;
  /** width * height * 4 bytes, RGBA, row-major. */
  pixels: Buffer;
}

const startsWith = (bytes: Uint8Array, signature: readonly number[], at = 0): boolean =>
  bytes.length >= at + signature.length && signature.every((byte, i) => bytes[at + i] === byte);
const ascii = (text: string): number[] => [...text].map((c) => c.charCodeAt(0));

/** The image format the bytes hold, from their signature, or null for anything else. */
export function sniffFormat(bytes: Uint8Array): ImageFormat | null {
  if (startsWith(bytes, [0xff, 0xd8, 0xff])) return 'jpeg';
  if (startsWith(bytes, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return 'png';
  if (startsWith(bytes, ascii('GIF87a')) || startsWith(bytes, ascii('GIF89a'))) return 'gif';
  if (startsWith(bytes, ascii('RIFF')) && startsWith(bytes, ascii('WEBP'), 8)) return 'webp';
  if (startsWith(bytes, [0x49, 0x49, 0x2a, 0x00]) || startsWith(bytes, [0x4d, 0x4d, 0x00, 0x2a])) return 'tiff';
  if (startsWith(bytes, ascii('ftyp'), 4)) {
    // ISO-BMFF: AVIF says so in its major or compatible brands; HEIC and video do not.
    const boxSize = Math.min(bytes.length, new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0));
    for (let at = 8; at + 4 <= boxSize; at += 4) {
      if (at === 12) continue; // minor version, not a brand
      if (startsWith(bytes, ascii('avif'), at) || startsWith(bytes, ascii('avis'), at)) return 'avif';
    }
  }
  return null;
}

export function decodeFailed(error: unknown): ServiceError {
  return new ServiceError('image_decode_failed', 'the image is truncated or corrupt and cannot be decoded', { cause: error });
}

export interface ImageHeader {
  format: ImageFormat;
  /** The size from the header, after EXIF orientation (the first frame of an animation). */
  width: number;
  height: number;
  hasAlpha: boolean;
}

/**
 * AVIF's sizes, from its own 'ispe' boxes (in the metadata, before 'mdat'). Found by the fuzzer:
 * libvips turns a claimed width of 2^31 - 1 into 1 (with GLib-CRITICAL lines on stderr), so its
 * metadata would pass the pixel check with a size the file does not claim.
 */
function checkAvifSizes(bytes: Buffer, limits: { maxPixels: number }): void {
  const end = bytes.indexOf('mdat', 0, 'latin1');
  const header = bytes.subarray(0, end < 0 ? Math.min(bytes.length, 64 * 1024) : end);
  for (let at = header.indexOf('ispe', 0, 'latin1'); at >= 0 && at + 16 <= header.length; at = header.indexOf('ispe', at + 4, 'latin1')) {
    const width = header.readUInt32BE(at + 8); // after the box's version and flags
    const height = header.readUInt32BE(at + 12);
    if (width > 0x7fffffff || height > 0x7fffffff || width * height > 2 ** 53) throw decodeFailed(new Error(`ispe claims ${width}x${height}`));
    if (width * height > limits.maxPixels) throw tooManyPixels(width, height, limits.maxPixels);
  }
}

function tooManyPixels(width: number, height: number, maxPixels: number): ServiceError {
  return new ServiceError(
    'too_many_pixels',
    `the image is ${width}x${height} (${(width * height / 1e6).toFixed(1)} megapixels); the limit is ${(maxPixels / 1e6).toFixed(1)} megapixels`,
  );
}

/** Sniffs the format and checks the pixel count from the header, before anything is decoded. */
export async function readHeader(bytes: Buffer, limits: { maxPixels: number }): Promise<ImageHeader> {
  const format = sniffFormat(bytes);
  if (!format) {
    throw new ServiceError(
      'unsupported_media_type',
      `the source is not an image in a supported format (accepted: ${ACCEPTED_FORMATS.join(', ')})`,
    );
  }

  if (format === 'avif') checkAvifSizes(bytes, limits);
  let header: Metadata;
  try {
    // Header only, so sharp's own pixel limit is off here: the check below gives the clearer answer.
    header = await sharp(bytes, { limitInputPixels: false }).metadata();
  } catch (error) {
    throw decodeFailed(error);
  }
  // pageHeight: an animation's metadata height covers every frame; only the first is decoded.
  const width = header.width ?? 0;
  const height = header.pageHeight ?? header.height ?? 0;
  if (width < 1 || height < 1) throw decodeFailed(new Error('the header has no dimensions'));
  if (width * height > limits.maxPixels) throw tooManyPixels(width, height, limits.maxPixels);
  // Orientations 5 to 8 turn the image a quarter: width and height swap.
  const turned = (header.orientation ?? 1) >= 5;
  return { format, width: turned ? height : width, height: turned ? width : height, hasAlpha: header.hasAlpha === true };
}

/** Options for decoding bytes that passed readHeader: the walls stay up (sharp's own pixel limit, warnings fail). */
export const decodeOptions = (limits: { maxPixels: number }): SharpOptions => ({
  failOn: 'warning',
  limitInputPixels: limits.maxPixels,
  autoOrient: true,
});

/** sharp reading the source bytes, with the limits every decode of untrusted input keeps. */
const readSource = (bytes: Buffer, limits: { maxPixels: number }) => sharp(bytes, decodeOptions(limits));

/** Decodes the whole image to 8-bit sRGB RGBA. */
export async function decodePixels(bytes: Buffer, header: ImageHeader, limits: { maxPixels: number }): Promise<DecodedImage> {
  try {
    const { data, info } = await readSource(bytes, limits)
      .toColourspace('srgb')
      .ensureAlpha(1)
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 4) throw new Error(`unexpected channel count ${info.channels}`);
    return { format: header.format, width: info.width, height: info.height, hasAlpha: header.hasAlpha, pixels: data };
  } catch (error) {
    throw decodeFailed(error);
  }
}

export async function decodeImage(bytes: Buffer, limits: { maxPixels: number }): Promise<DecodedImage> {
  return decodePixels(bytes, await readHeader(bytes, limits), limits);
}

/**
 * Whether the format's decoder shrinks while it decodes (JPEG's DCT scaling), so that the model's
 * view (modelPixelsFromBytes) costs a fraction of a full decode.
 */
export const decodesSmall = (header: Pick<ImageHeader, 'format'>): boolean => header.format === 'jpeg';

/**
 * The model's view of the image: squashed to MODEL_SIZE x MODEL_SIZE (the reference ignores the
 * aspect ratio), RGB, with any transparency flattened onto white so hidden pixels stay hidden.
 */
export async function modelPixels(image: DecodedImage): Promise<Buffer> {
  const pipeline = sharp(image.pixels, { raw: { width: image.width, height: image.height, channels: 4 } });
  return (image.hasAlpha ? pipeline.flatten({ background: '#ffffff' }) : pipeline.removeAlpha())
    .resize(MODEL_SIZE, MODEL_SIZE, { fit: 'fill', kernel: 'lanczos3' })
    .raw()
    .toBuffer();
}

/**
 * The same view, decoded straight from the source bytes, so it can run beside the full-resolution
 * decode (on the other libuv thread) or before it. JPEG shrinks while it decodes (decodesSmall), at
 * a fraction of the cost. Other formats are decoded in full, without their own shrink-on-load
 * (WebP's would give another view), so the pixels are modelPixels' exactly (16-bit sources within
 * 2 levels: rounded once instead of twice): at 24 MP PNG this takes 284 ms beside the 321 ms full
 * decode, where resizing the decoded pixels took 146 ms after it (measured).
 */
export async function modelPixelsFromBytes(bytes: Buffer, header: Pick<ImageHeader, 'format' | 'hasAlpha'>, limits: { maxPixels: number }): Promise<Buffer> {
  try {
    const source = readSource(bytes, limits);
    return await (header.hasAlpha ? source.flatten({ background: '#ffffff' }) : source)
      .resize(MODEL_SIZE, MODEL_SIZE, { fit: 'fill', kernel: 'lanczos3', fastShrinkOnLoad: decodesSmall(header) })
      .toColourspace('srgb')
      .removeAlpha()
      .raw({ depth: 'uchar' })
      .toBuffer();
  } catch (error) {
    throw decodeFailed(error);
  }
}

/**
 * The RGBA pixels as one 32-bit word each (little-endian: red in the low byte, alpha in the high
 * one), for passes that read whole pixels: one load instead of four. A view of the same memory
 * where the buffer is 4-byte aligned (Node's and sharp's buffers are), else a copy, so writes
 * through it are for callers that know their buffer is aligned.
 */
export function pixelWords(pixels: Uint8Array): Uint32Array {
  if (pixels.byteOffset % 4 === 0) return new Uint32Array(pixels.buffer, pixels.byteOffset, pixels.length >> 2);
  return new Uint32Array(new Uint8Array(pixels).buffer, 0, pixels.length >> 2); // a copy (a Buffer's slice is a view)
}

// The word layout above is little-endian's; every platform onnxruntime-node ships binaries for is.
if (new Uint8Array(new Uint32Array([1]).buffer)[0] !== 1) throw new Error('bg-removal-service needs a little-endian CPU');

/**
 * Above this many pixels an image is large: its decoded pixels (4 bytes each, 200 MB at 50 MP) do not
 * share memory with anything big. The route gives it every work slot, so it runs alone, and for a JPEG
 * (whose model input is decoded small) the full decode also waits for the inference's transient
 * buffers (about 250 MB) to be freed; other formats need the full decode to make the model's input. Two 50-megapixel
 * requests at once otherwise peaked at 1 GB, measured.
 */
export const LARGE_IMAGE_PIXELS = 25_000_000;

export const isLargeImage = (header: ImageHeader): boolean => header.width * header.height > LARGE_IMAGE_PIXELS;
