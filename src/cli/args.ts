// The command line, read. Every option of the API is a flag derived from its schema (UploadFields):
// the field's name in kebab-case, its value given as text, as a form field's would be, and read by
// the same function as the upload form (formOptions), so a field added to the schema is a flag
// with no code here, with the same defaults and the same messages.
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import type { TSchema } from 'typebox';
import { ServiceError } from '../errors.js';
import { formOptions, pipelineOptions, UploadFields, type OptionLimits, type RequestedBackground } from '../options.js';
import { OUTPUT_FORMATS, type OutputFormat } from '../pipeline/encode.js';
import type { OutputOptions, RemovalOptions } from '../pipeline/index.js';

/** Bad usage: the command exits with status 2 and this message. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** The command's own flags, which are not options of the API. */
export const COMMAND_FLAGS = {
  output: { type: 'string', short: 'o' },
  recursive: { type: 'boolean', short: 'r' },
  overwrite: { type: 'boolean' },
  watch: { type: 'boolean', short: 'w' },
  jobs: { type: 'string', short: 'j' },
  quiet: { type: 'boolean', short: 'q' },
  json: { type: 'string' },
  'background-image': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean' },
} as const;

export interface OptionFlag {
  /** The API's field name (snake_case). */
  field: string;
  /** The flag, without its dashes (kebab-case). */
  flag: string;
  schema: TSchema & { type?: string; description?: string; default?: unknown };
  /** Boolean fields also have --no-<flag>, and take `true` when given without a value. */
  boolean: boolean;
}

export const flagOf = (field: string): string => field.replaceAll('_', '-');

/** One flag per field of the option schema, in the schema's order. */
export function optionFlags(schema: { properties: Record<string, TSchema> } = UploadFields): OptionFlag[] {
  return Object.entries(schema.properties).map(([field, fieldSchema]) => {
    const typed = fieldSchema as OptionFlag['schema'];
    const flag = flagOf(field);
    if (Object.hasOwn(COMMAND_FLAGS, flag) || Object.hasOwn(COMMAND_FLAGS, `no-${flag}`)) {
      throw new Error(`the API option ${field} has the name of one of the command's own flags`);
    }
    return { field, flag, schema: typed, boolean: typed.type === 'boolean' };
  });
}

export interface CommandLine {
  /** Files, folders, http(s) URLs, or `-` for standard input. */
  inputs: string[];
  /** A file, a folder, or `-` for standard output. */
  output: string | undefined;
  recursive: boolean;
  overwrite: boolean;
  watch: boolean;
  /** Images worked on at once (each one's decoding and encoding overlaps another's inference). */
  jobs: number;
  quiet: boolean;
  /** Where the JSON report goes (`-` for standard output). */
  json: string | undefined;
  /** A local file or an http(s) URL to put the subject on. */
  backgroundImage: string | undefined;
  help: boolean;
  version: boolean;
  /** The API's options that were given, by field name, as text (as form fields are). */
  fields: Record<string, string>;
}

export const DEFAULT_JOBS = 2;
const MAX_JOBS = 8;

/**
 * `--crop` alone means `--crop true`, as a boolean flag does; `--crop false` and `--crop=false` say
 * false (as does `--no-crop`). Anything else after it is the next argument, not its value.
 */
function giveBooleansValues(argv: string[], booleans: ReadonlySet<string>): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      out.push(...argv.slice(i));
      break;
    }
    const next = argv[i + 1];
    if (arg.startsWith('--') && booleans.has(arg.slice(2)) && !(next !== undefined && /^(true|false)$/i.test(next))) out.push(`${arg}=true`);
    else out.push(arg);
  }
  return out;
}

