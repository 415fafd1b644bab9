// POST /remove-background: an image in (a URL as JSON, or a file as multipart/form-data), its
// subject out: a transparent PNG by default, or WebP or JPEG, on a colour, the blurred original or
// another image. Both forms share one option schema; the pipeline does the work.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type, type Static } from 'typebox';
import Value from 'typebox/value';
import { ServiceError, type ErrorCode } from '../errors.js';
import { aboutBackground, parseColour } from '../pipeline/background.js';
import { CONTENT_TYPES, OUTPUT_FORMATS } from '../pipeline/encode.js';
import { ACCURACIES, SUBJECT_MODES, type Background, type Margin, type OutputOptions, type RemovalOptions } from '../pipeline/index.js';
import { StageTimer } from '../pipeline/timings.js';
import { expecting, validationError } from '../validation.js';
import { binaryResponse, errorResponses, REQUEST_ID_HEADER, WORK_ERRORS } from './responses.js';
import { cutOut } from './cutout.js';
import { readUpload } from './uploads.js';
import { workSignal } from './work-signal.js';

const imageUrl = (description: string) =>
  Type.String({ format: 'uri', maxLength: 8192, description, ...expecting('an absolute http or https URL', 'unsupported_url') });

export const RemoveBackgroundBody = Type.Object(
  {
    image_url: imageUrl('The image to process: an absolute http or https URL.'),
    crop: Type.Boolean({ default: true, description: "Crop to the kept subject's box (plus margin); false keeps the input's size." }),
    margin: Type.Union(
      [
        Type.Integer({ minimum: 0, maximum: 10_000, description: 'Pixels.' }),
        Type.String({
          pattern: '^(100|[1-9]?[0-9])(\\.[0-9]{1,2})?%$',
          description: 'A percentage of the larger side of the subject\'s box, 0% to 100%, e.g. "10%".',
          ...expecting('a percentage from 0% to 100% such as "10%"'),
        }),
      ],
      { default: 0, description: "Padding on every side of the subject's box, clamped to the image." },
    ),
    subject: Type.Union(
      SUBJECT_MODES.map((mode) => Type.Literal(mode)),
      {
        default: 'largest',
        description:
          'Keep only the largest connected subject; the largest with the regions that belong with it ("group": at least ' +
          'a fifth of its size, or at least 1 % of it and close by); or every foreground region ("all").',
      },
    ),
    channels: Type.Union([Type.Literal('rgba'), Type.Literal('alpha')], {
      default: 'rgba',
      description: '"rgba" for the cutout; "alpha" for the mask alone, as a greyscale image (no background then).',
    }),
    // ---- Output options: format, quality, background, max_dimension, threshold. ----
    format: Type.Union(
      OUTPUT_FORMATS.map((format) => Type.Literal(format)),
      { default: 'png', description: 'The encoding of the result. JPEG has no alpha: without a background it is put on white.' },
    ),
    quality: Type.Integer({ minimum: 1, maximum: 100, default: 90, description: 'Quality of webp and jpeg results (ignored for png).' }),
    background: Type.Union(
      [
        Type.Literal('transparent', { description: 'No background (white for jpeg).' }),
        Type.Literal('blur', { description: 'The original image, blurred (sigma 2 % of its longer side), behind the subject.' }),
        Type.String({
          pattern: '^#([0-9a-fA-F]{3}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})$',
          description: 'A colour: #rgb, #rrggbb, or #rrggbbaa with alpha (a translucent colour leaves the result translucent, except as jpeg).',
          ...expecting('a colour such as #f4f4f4 (#rgb, #rrggbb, #rrggbbaa)'),
        }),
        Type.Object(
          { image_url: imageUrl('An image fetched like image_url (same safety rules and limits), scaled to cover the result, centred.') },
          { additionalProperties: false },
        ),
      ],
      { default: 'transparent', description: 'What the subject is put on. Any background but a translucent colour leaves no transparency at all.' },
    ),
    max_dimension: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 100_000, description: 'Scale the result down (after cropping) so neither side exceeds this many pixels. Never scales up.' }),
    ),
    threshold: Type.Optional(
      Type.Number({
        minimum: 0.05,
        maximum: 0.95,
        description: 'Mask level (after normalising the model\'s map to 0..1) above which a pixel counts as subject when regions are found. Lower keeps more. Default: the MASK_THRESHOLD setting (0.3).',
      }),
    ),
    // ---- End of output options. ----
    // ---- Cutout quality (with `subject` above): see the README's Quality section for each option's measured effect and cost. ----
    refine: Type.Boolean({
      default: true,
      description:
        "Calibrate the model's soft alpha and, on images 640 px or more across, fit its edge to the image's own edges; " +
        "false keeps the model's own soft values, as the reference implementation gives them.",
    }),
    accuracy: Type.Union(
      ACCURACIES.map((accuracy) => Type.Literal(accuracy)),
      { default: 'standard', description: '"high" also runs the model on the mirrored image and averages the two views: about twice the inference time.' },
    ),
    // ---- End of cutout quality. ----
  },
  { additionalProperties: false },
);

