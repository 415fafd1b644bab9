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
import { checkCanvasSize, DEFAULT_FILL, POSITIONS } from '../pipeline/placement.js';
import { parseRoi, ROI_PATTERN } from '../pipeline/roi.js';
import { SHADOW_KINDS } from '../pipeline/shadow.js';
import { StageTimer } from '../pipeline/timings.js';
import { binaryResponse, errorResponses, REQUEST_ID_HEADER, WORK_ERRORS } from './responses.js';
import { cutOut } from './cutout.js';
import { readUpload } from './uploads.js';
import { workSignal } from './work-signal.js';

/** Named sets of options; a request's own fields override them (see applyPreset). */
export const PRESETS: Readonly<Record<string, Readonly<Record<string, unknown>>>> = Object.freeze({
  marketplace: Object.freeze({
    canvas: Object.freeze({ width: 2000, height: 2000 }),
    fill: '85%',
    position: 'center',
    background: '#ffffff',
    format: 'jpeg',
    quality: 90,
    shadow: 'none',
  }),
});

/**
 * The fields with their preset's values under them, before defaults are applied (after, a default
 * could not be told from a field sent). An unknown preset is left for the schema to refuse.
 */
export function applyPreset<T extends Record<string, unknown>>(fields: T): T {
  const preset = typeof fields.preset === 'string' && Object.hasOwn(PRESETS, fields.preset) ? PRESETS[fields.preset] : undefined;
  return preset ? { ...structuredClone(preset), ...fields } : fields;
}

const imageUrl = (description: string) => Type.String({ format: 'uri', maxLength: 8192, description });

