// POST /remove-background: an image in (a URL as JSON, or a file as multipart/form-data), its
// subject out: a transparent PNG by default, or WebP or JPEG, on a colour, the blurred original or
// another image. Both forms share one option schema; the pipeline does the work.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { ServiceError, type ErrorCode } from '../errors.js';
import { applyPreset, formOptions, pipelineOptions, PRESETS, RemoveBackgroundBody, UploadFields, type RequestedBackground } from '../options.js';
import { aboutBackground } from '../pipeline/background.js';
import { CONTENT_TYPES } from '../pipeline/encode.js';
import type { Background } from '../pipeline/index.js';
import { StageTimer } from '../pipeline/timings.js';
import { binaryResponse, errorResponses, REQUEST_ID_HEADER, WORK_ERRORS } from './responses.js';
import { cutOut } from './cutout.js';
import { readUpload } from './uploads.js';
import { workSignal } from './work-signal.js';

// The options' schema and reading live in src/options.ts (the command line shares them); still importable from here.
export { applyPreset, formOptions, PRESETS, RemoveBackgroundBody, UploadFields };

/** The upload form as documented (the route reads it itself: see readUpload). */
const UploadForm = Type.Object({
  image_file: Type.String({ format: 'binary', description: 'The image to process. Same formats and byte limit as image_url.' }),
  ...UploadFields.properties,
});

const headerSchema = (description: string) => Type.Integer({ description });
const RESULT_HEADERS = {
  'x-width': headerSchema("The input's width, after EXIF orientation."),
  'x-height': headerSchema("The input's height, after EXIF orientation."),
  'x-foreground-left': headerSchema("The crop box in input pixels: the subject's box grown by margin, clamped to the image."),
  'x-foreground-top': headerSchema('The crop box in input pixels (top).'),
  'x-foreground-width': headerSchema('The crop box in input pixels (width). Equals the result\'s width when crop is true and max_dimension does not shrink it.'),
  'x-foreground-height': headerSchema('The crop box in input pixels (height).'),
  'x-output-width': headerSchema("The result's width: the crop box's (or the input's, uncropped), scaled down to max_dimension."),
  'x-output-height': headerSchema("The result's height."),
  'x-subject-left': headerSchema("The subject's box in the result's own pixels (left), so results can be laid out without decoding them."),
  'x-subject-top': headerSchema("The subject's box in the result's pixels (top)."),
  'x-subject-width': headerSchema("The subject's box in the result's pixels (width)."),
  'x-subject-height': headerSchema("The subject's box in the result's pixels (height)."),
  'x-subject-scale': Type.Number({ description: 'Result pixels per input pixel for the subject. Above 1 it was enlarged (a canvas and fill ask for more pixels than the input has).' }),
  'x-subject-upscaled': Type.Union([Type.Literal('true'), Type.Literal('false')], { description: '"true" when the subject was enlarged (X-Subject-Scale above 1).' }),
  'server-timing': Type.String({ description: 'Milliseconds per stage: fetch (download or upload), decode, infer, mask, refine (when the edge filter ran), colour (the colours of the soft edge, for rgba results), encode, total.' }),
  ...REQUEST_ID_HEADER,
};

const ERRORS: readonly ErrorCode[] = [
  ...WORK_ERRORS,
  'invalid_request',
  'unsupported_url',
  'forbidden_address',
  'forbidden_host',
  'too_large',
  'too_many_pixels',
  'unsupported_media_type',
  'image_decode_failed',
  'no_foreground',
  'source_status',
  'too_many_redirects',
  'source_unreachable',
  'source_timeout',
];

/**
 * The image's bytes, and the background image's, downloaded at the same time under the request's
 * signal. When one fails, the other is stopped.
 */
async function fetchImages(
  app: FastifyInstance,
  source: string | Buffer,
  background: RequestedBackground,
  signal: AbortSignal,
): Promise<{ bytes: Buffer; background: Background }> {
  const sibling = new AbortController();
  const both = AbortSignal.any([signal, sibling.signal]);
  try {
    const [bytes, resolved] = await Promise.all([
      typeof source === 'string' ? app.downloader.download(source, both) : source,
      background.kind === 'url'
        ? app.downloader.download(background.url, both).then(
            (image): Background => ({ kind: 'image', bytes: image }),
            (error: unknown) => {
              throw aboutBackground(error);
            },
          )
        : background,
    ]);
    return { bytes, background: resolved };
  } catch (error) {
    sibling.abort();
    throw error;
  }
}