export function parseCommandLine(argv: string[]): CommandLine {
  const flags = optionFlags();
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = { ...COMMAND_FLAGS };
  for (const { flag, boolean } of flags) {
    options[flag] = { type: 'string' };
    if (boolean) options[`no-${flag}`] = { type: 'boolean' };
  }
  const booleans = new Set(flags.filter((f) => f.boolean).map((f) => f.flag));
  let parsed;
  try {
    parsed = parseArgs({ args: giveBooleansValues(argv, booleans), options, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message.split('\n')[0]! : String(error));
  }
  const values = parsed.values as Record<string, string | boolean | undefined>;
  const fields: Record<string, string> = {};
  for (const { field, flag, boolean } of flags) {
    const value = values[flag];
    if (boolean && values[`no-${flag}`]) {
      if (value !== undefined) throw new UsageError(`give --${flag} or --no-${flag}, not both`);
      fields[field] = 'false';
    } else if (typeof value === 'string') {
      fields[field] = value;
    }
  }
  const jobsText = values.jobs as string | undefined;
  const jobs = jobsText === undefined ? DEFAULT_JOBS : Number(jobsText);
  if (!Number.isInteger(jobs) || jobs < 1 || jobs > MAX_JOBS) throw new UsageError(`--jobs must be an integer from 1 to ${MAX_JOBS}, not ${jobsText}`);
  const backgroundImage = values['background-image'] as string | undefined;
  if (backgroundImage !== undefined && fields.background !== undefined) throw new UsageError('give --background or --background-image, not both');
  return {
    inputs: parsed.positionals,
    output: values.output as string | undefined,
    recursive: values.recursive === true,
    overwrite: values.overwrite === true,
    watch: values.watch === true,
    jobs,
    quiet: values.quiet === true,
    json: values.json as string | undefined,
    backgroundImage,
    help: values.help === true,
    version: values.version === true,
    fields,
  };
}

/** The file extension a format is written with. */
export const extensionOf = (format: OutputFormat): string => (format === 'jpeg' ? '.jpg' : `.${format}`);

/** The output format a file name asks for by its extension, or undefined for one that names none. */
export function formatOfPath(file: string): OutputFormat | undefined {
  const extension = /\.([^./\\]+)$/.exec(file)?.[1]?.toLowerCase();
  const format = extension === 'jpg' ? 'jpeg' : extension;
  return OUTPUT_FORMATS.find((known) => known === format);
}

export interface PipelineOptions {
  removal: RemovalOptions;
  output: Omit<OutputOptions, 'background'>;
  /** A background image is still a URL here: a file: URL for a local file. */
  background: RequestedBackground;
}

/**
 * The API's options as the pipeline's, read as the upload form reads its fields. `outputFile`, when
 * the result goes to one named file, gives the format by its extension unless --format is given.
 * A bad value is a UsageError with the API's message and the flags it names.
 */
export function pipelineOptionsOf(
  line: Pick<CommandLine, 'fields' | 'backgroundImage'>,
  limits: OptionLimits,
  outputFile?: string,
): PipelineOptions {
  const fields: Record<string, string> = { ...line.fields };
  if (outputFile !== undefined && fields.format === undefined) {
    const format = formatOfPath(outputFile);
    if (!format) {
      throw new UsageError(
        `cannot tell the output format from the name ${outputFile}: end it in ${OUTPUT_FORMATS.map(extensionOf).join(', ')} (or .jpeg), or give --format`,
      );
    }
    fields.format = format;
  }
  if (line.backgroundImage !== undefined) fields.background = JSON.stringify({ image_url: backgroundUrl(line.backgroundImage) });
  try {
    return pipelineOptions(formOptions(fields), limits);
  } catch (error) {
    if (error instanceof ServiceError) throw new UsageError(withFlags(error.message, line.backgroundImage !== undefined));
    throw error;
  }
}

/** --background-image as the schema's image_url: http(s) URLs as they are, local files as file: URLs. */
function backgroundUrl(given: string): string {
  if (/^https?:\/\//i.test(given)) return given;
  return pathToFileURL(path.resolve(given)).href;
}

/** The API's message, with the flags of the fields it names (the API names fields, the command line has flags). */
function withFlags(message: string, backgroundImage: boolean): string {
  const named = optionFlags()
    .filter(({ field }) => new RegExp(`\\b${field}\\b`).test(message))
    .map(({ field, flag }) => (field === 'background' && backgroundImage ? '--background-image' : `--${flag}`));
  return named.length > 0 ? `${message} (${named.join(', ')})` : message;
}
