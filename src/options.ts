// The options of POST /remove-background, as one TypeBox schema, and their conversion to the
// pipeline's options. Shared by the route (JSON bodies and upload forms) and the command line
// (src/cli), so both accept the same fields with the same defaults and the same messages. No
// Fastify here.
import { Type, type Static } from 'typebox';
import Value from 'typebox/value';
import { ServiceError } from './errors.js';
import { parseColour } from './pipeline/background.js';
import { OUTPUT_FORMATS } from './pipeline/encode.js';
import { ACCURACIES, SUBJECT_MODES, type Background, type Margin, type OutputOptions, type RemovalOptions } from './pipeline/index.js';
import { checkCanvasSize, DEFAULT_FILL, POSITIONS } from './pipeline/placement.js';
import { parseRoi, ROI_PATTERN } from './pipeline/roi.js';
import { SHADOW_KINDS } from './pipeline/shadow.js';
import { expecting, validationError } from './validation.js';

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
        ...expecting('a percentage from 1% to 100% such as "85%"'),
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
        ...expecting('four positions "x1 y1 x2 y2", each in px or %, such as "10% 0% 90% 100%"'),
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

export type RemoveBackgroundBody = Static<typeof RemoveBackgroundBody>;

/** The same options as form fields, for uploads: everything but image_url (the file comes in image_file). */
export const UploadFields = Type.Omit(RemoveBackgroundBody, ['image_url'], { additionalProperties: false });
export type UploadFields = Static<typeof UploadFields>;

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
  const value = Value.Convert(UploadFields, Value.Default(UploadFields, raw));
  const error = validationError(UploadFields, value, 'the form');
  if (error) throw error;
  return value as UploadFields;
}

/** A background as asked for: a background image is still a URL here. */
export type RequestedBackground = Exclude<Background, { kind: 'image' }> | { kind: 'url'; url: string };

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
