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
  },
  { additionalProperties: false },
);

export type RemoveBackgroundBody = Static<typeof RemoveBackgroundBody>;

/** The same options as form fields, for uploads: everything but image_url (the file comes in image_file). */
export const UploadFields = Type.Omit(RemoveBackgroundBody, ['image_url'], { additionalProperties: false });
export type UploadFields = Static<typeof UploadFields>;

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
export type RequestedBackground = Exclude<Background, { kind: 'image' }> | { kind: 'url'; url: string };

/** The request's options as the pipeline's. */
export function pipelineOptions(
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
