// POST /remove-background: an image URL in, a transparent PNG of its subject out.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { removeBackground } from '../pipeline/index.js';
import { StageTimer } from '../pipeline/timings.js';
import { workSignal } from './work-signal.js';

export const RemoveBackgroundBody = Type.Object(
  {
    image_url: Type.String({ format: 'uri', maxLength: 8192, description: 'The image to process: an absolute http or https URL.' }),
    crop: Type.Boolean({ default: true, description: "Crop to the kept subject's box (plus margin); false keeps the input's size." }),
    margin: Type.Integer({ minimum: 0, maximum: 10_000, default: 0, description: "Pixels added around the subject's box, clamped to the image." }),
    subject: Type.Union([Type.Literal('largest'), Type.Literal('group'), Type.Literal('all')], {
      default: 'largest',
      description:
        'Keep only the largest connected subject; the largest with the regions that belong with it ("group": at least ' +
        'a fifth of its size, or at least 1 % of it and close by); or every foreground region.',
    }),
    channels: Type.Union([Type.Literal('rgba'), Type.Literal('alpha')], {
      default: 'rgba',
      description: '"rgba" for the cutout; "alpha" for the mask alone as a greyscale PNG.',
    }),
    // --- Cutout quality (with `subject` above). README, API and Quality: each option's measured effect and cost.
    refine: Type.Boolean({
      default: true,
      description:
        "Calibrate the model's soft alpha and, on images 640 px or more across, fit its edge to the image's own edges; " +
        "false keeps the model's own soft values, as the reference implementation gives them.",
    }),
    quality: Type.Union([Type.Literal('standard'), Type.Literal('high')], {
      default: 'standard',
      description: '"high" also runs the model on the mirrored image and averages the two views: about twice the inference time.',
    }),
    // --- end of cutout quality
  },
  { additionalProperties: false },
);

const removeBackgroundRoute: FastifyPluginAsyncTypebox = async (app) => {
  app.post('/remove-background', { schema: { body: RemoveBackgroundBody } }, async (request, reply) => {
    const { image_url: imageUrl, ...options } = request.body;
    const timer = new StageTimer();
    // Admitted before anything is downloaded, so a crowd of clients cannot pile bodies up in memory.
    const ticket = app.queue.admit();
    const work = workSignal(request, reply, app.config.REQUEST_DEADLINE_MS, () => app.queue.retryAfterSeconds());
    const { signal } = work;
    try {
      await app.model.warmed;
      const bytes = await timer.time('fetch', () => app.downloader.download(imageUrl, signal));
      const result = await ticket.run(
        () =>
          removeBackground(
            bytes,
            { ...options, threshold: app.config.MASK_THRESHOLD },
            {
              segmenter: app.model.segmenter,
              maxPixels: app.config.MAX_INPUT_PIXELS,
              pngCompressionLevel: app.config.PNG_COMPRESSION_LEVEL,
              timer,
              signal,
            },
          ),
        signal,
      );
      const { box } = result;
      return reply
        .type('image/png')
        .headers({
          'x-width': result.width,
          'x-height': result.height,
          'x-foreground-left': box.left,
          'x-foreground-top': box.top,
          'x-foreground-width': box.width,
          'x-foreground-height': box.height,
          'server-timing': timer.serverTiming(),
        })
        .send(result.png);
    } finally {
      ticket.release();
      work.dispose();
      request.stageTimings = timer.summary();
    }
  });
};

export default removeBackgroundRoute;
