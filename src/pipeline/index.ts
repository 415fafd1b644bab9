// The whole cutout, from image bytes to PNG bytes, without any HTTP: decode, infer, mask, encode.
import { ServiceError } from '../errors.js';
import { applySubjectAlpha, clearHidden, padBox, type Box } from './compose.js';
import { decodePixels, decodesSmall, modelPixels, modelPixelsFromBytes, readHeader, type ImageHeader } from './decode.js';
import { encodePng } from './encode.js';
import { gridRegion, hasSubject, normaliseSaliency, subjectGrid, type SubjectMode } from './mask.js';
import { toModelInput } from './preprocess.js';
import type { Segmenter } from './segment.js';
import type { StageTimer } from './timings.js';

export type { Box } from './compose.js';
export type { SubjectMode } from './mask.js';
export { readHeader, type ImageHeader } from './decode.js';

export interface RemovalOptions {
  /** Crop to the subject's box (plus margin); false keeps the input's size. */
  crop: boolean;
  /** Pixels added around the subject's box, clamped to the image. */
  margin: number;
  subject: SubjectMode;
  /** 'rgba' for the cutout, 'alpha' for the mask alone as a greyscale image. */
  channels: 'rgba' | 'alpha';
  /** Mask level (0..1) above which a pixel belongs to a subject. */
  threshold: number;
}

export interface RemovalResult {
  png: Buffer;
  /** The input's size after orientation. */
  width: number;
  height: number;
  /** The subject's box grown by the margin, in input pixels (what `crop` cuts out). */
  box: Box;
}

/**
 * Above this many pixels an image is large: its decoded pixels (4 bytes each, 200 MB at 50 MP) do not
 * share memory with anything big. Its full decode waits for the inference's transient buffers (about
 * 250 MB) to be freed, and the route gives it every work slot, so it runs alone. Two 50-megapixel
 * requests at once otherwise peaked at 1 GB, measured.
 */
export const LARGE_IMAGE_PIXELS = 25_000_000;

export const isLargeImage = (header: ImageHeader): boolean => header.pixels > LARGE_IMAGE_PIXELS;

export interface PipelineContext {
  segmenter: Segmenter;
  maxPixels: number;
  /** zlib level of the PNG (0-9). */
  pngCompressionLevel: number;
  timer: StageTimer;
  /** Checked between stages: work for a caller that has gone, or is past its deadline, stops there. */
  signal?: AbortSignal;
  /** The image's header, when the caller has read it already (see readHeader). */
  header?: ImageHeader;
}

function noForeground(): ServiceError {
  return new ServiceError('no_foreground', 'the model found no subject in the image');
}

export async function removeBackground(bytes: Buffer, options: RemovalOptions, context: PipelineContext): Promise<RemovalResult> {
  const { segmenter, timer, signal } = context;

  signal?.throwIfAborted();
  const limits = { maxPixels: context.maxPixels };
  const header = context.header ?? (await timer.time('decode', () => readHeader(bytes, limits)));
  // For JPEG the model's input is decoded small straight from the bytes, and the full-resolution
  // decode runs alongside the inference rather than before it; a large image waits instead.
  const overlap = decodesSmall(header) && !isLargeImage(header);
  const decode = () => {
    const decoding = decodePixels(bytes, header, limits);
    decoding.catch(() => {}); // awaited below; never an unhandled rejection meanwhile
    return decoding;
  };
  let decoding = decodesSmall(header) && !overlap ? undefined : decode();
  const input = await timer.time('decode', async () =>
    toModelInput(decodesSmall(header) ? await modelPixelsFromBytes(bytes, limits) : await modelPixels(await decoding!)),
  );

  signal?.throwIfAborted();
  const d0 = await timer.time('infer', () => segmenter.predict(input));
  signal?.throwIfAborted();
  const image = await timer.time('decode', () => (decoding ??= decode()));

  // The subject's alpha is computed only where the kept grid cells reach, and written into the
  // decoded image's alpha channel.
  const { region, subjectBox } = await timer.time('mask', async () => {
    const saliency = normaliseSaliency(d0);
    if (!hasSubject(saliency)) throw noForeground();
    const grid = subjectGrid(saliency.map, options.threshold, options.subject);
    const region = grid && gridRegion(grid, image.width, image.height);
    if (!grid || !region) throw noForeground();
    const subjectBox = applySubjectAlpha(image, grid, region);
    if (!subjectBox) throw noForeground();
    return { region, subjectBox };
  });

  signal?.throwIfAborted();
  const box = padBox(subjectBox, options.margin, image.width, image.height);
  const output: Box = options.crop ? box : { left: 0, top: 0, width: image.width, height: image.height };
  const png = await timer.time('encode', () => {
    clearHidden(image, region, output);
    return encodePng(image, output, options.channels, { compressionLevel: context.pngCompressionLevel });
  });

  return { png, width: image.width, height: image.height, box };
}
