// The whole cutout, from image bytes to encoded image bytes, without any HTTP: decode, infer, mask, encode.
import { ServiceError } from '../errors.js';
import { prepareBackdrop, type Background } from './background.js';
import { applySubjectAlpha, clearHidden, clearOutside, marginPixels, padBox, type Box, type Margin } from './compose.js';
import { decodePixels, LARGE_IMAGE_PIXELS, modelPixelsFromBytes, readHeader, type DecodedImage, type ImageHeader } from './decode.js';
import { encodeImage, outputSize, ownsPng, type OutputFormat } from './encode.js';
import { estimateForeground } from './foreground.js';
import { clearHiddenShared, estimateForegroundShared, MIN_SHARED_COLOUR_PIXELS, refineEdgesShared, worthSharing, type RowPool, type SharedPixels } from './row-pool.js';
import { gridRegion, normaliseSaliency, subjectGrid, type SubjectMode } from './mask.js';
import { hasSubject, imageFigures } from './no-subject.js';
import { mirrorModelInput, mirrorRows, toModelInput } from './preprocess.js';
import { layoutResult, composeResult, type PlacementOptions } from './placement.js';
import { calibrateGrid, refineEdges, wantsEdgeFilter } from './refine.js';
import { clipToRoi, restrictMap, roiBox, type Roi } from './roi.js';
import type { ShadowOptions } from './shadow.js';
import type { Segmenter } from './segment.js';
import type { StageTimer } from './timings.js';

export type { Background, Colour } from './background.js';
export type { Box, Margin } from './compose.js';
export type { OutputFormat } from './encode.js';
export type { Canvas, PlacementOptions, Position } from './placement.js';
export type { Roi } from './roi.js';
export type { ShadowOptions } from './shadow.js';
export type { SubjectMode } from './mask.js';
export const SUBJECT_MODES = ['largest', 'group', 'all'] as const satisfies readonly SubjectMode[];
export const ACCURACIES = ['standard', 'high'] as const satisfies readonly Accuracy[];
export { isLargeImage, LARGE_IMAGE_PIXELS, readHeader, type ImageHeader } from './decode.js';

export interface RemovalOptions {
  /** Crop to the subject's box (plus margin); false keeps the input's size. */
  crop: boolean;
  /** Padding around the subject's box (pixels, or a percentage of its larger side), clamped to the image. */
  margin: Margin;
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
  accuracy: Accuracy;
  /**
   * Estimate the subject's own colour in the soft edge (foreground.ts), for 'rgba' results; false
   * keeps the input's colours there, the old background mixed in. Unset is true. Not in the HTTP
   * API: the evaluation compares the two (scripts/eval/edge-colour.ts).
   */
  foreground?: boolean;
  /** Only what lies inside can be the subject (roi.ts); unset, the whole image. */
  roi?: Roi;
}

export type Accuracy = 'standard' | 'high';

/** How the result is encoded and what it is put on. */
export interface OutputOptions {
  format: OutputFormat;
  /** 1-100, for WebP and JPEG. */
  quality: number;
  background: Background;
  /** Scale the result down (after cropping) so neither side exceeds this; unset keeps its size. */
  maxDimension?: number;
  /** A canvas of a fixed size with the subject placed on it (placement.ts); unset, the crop decides the size. */
  placement?: PlacementOptions;
  /** A shadow under the subject, made from its alpha (shadow.ts). */
  shadow?: ShadowOptions;
}

/** A transparent PNG at the crop's own size. */
export const DEFAULT_OUTPUT: Readonly<OutputOptions> = Object.freeze<OutputOptions>({ format: 'png', quality: 90, background: { kind: 'transparent' } });

export interface RemovalResult {
  /** The encoded result, in `format`. */
  image: Buffer;
  format: OutputFormat;
  /** The input's size after orientation. */
  width: number;
  height: number;
  /** The subject's box grown by the margin, in input pixels (what `crop` cuts out). */
  box: Box;
  /** The result's size: the box's (or the input's, uncropped), scaled down to `maxDimension`. */
  outputWidth: number;
  outputHeight: number;
  /** The subject's box in the result's own pixels. */
  subject: Box;
  /** Result pixels per input pixel: above 1 the subject was enlarged. */
  scale: number;
}

