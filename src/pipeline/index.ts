// The whole cutout, from image bytes to PNG bytes, without any HTTP: decode, infer, mask, encode.
import { ServiceError } from '../errors.js';
import { applySubjectAlpha, clearAlphaOutside, padBox, type Box } from './compose.js';
import { decodeImage, modelPixels } from './decode.js';
import { encodePng } from './encode.js';
import { gridRegion, hasSubject, normaliseSaliency, subjectGrid, type SubjectMode } from './mask.js';
import { mirrorModelInput, mirrorRows, toModelInput } from './preprocess.js';
import { calibrateGrid, refineEdges, wantsEdgeFilter } from './refine.js';
import type { Segmenter } from './segment.js';
import type { StageTimer } from './timings.js';

export type { Box } from './compose.js';
export type { SubjectMode } from './mask.js';
export const SUBJECT_MODES = ['largest', 'group', 'all'] as const satisfies readonly SubjectMode[];
export const QUALITIES = ['standard', 'high'] as const satisfies readonly Quality[];

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
  /**
   * Calibrate the soft alpha and, on large images, fit its edge to the image's (refine.ts); false
   * keeps the model's own soft values, as the reference implementation gives them.
   */
  refine: boolean;
  /** 'high' averages the model's view of the image and of its mirror image: twice the inference. */
  quality: Quality;
}

export type Quality = 'standard' | 'high';

export interface RemovalResult {
  png: Buffer;
  /** The input's size after orientation. */
  width: number;
  height: number;
  /** The subject's box grown by the margin, in input pixels (what `crop` cuts out). */
  box: Box;
}

export interface PipelineContext {
  segmenter: Pick<Segmenter, 'predict'>;
  maxPixels: number;
  /** zlib level of the PNG (0-9). */
  pngCompressionLevel: number;
  timer: StageTimer;
  /** Checked between stages: work for a caller that has gone, or is past its deadline, stops there. */
  signal?: AbortSignal;
}

/** `map` averaged, in place, with the model's map of the mirrored image, mirrored back. */
function averageMirrored(map: Float32Array, mirrored: Float32Array): Float32Array {
  const back = new Float32Array(map.length);
  mirrorRows(mirrored, back);
  for (let i = 0; i < map.length; i++) map[i] = (map[i]! + back[i]!) / 2;
  return map;
}

function noForeground(): ServiceError {
  return new ServiceError('no_foreground', 'the model found no subject in the image');
}

export async function removeBackground(bytes: Buffer, options: RemovalOptions, context: PipelineContext): Promise<RemovalResult> {
  const { segmenter, timer, signal } = context;

  signal?.throwIfAborted();
  const { image, input } = await timer.time('decode', async () => {
    const image = await decodeImage(bytes, { maxPixels: context.maxPixels });
    return { image, input: toModelInput(await modelPixels(image)) };
  });

  signal?.throwIfAborted();
  const d0 = await timer.time('infer', () => segmenter.predict(input));
  let saliency = normaliseSaliency(d0);
  // Whether there is a subject is judged on the first view alone, so both qualities agree on it.
  if (!hasSubject(saliency)) throw noForeground();
  if (options.quality === 'high') {
    signal?.throwIfAborted();
    const first = d0.slice(); // the runtime owns d0's memory
    const mirrored = await timer.time('infer', () => segmenter.predict(mirrorModelInput(input)));
    saliency = normaliseSaliency(averageMirrored(first, mirrored));
  }

  // The subject's alpha is computed only where the kept grid cells reach, and written into the
  // decoded image's alpha channel.
  const { region, subjectBox: gridBox } = await timer.time('mask', async () => {
    const grid = subjectGrid(saliency.map, options.threshold, options.subject);
    const region = grid && gridRegion(grid, image.width, image.height);
    if (!grid || !region) throw noForeground();
    if (options.refine) calibrateGrid(grid);
    const subjectBox = applySubjectAlpha(image, grid, region);
    if (!subjectBox) throw noForeground();
    return { region, subjectBox };
  });

  let subjectBox = gridBox;
  if (options.refine && wantsEdgeFilter(image)) {
    signal?.throwIfAborted();
    const refined = await timer.time('refine', () => refineEdges(image, region));
    if (!refined) throw noForeground();
    subjectBox = refined;
  }

  signal?.throwIfAborted();
  const box = padBox(subjectBox, options.margin, image.width, image.height);
  const output: Box = options.crop ? box : { left: 0, top: 0, width: image.width, height: image.height };
  const png = await timer.time('encode', () => {
    clearAlphaOutside(image, region, output);
    return encodePng(image, output, options.channels, { compressionLevel: context.pngCompressionLevel });
  });

  return { png, width: image.width, height: image.height, box };
}