export const RemoveBackgroundBody = Type.Object(
  {
    image_url: imageUrl('The image to process: an absolute http or https URL.'),
    crop: Type.Boolean({ default: true, description: "Crop to the kept subject's box (plus margin); false keeps the input's size." }),
    margin: Type.Union(
      [
        Type.Integer({ minimum: 0, maximum: 10_000, description: 'Pixels.' }),
        Type.String({ pattern: '^(100|[1-9]?[0-9])(\\.[0-9]{1,2})?%$', description: 'A percentage of the larger side of the subject\'s box, 0% to 100%, e.g. "10%".' }),
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
    // ---- Product photos: canvas, fill, position, shadow, shadow_opacity, roi, preset (README, "Product photos"). ----
    canvas: Type.Optional(
      Type.Union(
        [
          Type.Object(
            {
              width: Type.Integer({ minimum: 1, maximum: 10_000, description: 'Pixels.' }),
              height: Type.Integer({ minimum: 1, maximum: 10_000, description: 'Pixels.' }),
            },
            { additionalProperties: false, description: 'A fixed size (in a form: "2000x2000", or this object as JSON).' },
          ),
          Type.Literal('square', { description: 'A square whose side is the larger side of the result without a canvas (after crop, margin and max_dimension).' }),
        ],
        {
          description:
            'The result is exactly this size, with the subject placed on it by fill and position; crop no longer decides the size. ' +
            'At most MAX_CANVAS_PIXELS pixels (16 megapixels by default).',
        },
      ),
    ),
    fill: Type.Optional(
      Type.String({
        pattern: '^(100(\\.0{1,2})?|[1-9][0-9]?(\\.[0-9]{1,2})?)%$',
        description:
          'With a canvas: the subject\'s box is scaled (up as well as down) to fit this share of the canvas\'s width and height, whichever binds, ' +
          '"1%" to "100%". Default "90%". X-Subject-Scale says how much it was scaled.',
      }),
    ),
    position: Type.Optional(
      Type.Union(
        POSITIONS.map((position) => Type.Literal(position)),
        {
          description:
            'With a canvas: "center" (the default); "bottom", centred across and resting on the bottom with the same gap below as on the binding sides; ' +
            '"original", with the gaps on either side in the same proportion as in the input.',
        },
      ),
    ),
    shadow: Type.Union(
      SHADOW_KINDS.map((kind) => Type.Literal(kind)),
      {
        default: 'none',
        description:
          'A shadow made from the subject\'s own alpha, under it: "contact", a soft flattened shadow at its base; "drop", its silhouette moved down and blurred. ' +
          'Translucent black on a transparent result. Without a canvas it is clipped to the result: a margin gives it room.',
      },
    ),
    shadow_opacity: Type.Integer({ minimum: 0, maximum: 100, default: 40, description: "The shadow's opacity at its darkest, in percent." }),
    roi: Type.Optional(
      Type.String({
        pattern: ROI_PATTERN,
        maxLength: 100,
        description:
          'Region of interest, "x1 y1 x2 y2" (left, top, right, bottom), each in pixels or a percentage of the input, e.g. "10% 0% 90% 100%": ' +
          'only what lies inside can be the subject; everything outside is background. It must lie within the image.',
      }),
    ),
    preset: Type.Optional(
      Type.Union(
        Object.keys(PRESETS).map((name) => Type.Literal(name)),
        {
          description:
            'A named set of options: "marketplace" is canvas 2000x2000, fill "85%", position "center", background "#ffffff", format "jpeg", quality 90, shadow "none". ' +
            'Fields sent alongside a preset override its values.',
        },
      ),
    ),
    // ---- End of product photos. ----
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

/** Form fields as the option schema's values: converted, defaulted and checked against the same schema as JSON bodies. */
export function formOptions(fields: Record<string, unknown>): UploadFields {
  const raw: Record<string, unknown> = applyPreset({ ...fields });
  // A canvas comes as "square", "2000x2000", or the object as JSON.
  if (typeof raw.canvas === 'string') {
    const size = /^\s*([0-9]+)\s*x\s*([0-9]+)\s*$/i.exec(raw.canvas);
    if (size) raw.canvas = { width: Number(size[1]), height: Number(size[2]) };
    else if (raw.canvas.trimStart().startsWith('{')) {
      try {
        raw.canvas = JSON.parse(raw.canvas) as unknown;
      } catch {
        throw new ServiceError('invalid_request', 'the field canvas is neither "square", a size such as "2000x2000" nor valid JSON');
      }
    }
  }
  // A background image comes as JSON in a text field: background={"image_url":"..."}.
  if (typeof raw.background === 'string' && raw.background.trimStart().startsWith('{')) {
    try {
      raw.background = JSON.parse(raw.background) as unknown;
    } catch {
      throw new ServiceError('invalid_request', 'the field background is neither a colour, "transparent", "blur" nor valid JSON');
    }
  }
  const unknown = Object.keys(raw).find((name) => !Object.hasOwn(UploadFields.properties, name));
  if (unknown !== undefined) {
    throw new ServiceError('invalid_request', `the form has an unknown field ${unknown} (the image goes in image_file; the other fields are the options)`);
  }
  const value = Value.Convert(UploadFields, Value.Default(UploadFields, raw));
  // The deepest error says most (for a union, which of its branches came closest).
  const [first] = [...Value.Errors(UploadFields, value)].sort((a, b) => b.instancePath.length - a.instancePath.length);
  if (first) {
    const name = first.instancePath.replace(/^\//, '').replaceAll('/', '.');
    throw new ServiceError('invalid_request', name ? `the field ${name} ${first.message}` : `the form ${first.message}`);
  }
  return value as UploadFields;
}

/** A background as asked for: a background image is still a URL here. */
type RequestedBackground = Exclude<Background, { kind: 'image' }> | { kind: 'url'; url: string };

export interface OptionLimits {
  /** MASK_THRESHOLD: the threshold when the request sets none. */
  defaultThreshold: number;
  /** MAX_CANVAS_PIXELS. */
  maxCanvasPixels: number;
}

/**
 * The request's options as the pipeline's, with the checks across fields that the schema cannot
 * make (the same for JSON bodies and forms).
 */
export function pipelineOptions(
  body: UploadFields,
  limits: OptionLimits,
): { removal: RemovalOptions; output: Omit<OutputOptions, 'background'>; background: RequestedBackground } {
  const {
    format, quality, background, max_dimension: maxDimension, threshold, margin,
    canvas, fill, position, shadow, shadow_opacity: shadowOpacity, roi, preset: _preset, ...removal
  } = body;
  if (removal.channels === 'alpha' && background !== 'transparent') {
    throw new ServiceError('invalid_request', 'channels "alpha" answers the mask alone, which has no background: leave background out');
  }
  if (removal.channels === 'alpha' && shadow !== 'none') {
    throw new ServiceError('invalid_request', `channels "alpha" answers the mask alone, which has no shadow: leave shadow out (it is "${shadow}")`);
  }
  if (canvas === undefined && (fill !== undefined || position !== undefined)) {
    throw new ServiceError('invalid_request', `${fill !== undefined ? 'fill' : 'position'} places the subject on a canvas: add canvas ("square" or {"width": ..., "height": ...})`);
  }
  if (typeof canvas === 'object') {
    if (maxDimension !== undefined) {
      throw new ServiceError('invalid_request', 'canvas sets the result\'s size, so max_dimension has nothing to do: leave one of them out (max_dimension works with canvas "square")');
    }
    checkCanvasSize(canvas, limits.maxCanvasPixels);
  }
  return {
    removal: { ...removal, margin: parseMargin(margin), threshold: threshold ?? limits.defaultThreshold, ...(roi === undefined ? {} : { roi: parseRoi(roi) }) },
    output: {
      format,
      quality,
      maxDimension,
      ...(canvas === undefined ? {} : { placement: { canvas, fill: fill === undefined ? DEFAULT_FILL : Number.parseFloat(fill) / 100, position: position ?? 'center' } }),
      ...(shadow === 'none' ? {} : { shadow: { kind: shadow, opacity: shadowOpacity } }),
    },
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