export interface PipelineContext {
  segmenter: Pick<Segmenter, 'predict'>;
  maxPixels: number;
  /** zlib level of PNG results (0-9). */
  pngCompressionLevel: number;
  timer: StageTimer;
  /** Checked between stages: work for a caller that has gone, or is past its deadline, stops there. */
  signal?: AbortSignal;
  /** The image's header, when the caller has read it already (see readHeader). */
  header?: ImageHeader;
  /** The largest canvas (width x height) a request may ask for; unset, no limit. */
  maxCanvasPixels?: number;
  /**
   * Images of up to this many pixels are decoded at full size while the model runs; larger ones
   * after it, when the inference's buffers are freed. Unset: LARGE_IMAGE_PIXELS.
   */
  decodeAlongsideMaxPixels?: number;
  /** A worker for half the rows of the edge filter and the colour step (row-pool.ts); unset, one thread. */
  rows?: RowPool;
  /**
   * Subject regions (and images) of at least this many pixels are shared with `rows`, for every
   * pass; unset: MIN_SHARED_PIXELS, and MIN_SHARED_COLOUR_PIXELS for the colour step and the decode.
   */
  minSharedPixels?: number;
}

/** `map` averaged, in place, with the model's map of the mirrored image, mirrored back. */
function averageMirrored(map: Float32Array, mirrored: Float32Array): Float32Array {
  const back = new Float32Array(map.length);
  mirrorRows(mirrored, back);
  for (let i = 0; i < map.length; i++) map[i] = (map[i]! + back[i]!) / 2;
  return map;
}

function noForeground(roi?: Box): ServiceError {
  return new ServiceError('no_foreground', roi ? 'the model found no subject inside the roi' : 'the model found no subject in the image');
}