type RemoveBackgroundBody = Static<typeof RemoveBackgroundBody>;

/** The same options as form fields, for uploads: everything but image_url (the file comes in image_file). */
export const UploadFields = Type.Omit(RemoveBackgroundBody, ['image_url'], { additionalProperties: false });
type UploadFields = Static<typeof UploadFields>;

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
  'server-timing': Type.String({ description: 'Milliseconds per stage: fetch (download or upload), decode, infer, mask, refine (when the edge filter ran), encode, total.' }),
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

/** Form fields as the option schema's values: converted, defaulted and checked against the same schema as JSON bodies. */
export function formOptions(fields: Record<string, unknown>): UploadFields {
  const raw = { ...fields };
  // A background image comes as JSON in a text field: background={"image_url":"..."}.
  if (typeof raw.background === 'string' && raw.background.trimStart().startsWith('{')) {
    try {
      raw.background = JSON.parse(raw.background) as unknown;
    } catch {
      throw new ServiceError('invalid_request', 'the field background is neither a colour, "transparent", "blur" nor valid JSON');
    }
  }
  const value = Value.Convert(UploadFields, Value.Default(UploadFields, raw));
  const error = validationError(UploadFields, value, 'the form');
  if (error) throw error;
  return value as UploadFields;
}

/** A background as asked for: a background image is still a URL here. */
type RequestedBackground = Exclude<Background, { kind: 'image' }> | { kind: 'url'; url: string };

/** The request's options as the pipeline's. */
function pipelineOptions(
  body: UploadFields,
  defaultThreshold: number,
): { removal: RemovalOptions; output: Omit<OutputOptions, 'background'>; background: RequestedBackground } {
  const { format, quality, background, max_dimension: maxDimension, threshold, margin, ...removal } = body;
  if (removal.channels === 'alpha' && background !== 'transparent') {
    throw new ServiceError('invalid_request', 'channels "alpha" answers the mask alone, which has no background: leave background out');
  }
  return {
    removal: { ...removal, margin: parseMargin(margin), threshold: threshold ?? defaultThreshold },
    output: { format, quality, maxDimension },
    background:
      typeof background === 'object'
        ? { kind: 'url', url: background.image_url }
        : background === 'transparent' || background === 'blur'
          ? { kind: background }
          : { kind: 'colour', colour: parseColour(background) },
  };
}

const parseMargin = (margin: number | string): Margin => (typeof margin === 'number' ? margin : { percent: Number.parseFloat(margin) });

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
    },
    async (request, reply) => {
      const timer = new StageTimer();
      // Admitted before anything is downloaded or read, so a crowd of clients cannot pile images up in memory.
      const ticket = app.queue.admit();
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
        const { removal, output, background } = pipelineOptions(body, app.config.MASK_THRESHOLD);
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
