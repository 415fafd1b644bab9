// The page's options and how they become a request to POST /remove-background: form fields for an
// upload, a JSON body for a pasted URL. No DOM here (unit-tested in Node).

export const FORMATS = ['png', 'webp', 'jpeg'] as const;
export type Format = (typeof FORMATS)[number];
export const BACKGROUNDS = ['transparent', 'colour', 'blur'] as const;
export type BackgroundChoice = (typeof BACKGROUNDS)[number];
export type MarginUnit = 'px' | '%';

export interface CutoutOptions {
  background: BackgroundChoice;
  /** #rrggbb, used when background is 'colour'. */
  colour: string;
  crop: boolean;
  /** Used when crop is on: pixels, or a percentage of the subject box's larger side. */
  margin: number;
  marginUnit: MarginUnit;
  format: Format;
}

export const DEFAULT_OPTIONS: Readonly<CutoutOptions> = Object.freeze({
  background: 'transparent',
  colour: '#ffffff',
  crop: true,
  margin: 0,
  marginUnit: 'px',
  format: 'png',
});

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
  return null;
}

/** The options as the API's fields (strings, as form fields carry them). Defaults are sent too, so a result never depends on the service's defaults changing. */
export function requestFields(options: CutoutOptions): Record<string, string> {
  const fields: Record<string, string> = {
    format: options.format,
    crop: String(options.crop),
    background: options.background === 'colour' ? options.colour.toLowerCase() : options.background,
  };
  if (options.crop) fields.margin = options.marginUnit === '%' ? `${options.margin}%` : String(options.margin);
  return fields;
}

/** The JSON body for an image given by URL. */
export function requestJson(imageUrl: string, options: CutoutOptions): Record<string, string | number | boolean> {
  const body: Record<string, string | number | boolean> = {
    image_url: imageUrl,
    format: options.format,
    crop: options.crop,
    background: options.background === 'colour' ? options.colour.toLowerCase() : options.background,
  };
  if (options.crop) body.margin = options.marginUnit === '%' ? `${options.margin}%` : options.margin;
  return body;
}

export const sameOptions = (a: CutoutOptions, b: CutoutOptions): boolean =>
  a.format === b.format &&
  a.crop === b.crop &&
  a.background === b.background &&
  (a.background !== 'colour' || a.colour.toLowerCase() === b.colour.toLowerCase()) &&
  (!a.crop || (a.margin === b.margin && a.marginUnit === b.marginUnit));

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