export async function removeBackground(
  bytes: Buffer,
  options: RemovalOptions,
  context: PipelineContext,
  output: Readonly<OutputOptions> = DEFAULT_OUTPUT,
): Promise<RemovalResult> {
  const { segmenter, timer, signal } = context;

  signal?.throwIfAborted();
  const limits = { maxPixels: context.maxPixels };
  const header = context.header ?? (await timer.time('decode', () => readHeader(bytes, limits)));
  const roi = options.roi && roiBox(options.roi, header.width, header.height);
  // The model's view is decoded straight from the bytes (small, for JPEG); the full-resolution
  // decode starts beside it and runs on alongside the inference, up to a size. A larger image is
  // decoded after the inference instead, so its pixels never share memory with the inference's
  // buffers: for formats other than JPEG that is a second full decode (README, Performance).
  const overlap = header.width * header.height <= Math.min(context.decodeAlongsideMaxPixels ?? LARGE_IMAGE_PIXELS, LARGE_IMAGE_PIXELS);
  const decode = () => {
    const decoding = decodePixels(bytes, header, limits);
    decoding.catch(() => {}); // awaited below; never an unhandled rejection meanwhile
    return decoding;
  };
  let decoding: Promise<DecodedImage> | undefined;
  let lease: SharedPixels | undefined;
  try {
    // An image large enough for the row worker to share in is decoded by the worker, straight into
    // the shared memory (row-pool.ts decodeShared): no copy of its own here, and no copy to make.
    const shared = overlap && worthSharing(context.rows, header, context.minSharedPixels ?? MIN_SHARED_COLOUR_PIXELS) ? context.rows.decodeShared(bytes, header, limits) : undefined;
    if (shared) {
      lease = shared.lease;
      decoding = shared.decoding;
      decoding.catch(() => {}); // awaited below; never an unhandled rejection meanwhile
    } else if (overlap) decoding = decode();

    // The background is prepared here too, from the model's view of the image (see background.ts).
    const { modelView, input, backdrop } = await timer.time('decode', async () => {
      const modelView = await modelPixelsFromBytes(bytes, header, limits);
      const backdrop = await prepareBackdrop(output.background, header, { opaque: output.format === 'jpeg', maxPixels: limits.maxPixels, modelView });
      return { modelView, input: toModelInput(modelView), backdrop };
    });

    signal?.throwIfAborted();
    const d0 = await timer.time('infer', () => segmenter.predict(input));
    let saliency = normaliseSaliency(d0);
    // Whether there is a subject is judged on the first view alone, so both accuracies agree on it.
    if (!hasSubject(saliency.peak, () => imageFigures(modelView))) throw noForeground();
    if (options.accuracy === 'high') {
      signal?.throwIfAborted();
      const first = d0.slice(); // the runtime owns d0's memory
      const mirrored = await timer.time('infer', () => segmenter.predict(mirrorModelInput(input)));
      saliency = normaliseSaliency(averageMirrored(first, mirrored));
    }
    if (roi) restrictMap(saliency.map, roi, header.width, header.height);
    signal?.throwIfAborted();
    let image = await timer.time('decode', () => (decoding ??= decode()));
    decoding = undefined; // settled; and the pixels may be replaced by a shared copy below

    // The subject's alpha is computed only where the kept grid cells reach, and written into the
    // decoded image's alpha channel: resized from the grid, or, with the edge filter, by the filter.
    const edgeFilter = options.refine && wantsEdgeFilter(image);
    const { grid, region, subjectBox: resized } = await timer.time('mask', async () => {
      const grid = subjectGrid(saliency.map, options.threshold, options.subject);
      const region = grid && clipToRoi(gridRegion(grid, image.width, image.height), roi);
      if (!grid || !region) throw noForeground(roi);
      if (options.refine) calibrateGrid(grid);
      return { grid, region, subjectBox: edgeFilter ? null : applySubjectAlpha(image, grid, region) };
    });
    signal?.throwIfAborted();
    const colour = options.channels === 'rgba' && options.foreground !== false;
    const { rows } = context;
    // The two threads' passes run on the pool's shared memory (holding the image already, or a copy
    // of it now), for a region worth the hand-over; while another request holds it, on one thread.
    const sharing = (edgeFilter || colour) && worthSharing(rows, region, context.minSharedPixels) ? rows : undefined;
    if (sharing && !lease) {
      lease = await timer.time('decode', () => sharing.lend(image));
      if (lease) image = { ...image, pixels: lease.pixels };
    }
    const pool = lease ? sharing : undefined;
    const colourPool = pool && worthSharing(pool, region, context.minSharedPixels ?? MIN_SHARED_COLOUR_PIXELS) ? pool : undefined;
    const subjectBox = edgeFilter
      ? await timer.time('refine', () => (pool ? refineEdgesShared(pool, image, grid, region) : refineEdges(image, grid, region)))
      : resized;
    if (!subjectBox) throw noForeground(roi);

    signal?.throwIfAborted();
    const box = padBox(subjectBox, marginPixels(options.margin, subjectBox), image.width, image.height);
    const kept: Box = options.crop ? box : { left: 0, top: 0, width: image.width, height: image.height };
    const size = outputSize(kept, output.maxDimension);
    // Before clearHidden: the estimate reads the background's colours around the edge.
    if (colour) await timer.time('colour', () => (colourPool ? estimateForegroundShared(colourPool, image, region) : estimateForeground(image, region)));
    const layout = layoutResult(subjectBox, kept, size, image, output.placement, context.maxCanvasPixels);
    const { pngCompressionLevel } = context;
    const encoded = await timer.time('encode', async () => {
      if (output.placement || output.shadow) {
        return composeResult(image, subjectBox, layout, { ...output, pngCompressionLevel, channels: options.channels, backdrop, kept: output.placement ? undefined : kept });
      }
      const encoding = { format: output.format, quality: output.quality, pngCompressionLevel, ...size, backdrop, ...(pool && { rows: pool }) };
      // png.ts encodes hidden pixels as zeros itself; libvips needs them cleared.
      if (ownsPng(kept, options.channels, encoding)) clearOutside(image, region, kept);
      else if (pool) await clearHiddenShared(pool, image, region, kept);
      else clearHidden(image, region, kept);
      return encodeImage(image, kept, options.channels, encoding);
    });

    return {
      image: encoded,
      format: output.format,
      width: image.width,
      height: image.height,
      box,
      outputWidth: layout.width,
      outputHeight: layout.height,
      subject: layout.subject,
      scale: layout.scale,
    };
  } catch (error) {
    // The work slot is given back as soon as this fails (no subject, an abort, a bad background); a
    // full decode still running would outlive it and share memory with the next request's.
    await decoding?.catch(() => {});
    throw error;
  } finally {
    lease?.release(); // after the encode, which reads the pixels
  }
}