const removeBackgroundRoute: FastifyPluginAsyncTypebox = async (app) => {
  app.post(
    '/remove-background',
    {
      schema: {
        summary: 'Remove the background of an image',
        description:
          'Send `{"image_url": ...}` as JSON, or upload the file as multipart/form-data in `image_file` with the options as fields ' +
          '(a background image as `background={"image_url":"..."}`). The answer is the image, in the requested format.',
        // JSON bodies are validated here; multipart forms are read by the handler (see UploadForm and
        // readUpload) and checked against the same options with TypeBox.
        body: { content: { 'application/json': { schema: RemoveBackgroundBody } } },
        response: {
          200: binaryResponse('The subject, as an image.', Object.values(CONTENT_TYPES), RESULT_HEADERS),
          ...errorResponses(ERRORS),
        },
      },
      config: { form: UploadForm },
      // A preset's values go under the body's own fields before the schema fills in defaults.
      preValidation: async (request) => {
        if (typeof request.body === 'object' && request.body !== null && !Array.isArray(request.body)) {
          request.body = applyPreset(request.body as Record<string, unknown>);
        }
      },
    },
    async (request, reply) => {
      const timer = new StageTimer();
      // Admitted before anything is downloaded or read, so a crowd of clients cannot pile images up in memory.
      const ticket = app.queue.admit(request.apiKeyLabel);
      const work = workSignal(request, reply, app.config.REQUEST_DEADLINE_MS, () => app.queue.retryAfterSeconds());
      const { signal } = work;
      try {
        let source: string | Buffer;
        let body: UploadFields;
        if (request.isMultipart()) {
          const upload = await timer.time('fetch', () =>
            readUpload(request, reply, { fileField: 'image_file', maxFileBytes: app.config.MAX_DOWNLOAD_BYTES, others: 'refuse', signal }),
          );
          if (!upload.file) throw new ServiceError('invalid_request', 'the form has no image_file part: send the image as image_file=@photo.jpg');
          source = upload.file.bytes;
          body = formOptions(upload.fields);
        } else {
          // JSON bodies were validated; a request without any body reaches here unchecked.
          if (request.body === undefined) {
            throw new ServiceError('invalid_request', 'send {"image_url": ...} as JSON, or the image as multipart/form-data in image_file');
          }
          const { image_url: imageUrl, ...options } = request.body as RemoveBackgroundBody;
          source = imageUrl;
          body = options;
        }
        const { removal, output, background } = pipelineOptions(body, { defaultThreshold: app.config.MASK_THRESHOLD, maxCanvasPixels: app.config.MAX_CANVAS_PIXELS });
        await app.model.warmed;
        const images = await timer.time('fetch', () => fetchImages(app, source, background, signal));
        const result = await cutOut(app, ticket, images.bytes, removal, { ...output, background: images.background }, timer, signal);
        const { box } = result;
        return reply
          .type(CONTENT_TYPES[result.format])
          .headers({
            'x-width': result.width,
            'x-height': result.height,
            'x-foreground-left': box.left,
            'x-foreground-top': box.top,
            'x-foreground-width': box.width,
            'x-foreground-height': box.height,
            'x-output-width': result.outputWidth,
            'x-output-height': result.outputHeight,
            'x-subject-left': result.subject.left,
            'x-subject-top': result.subject.top,
            'x-subject-width': result.subject.width,
            'x-subject-height': result.subject.height,
            'x-subject-scale': Number(result.scale.toFixed(4)),
            'x-subject-upscaled': result.scale > 1 ? 'true' : 'false',
            'server-timing': timer.serverTiming(),
          })
          .send(result.image);
      } finally {
        ticket.release();
        work.dispose();
        request.stageTimings = timer.summary();
      }
    },
  );
};

export default removeBackgroundRoute;
