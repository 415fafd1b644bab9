// The page's options and how they become a request to POST /remove-background: form fields for an
// upload, a JSON body for a pasted URL. No DOM here (unit-tested in Node).

export const FORMATS = ['png', 'webp', 'jpeg'] as const;
export type Format = (typeof FORMATS)[number];
export const BACKGROUNDS = ['transparent', 'colour', 'blur'] as const;
export type BackgroundChoice = (typeof BACKGROUNDS)[number];
export type MarginUnit = 'px' | '%';
/** No canvas, a square, the marketplace's 2000 x 2000, or a size of one's own. */
export const CANVASES = ['none', 'square', '2000', 'custom'] as const;
export type CanvasChoice = (typeof CANVASES)[number];
export const POSITIONS = ['center', 'bottom', 'original'] as const;
export type Position = (typeof POSITIONS)[number];
export const SHADOWS = ['none', 'contact', 'drop'] as const;
export type Shadow = (typeof SHADOWS)[number];

export interface CutoutOptions {
  background: BackgroundChoice;
  /** #rrggbb, used when background is 'colour'. */
  colour: string;
  crop: boolean;
  /** Used when crop is on: pixels, or a percentage of the subject box's larger side. */
  margin: number;
  marginUnit: MarginUnit;
  format: Format;
  canvas: CanvasChoice;
  /** The custom canvas's size, used when canvas is 'custom'. */
  canvasWidth: number;
  canvasHeight: number;
  /** With a canvas: the share (1-100 %) of it the subject's box fills. */
  fill: number;
  position: Position;
  shadow: Shadow;
}

export const DEFAULT_OPTIONS: Readonly<CutoutOptions> = Object.freeze({
  background: 'transparent',
  colour: '#ffffff',
  crop: true,
  margin: 0,
  marginUnit: 'px',
  format: 'png',
  canvas: 'none',
  canvasWidth: 1200,
  canvasHeight: 1200,
  fill: 90,
  position: 'center',
  shadow: 'none',
});

/** The service's "marketplace" preset, as the page's controls show it: the options it changes. */
export const MARKETPLACE: Readonly<Partial<CutoutOptions>> = Object.freeze({
  canvas: '2000',
  fill: 85,
  position: 'center',
  background: 'colour',
  colour: '#ffffff',
  format: 'jpeg',
  shadow: 'none',
});

/** The largest canvas side the service takes. */
export const CANVAS_MAX = 10_000;

/** The service's limits on margin (see the README's option table). */
export const MARGIN_MAX: Readonly<Record<MarginUnit, number>> = { px: 10_000, '%': 100 };

export const EXTENSIONS: Readonly<Record<Format, string>> = { png: 'png', webp: 'webp', jpeg: 'jpg' };

const COLOUR = /^#[0-9a-f]{6}$/i;

/** What is wrong with the options, in words for the page, or null when the service will take them. */
export function optionsProblem(options: CutoutOptions): string | null {
  if (!FORMATS.includes(options.format)) return `Unknown format "${options.format}".`;
  if (!BACKGROUNDS.includes(options.background)) return `Unknown background "${options.background}".`;
  if (options.background === 'colour' && !COLOUR.test(options.colour)) return 'The colour must be #rrggbb.';
  if (options.crop) {
    const max = MARGIN_MAX[options.marginUnit];
    if (!Number.isInteger(options.margin) || options.margin < 0 || options.margin > max) {
      return `The margin must be a whole number from 0 to ${max}${options.marginUnit === '%' ? ' %' : ' pixels'}.`;
    }
  }
  if (!CANVASES.includes(options.canvas)) return `Unknown canvas "${options.canvas}".`;
  if (!SHADOWS.includes(options.shadow)) return `Unknown shadow "${options.shadow}".`;
  if (options.canvas === 'custom') {
    const side = (value: number) => Number.isInteger(value) && value >= 1 && value <= CANVAS_MAX;
    if (!side(options.canvasWidth) || !side(options.canvasHeight)) return `The canvas's width and height must be whole numbers from 1 to ${CANVAS_MAX} pixels.`;
  }
  if (options.canvas !== 'none') {
    if (!POSITIONS.includes(options.position)) return `Unknown position "${options.position}".`;
    if (!Number.isInteger(options.fill) || options.fill < 1 || options.fill > 100) return 'The fill must be a whole number from 1 to 100 %.';
  }
  return null;
}

