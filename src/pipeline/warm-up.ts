// One run of the whole pipeline before the service says it is ready, so the first real request
// pays neither onnxruntime's lazy set-up nor the JavaScript engine's first compilation of the mask
// code (about 40 ms) nor libvips' first use of each operation.
import sharp from 'sharp';
import { removeBackground } from './index.js';
import type { RowPool } from './row-pool.js';
import type { Segmenter } from './segment.js';
import { StageTimer } from './timings.js';

export async function warmUp(segmenter: Segmenter, rows?: RowPool): Promise<void> {
  const scene = Buffer.from(
    '<svg xmlns="http://www.w3.org/2000/svg" width="640" height="480"><rect width="100%" height="100%" fill="#fff"/>' +
      '<circle cx="320" cy="240" r="140" fill="#c03020"/></svg>',
  );
  const image = await sharp(scene).jpeg().toBuffer();
  await removeBackground(
    image,
    { crop: true, margin: 0, subject: 'largest', channels: 'rgba', threshold: 0.5, refine: true, accuracy: 'standard' },
    // The worker's half too, whatever the region's size, so its code is compiled before a large photo needs it.
    { segmenter, maxPixels: 640 * 480, pngCompressionLevel: 1, timer: new StageTimer(), ...(rows && { rows, minSharedPixels: 0 }) },
  );
}
