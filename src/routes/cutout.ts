// Runs the pipeline for an admitted request, the same way for every route that makes cutouts.
import type { FastifyInstance } from 'fastify';
import { isLargeImage, readHeader, removeBackground, type OutputOptions, type RemovalOptions, type RemovalResult } from '../pipeline/index.js';
import type { StageTimer } from '../pipeline/timings.js';
import type { Ticket } from '../work-queue.js';

/**
 * Reads the image's header first (cheap: a file that is not an image, or has too many pixels, is
 * refused without waiting for a slot), then runs the pipeline in the request's work slot. A large
 * image takes every slot, so it runs alone (see LARGE_IMAGE_PIXELS).
 */
export async function cutOut(
  app: FastifyInstance,
  ticket: Ticket,
  bytes: Buffer,
  removal: RemovalOptions,
  output: OutputOptions,
  timer: StageTimer,
  signal: AbortSignal,
): Promise<RemovalResult> {
  const maxPixels = app.config.MAX_INPUT_PIXELS;
  const header = await timer.time('decode', () => readHeader(bytes, { maxPixels }));
  const context = {
    segmenter: app.model.segmenter,
    rows: app.model.rows,
    maxPixels,
    pngCompressionLevel: app.config.PNG_COMPRESSION_LEVEL,
    maxCanvasPixels: app.config.MAX_CANVAS_PIXELS,
    decodeAlongsideMaxPixels: app.config.DECODE_ALONGSIDE_MAX_PIXELS,
    timer,
    signal,
    header,
  };
  return ticket.run(() => removeBackground(bytes, removal, context, output), signal, isLargeImage(header) ? app.config.MAX_CONCURRENCY : 1);
}
