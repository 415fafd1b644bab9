// bg-remove --help. The API's options are listed from their schema, so a field added to it is
// documented here with no more code.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { TSchema } from 'typebox';
import { projectRoot } from '../config.js';
import { errorCatalog } from '../errors.js';
import { optionFlags, type OptionFlag } from './args.js';
import { IMAGE_EXTENSIONS, SETTLE_MS } from './inputs.js';
import { CLI_ERRORS } from './report.js';

const WIDTH = 100;
const INDENT = '      ';

type Described = TSchema & {
  type?: string;
  const?: unknown;
  anyOf?: Described[];
  minimum?: number;
  maximum?: number;
  description?: string;
  default?: unknown;
  required?: string[];
};

/** Words wrapped to WIDTH, each line indented. */
function wrap(text: string, indent = INDENT): string {
  const lines: string[] = [];
  let current = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (current && indent.length + current.length + 1 + word.length > WIDTH) {
      lines.push(indent + current);
      current = word;
    } else current = current ? `${current} ${word}` : word;
  }
  if (current) lines.push(indent + current);
  return lines.join('\n');
}

/** A schema's values, briefly: `png|webp|jpeg`, `1..100`, `TEXT`, `JSON`. */
function valuesOf(schema: Described): string {
  if (schema.anyOf) return schema.anyOf.map(valuesOf).join('|');
  if (schema.const !== undefined) return String(schema.const);
  if (schema.type === 'boolean') return 'true|false';
  if (schema.type === 'integer' || schema.type === 'number') {
    if (schema.minimum !== undefined && schema.maximum !== undefined) return `${schema.minimum}..${schema.maximum}`;
    return schema.type === 'integer' ? 'INTEGER' : 'NUMBER';
  }
  if (schema.type === 'object') return `'{${(schema.required ?? []).map((name) => `"${name}": …`).join(', ')}}'`;
  return 'TEXT';
}

function describeFlag({ flag, schema, boolean }: OptionFlag): string {
  const typed = schema as Described;
  const head = boolean ? `  --${flag} [true|false], --no-${flag}` : `  --${flag} ${valuesOf(typed)}`;
  const parts = [typed.description ?? ''];
  if (typed.default !== undefined) parts.push(`Default: ${typeof typed.default === 'object' ? JSON.stringify(typed.default) : String(typed.default)}.`);
  const lines = [head, wrap(parts.join(' '))];
  // A union's branches that say what they are (background's, margin's) each get a line.
  for (const branch of typed.anyOf ?? []) {
    if (branch.description && branch.const === undefined) lines.push(wrap(`${valuesOf(branch)}: ${branch.description}`, `${INDENT}  `));
    else if (branch.description) lines.push(wrap(`${String(branch.const)}: ${branch.description}`, `${INDENT}  `));
  }
  return lines.join('\n');
}

export function versionText(): string {
  const { version } = JSON.parse(readFileSync(path.join(projectRoot, 'package.json'), 'utf8')) as { version: string };
  return `bg-remove ${version}`;
}

export function helpText(): string {
  const errors = [...Object.keys(errorCatalog), ...Object.keys(CLI_ERRORS)].join(', ');
  return `bg-remove: cut the subject out of images, in-process (no server): the same pipeline and options as
POST /remove-background, with the model loaded once.

Usage:
  bg-remove IMAGE [-o OUTPUT] [options]        one image: photo.jpg -> photo.png beside it
  bg-remove FOLDER... -o FOLDER [options]      every image in the folders (--recursive: subfolders too)
  bg-remove IMAGE... [-o FOLDER] [options]     several images: beside each, or in one folder
  bg-remove URL [-o OUTPUT] [options]          an http(s) URL, downloaded as the service does
  cat a.jpg | bg-remove - -o - > b.png         - reads standard input or writes standard output

Examples:
  bg-remove photo.jpg                          writes photo.png (photo-cutout.png for photo.png)
  bg-remove photo.jpg -o cutout.webp           the format follows the extension, unless --format says
  bg-remove ./photos -o ./cutouts --recursive --format webp --max-dimension 1024
  bg-remove ./inbox -o ./done --watch          keeps going as new files arrive; Ctrl+C stops
  bg-remove shoes.jpg --background '#ffffff' --format jpeg --margin 5% --subject group
  bg-remove dress.jpg --background-image studio.jpg --crop false
  bg-remove ./photos -o ./cutouts --json report.json --quiet

Inputs and outputs:
  -o, --output PATH      A file (one image), a folder (created if need be; subfolders' layout is
                         kept), or - for standard output. Without it, results go beside their input
                         (a URL's in the current folder; standard input's to standard output). Its
                         extension (.png, .webp, .jpg or .jpeg) picks the format of one named file.
  -r, --recursive        Folders' subfolders too (the output folder is never read as input).
      --overwrite        Replace results that exist; without it they are skipped (and counted).
  -w, --watch            After the folders' images, keep watching them for new ones (a file counts
                         once it has stopped growing for ${SETTLE_MS / 1000} s). Ctrl+C finishes the images being worked on
                         and stops; a second Ctrl+C stops at once.
  -j, --jobs N           Images worked on at once, 1 to 8 (default 2): one's reading, decoding and
                         encoding overlap another's inference. Inferences take turns.
  -q, --quiet            No progress and no summary; failures are still printed.
      --json FILE        Write a report: one entry per input (its output path, input size, the box,
                         stage times in ms, or its error code and message), and the counts. - for
                         standard output.
      --background-image FILE|URL
                         Put the subject on this image (a local file, read as it is, or an http(s)
                         URL, downloaded as the service does); the same as --background
                         '{"image_url": "..."}'.
  -h, --help             This text.  --version  The version.

${wrap(
  `In a folder, files with an image's extension (${[...IMAGE_EXTENSIONS].join(' ')}) are read; other files are skipped and ` +
    "counted. A file named as an input is always read. Local files are read as they are; URLs go through the service's " +
    'downloader (its address guard, limits and timeouts).',
  '  ',
)}

Options of the API (the same names, kebab-case, values and defaults as POST /remove-background; the
values are read as the upload form reads its fields, so a bad one gets the API's message):
${optionFlags().map(describeFlag).join('\n')}

Settings come from the environment, as for the service (and from .env in the project folder):
MODEL_PATH, INFERENCE_THREADS, INFERENCE_ARENA, MASK_THRESHOLD (--threshold's default),
MAX_INPUT_PIXELS, PNG_COMPRESSION_LEVEL, and for URLs MAX_DOWNLOAD_BYTES, the timeouts,
MAX_REDIRECTS, ALLOWED_HOSTS and ALLOW_PRIVATE_NETWORKS. See the README's settings table.

Progress goes to standard error: a bar on a terminal, one line per image otherwise. At the end, a
summary: done, skipped and failed, each failure with its file and error code (${errors}).

Exit status: 0 when every image was done (or skipped), 1 when any failed (the others are still
done), 2 for bad usage (an unknown flag, a bad value, a missing file), 130 when interrupted.
`;
}
