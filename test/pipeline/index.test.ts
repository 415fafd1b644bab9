// The pipeline as a whole, with a stand-in for the model: what removeBackground leaves running when
// it fails. (Cutouts themselves are tested through the routes, and against the reference model in
// the parity test.)
import sharp from 'sharp';
import t from 'tap';
import { ServiceError } from '../../src/errors.js';
import { removeBackground, type RemovalOptions } from '../../src/pipeline/index.js';
import { MODEL_SIZE } from '../../src/pipeline/preprocess.js';
import { StageTimer } from '../../src/pipeline/timings.js';

const OPTIONS: RemovalOptions = {
  crop: true, margin: 0, subject: 'largest', channels: 'rgba', threshold: 0.3, refine: true, accuracy: 'standard',
};

// A model that answers at once and sees nothing: the request fails with no_foreground while the
// JPEG's full-resolution decode, started alongside the inference, is still under way.
const blindModel = { predict: async () => new Float32Array(MODEL_SIZE * MODEL_SIZE) };

const noisyJpeg = (width: number, height: number): Promise<Buffer> =>
  sharp({ create: { width, height, channels: 3, background: '#808080', noise: { type: 'gaussian', mean: 128, sigma: 60 } } })
    .jpeg({ quality: 95 })
    .toBuffer();

t.test('a failed request leaves no decode running behind it, so its work slot frees its memory too', async (t) => {
  const bytes = await noisyJpeg(4000, 3000);
  for (let attempt = 0; attempt < 3; attempt++) {
    const context = { segmenter: blindModel, maxPixels: 50_000_000, pngCompressionLevel: 1, timer: new StageTimer() };
    const failure = await removeBackground(bytes, OPTIONS, context).then(
      () => null,
      (error: unknown) => error,
    );
    t.ok(failure instanceof ServiceError && failure.code === 'no_foreground', 'no subject found');
    t.same(sharp.counters(), { queue: 0, process: 0 }, 'libvips has nothing queued or running once it has failed');
  }
});