/** The canvas as the API takes it, or undefined for none. */
function canvasValue(options: CutoutOptions): 'square' | { width: number; height: number } | undefined {
  switch (options.canvas) {
    case 'none':
      return undefined;
    case 'square':
      return 'square';
    case '2000':
      return { width: 2000, height: 2000 };
    case 'custom':
      return { width: options.canvasWidth, height: options.canvasHeight };
  }
}

/** The product-photo fields (canvas, fill, position, shadow), in `text` form for a form's fields. */
function placementFields(options: CutoutOptions, text: boolean): Record<string, string | { width: number; height: number }> {
  const fields: Record<string, string | { width: number; height: number }> = { shadow: options.shadow };
  const canvas = canvasValue(options);
  if (canvas === undefined) return fields;
  return {
    canvas: typeof canvas === 'string' || !text ? canvas : `${canvas.width}x${canvas.height}`,
    fill: `${options.fill}%`,
    position: options.position,
    ...fields,
  };
}

/** The options as the API's fields (strings, as form fields carry them). Defaults are sent too, so a result never depends on the service's defaults changing. */
export function requestFields(options: CutoutOptions): Record<string, string> {
  const fields: Record<string, string> = {
    format: options.format,
    crop: String(options.crop),
    background: options.background === 'colour' ? options.colour.toLowerCase() : options.background,
  };
  if (options.crop) fields.margin = options.marginUnit === '%' ? `${options.margin}%` : String(options.margin);
  return { ...fields, ...(placementFields(options, true) as Record<string, string>) };
}

/** The JSON body for an image given by URL. */
export function requestJson(imageUrl: string, options: CutoutOptions): Record<string, unknown> {
  const body: Record<string, unknown> = {
    image_url: imageUrl,
    format: options.format,
    crop: options.crop,
    background: options.background === 'colour' ? options.colour.toLowerCase() : options.background,
  };
  if (options.crop) body.margin = options.marginUnit === '%' ? `${options.margin}%` : options.margin;
  return { ...body, ...placementFields(options, false) };
}

export const sameOptions = (a: CutoutOptions, b: CutoutOptions): boolean =>
  a.format === b.format &&
  a.crop === b.crop &&
  a.background === b.background &&
  (a.background !== 'colour' || a.colour.toLowerCase() === b.colour.toLowerCase()) &&
  (!a.crop || (a.margin === b.margin && a.marginUnit === b.marginUnit)) &&
  a.shadow === b.shadow &&
  a.canvas === b.canvas &&
  (a.canvas !== 'custom' || (a.canvasWidth === b.canvasWidth && a.canvasHeight === b.canvasHeight)) &&
  (a.canvas === 'none' || (a.fill === b.fill && a.position === b.position));

/** The name to save a result under: the source's name without its extension, "-cutout", the format's extension. */
export function resultFileName(sourceName: string, format: Format): string {
  const base = sourceName.replace(/[\\/]/g, '_').replace(/\.[^.]*$/, '').trim() || 'image';
  return `${base}-cutout.${EXTENSIONS[format]}`;
}

/** A short name for an image given by URL: the last part of its path, or its host. */
export function nameFromUrl(url: string): string {
  try {
    const parsed = new URL(url);
    const last = parsed.pathname.split('/').filter(Boolean).at(-1);
    if (last) {
      try {
        return decodeURIComponent(last);
      } catch {
        return last;
      }
    }
    return parsed.hostname || 'image';
  } catch {
    return 'image';
  }
}

/** A URL the service can be asked for (http or https, absolute), or the reason it cannot. */
export function checkImageUrl(text: string): { url: string } | { problem: string } {
  const trimmed = text.trim();
  let parsed: URL;
  try {
    parsed = new URL(trimmed);
  } catch {
    return { problem: 'That is not a URL: paste an address starting with https://.' };
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return { problem: 'Only http and https addresses can be fetched.' };
  return { url: parsed.href };
}
