// The whole cutout, from image bytes to PNG bytes, without any HTTP: decode, infer, mask, encode.
import { ServiceError } from '../errors.js';
import { applySubjectAlpha, clearHidden, padBox, type Box } from './compose.js';
import { decodePixels, decodesSmall, modelPixels, modelPixelsFromBytes, readHeader } from './decode.js';
import { encodePng } from './encode.js';
import { gridRegion, hasSubject, normaliseSaliency, subjectGrid, type SubjectMode } from './mask.js';
import { toModelInput } from './preprocess.js';
import type { Segmenter } from './segment.js';
import type { StageTimer } from './timings.js';

export type { Box } from './compose.js';
export type { SubjectMode } from './mask.js';

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

export interface PipelineContext {
  segmenter: Segmenter;
  maxPixels: number;
  /** zlib level of the PNG (0-9). */
  pngCompressionLevel: number;
  timer: StageTimer;
  /** Checked between stages: work for a caller that has gone, or is past its deadline, stops there. */
  signal?: AbortSignal;
}

function noForeground(): ServiceError {
  return new ServiceError('no_foreground', 'the model found no subject in the image');
}

export async function removeBackground(bytes: Buffer, options: RemovalOptions, context: PipelineContext): Promise<RemovalResult> {
  const { segmenter, timer, signal } = context;

  signal?.throwIfAborted();
  const limits = { maxPixels: context.maxPixels };
  const header = await timer.time('decode', () => readHeader(bytes, limits));
  // The full-resolution decode starts now; for JPEG the model's input is decoded small straight from
  // the bytes, so the full decode runs alongside the inference rather than before it.
  const decoding = decodePixels(bytes, header, limits);
  decoding.catch(() => {}); // awaited below; never an unhandled rejection meanwhile
  const input = await timer.time('decode', async () =>
    toModelInput(decodesSmall(header) ? await modelPixelsFromBytes(bytes, limits) : await modelPixels(await decoding)),
  );

  signal?.throwIfAborted();
  const d0 = await timer.time('infer', () => segmenter.predict(input));
  const image = await timer.time('decode', () => decoding);

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
