// What the command works on and where each result goes: files, folders (scanned, or watched for new
// files), URLs and standard input; results beside their input, in a folder (keeping subfolders'
// layout), in one named file, or on standard output.
import { watch, type Dirent, type FSWatcher } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { ACCEPTED_FORMATS } from '../pipeline/decode.js';
import { UsageError, type CommandLine } from './args.js';

export type Source = { kind: 'file'; path: string } | { kind: 'url'; url: string } | { kind: 'stdin' };
export type Destination = { kind: 'file'; path: string } | { kind: 'stdout' };

/** Where results go. 'beside': next to each input file (URLs' results in the working folder). */
export type Target = { kind: 'stdout' } | { kind: 'file'; path: string } | { kind: 'folder'; path: string } | { kind: 'beside' };

export type Input = Source | { kind: 'folder'; path: string };

/** The extensions of the formats the pipeline reads: in a folder, other files are skipped. */
export const IMAGE_EXTENSIONS: ReadonlySet<string> = new Set(
  ACCEPTED_FORMATS.flatMap((format) => (format === 'jpeg' ? ['.jpg', '.jpeg', '.jpe', '.jfif'] : format === 'tiff' ? ['.tif', '.tiff'] : [`.${format}`])),
);

export const hasImageExtension = (file: string): boolean => IMAGE_EXTENSIONS.has(path.extname(file).toLowerCase());

const isUrl = (text: string): boolean => /^https?:\/\//i.test(text);

/** The inputs as given, each checked to exist. */
export async function classifyInputs(inputs: readonly string[]): Promise<Input[]> {
  if (inputs.length === 0) throw new UsageError('give an image, a folder, a URL or - (standard input); see bg-remove --help');
  if (inputs.filter((input) => input === '-').length > 0 && inputs.length > 1) throw new UsageError('- (standard input) can only be the one input');
  return Promise.all(
    inputs.map(async (input): Promise<Input> => {
      if (input === '-') return { kind: 'stdin' };
      if (isUrl(input)) return { kind: 'url', url: input };
      const found = await stat(input).catch(() => undefined);
      if (!found) throw new UsageError(`no such file or folder: ${input}`);
      return found.isDirectory() ? { kind: 'folder', path: input } : { kind: 'file', path: input };
    }),
  );
}

/** Where the results of these inputs go, from -o (or its absence). */
export async function chooseTarget(inputs: readonly Input[], line: Pick<CommandLine, 'output' | 'watch' | 'recursive'>): Promise<Target> {
  const { output } = line;
  const folders = inputs.filter((input) => input.kind === 'folder');
  if (line.watch && folders.length === 0) throw new UsageError('--watch watches folders: give one');
  if (line.recursive && folders.length === 0) throw new UsageError('--recursive is for folders: give one');
  const single = inputs.length === 1 && folders.length === 0;
  const existing = output === undefined || output === '-' ? undefined : await stat(output).catch(() => undefined);
  if (single) {
    if (output === '-' || (output === undefined && inputs[0]!.kind === 'stdin')) return { kind: 'stdout' };
    if (output === undefined) return inputs[0]!.kind === 'url' ? { kind: 'folder', path: '.' } : { kind: 'beside' };
    if (existing?.isDirectory() || /[/\\]$/.test(output)) {
      if (inputs[0]!.kind === 'stdin') throw new UsageError('standard input has no name to give its result in a folder: give -o FILE or -o -');
      return { kind: 'folder', path: output };
    }
    return { kind: 'file', path: output };
  }
  if (output === '-') throw new UsageError('-o - (standard output) takes the result of one image only');
  if (output === undefined) {
    if (folders.length > 0) throw new UsageError(`give -o FOLDER for the results of the folder ${folders[0]!.path}`);
    return { kind: 'beside' };
  }
  if (existing && !existing.isDirectory()) throw new UsageError(`-o ${output} is a file; the results of several images go in a folder`);
  const outputFolder = path.resolve(output);
  for (const folder of folders) {
    if (path.resolve(folder.path) === outputFolder) throw new UsageError(`-o ${output} is the input folder itself; give another folder for the results`);
  }
  return { kind: 'folder', path: output };
}

/** A name for a URL's result: its last path segment's stem, in safe characters. */
export function nameFromUrl(url: string): string {
  let segment = '';
  try {
    segment = decodeURIComponent(new URL(url).pathname.split('/').pop() ?? '');
  } catch {
    // a malformed URL has no usable name; the downloader reports it
  }
  const stem = path.parse(segment).name.replace(/[^\w.-]+/g, '_').replace(/^[._]+/, '');
  return stem || 'image';
}

/**
 * Where a source's result goes. `relative` is a folder's file's path inside that folder (its
 * layout is kept); `extension` comes from the output format. A result never replaces its own input:
 * one that would (photo.png beside photo.png) is named photo-cutout.png.
 */
export function destinationOf(source: Source, target: Target, extension: string, relative?: string): Destination {
  if (target.kind === 'stdout') return { kind: 'stdout' };
  if (target.kind === 'file') return { kind: 'file', path: target.path };
  const name =
    relative !== undefined
      ? path.join(path.dirname(relative), path.parse(relative).name)
      : source.kind === 'file'
        ? path.parse(source.path).name
        : source.kind === 'url'
          ? nameFromUrl(source.url)
          : 'stdin';
  const folder = target.kind === 'folder' ? target.path : source.kind === 'file' ? path.dirname(source.path) : '.';
  let file = path.join(folder, name + extension);
  if (source.kind === 'file' && path.resolve(file) === path.resolve(source.path)) file = path.join(folder, `${name}-cutout${extension}`);
  return { kind: 'file', path: file };
}

export interface FolderEntry {
  /** The file's path as given (the folder joined with `relative`). */
  path: string;
  /** Its path inside the folder. */
  relative: string;
}

/**
 * Every file in a folder (and, recursively, its subfolders, but never `exclude`, where results
 * go), in name order, as images and others. Symbolic links to files count; to folders, not (no loops).
 */
export async function scanFolder(root: string, recursive: boolean, exclude?: string): Promise<{ images: FolderEntry[]; others: FolderEntry[] }> {
  const images: FolderEntry[] = [];
  const others: FolderEntry[] = [];
  const excluded = exclude === undefined ? undefined : path.resolve(exclude);
  const visit = async (relative: string): Promise<void> => {
    const entries: Dirent[] = await readdir(path.join(root, relative), { withFileTypes: true });
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      const inner = path.join(relative, entry.name);
      const full = path.join(root, inner);
      let isFile = entry.isFile();
      if (entry.isSymbolicLink()) isFile = (await stat(full).catch(() => undefined))?.isFile() ?? false;
      if (entry.isDirectory()) {
        if (recursive && path.resolve(full) !== excluded) await visit(inner);
      } else if (isFile) {
        (hasImageExtension(entry.name) ? images : others).push({ path: full, relative: inner });
      }
    }
  };
  await visit('');
  return { images, others };
}

/** How long a new file's size and time must stay unchanged before it counts as written. */
export const SETTLE_MS = 300;

/** A file's version as the watcher tells them apart: its size and modification time. */
export const fileVersion = (found: { size: number; mtimeMs: number }): string => `${found.size}:${found.mtimeMs}`;

/**
 * Calls `onFile` for each file that appears (or changes) in a folder once it has stopped growing,
 * so a file still being copied is not read half-written. fs.watch is enough here: it is recursive
 * on Linux, macOS and Windows since Node 20, and each event is checked with stat anyway.
 */
export function watchFolder(root: string, recursive: boolean, exclude: string | undefined, onFile: (entry: FolderEntry, version: string) => void): { close(): void } {
  const excluded = exclude === undefined ? undefined : path.resolve(exclude);
  const pending = new Map<string, NodeJS.Timeout>();
  const seen = new Map<string, string>();
  const check = async (relative: string, last: string | undefined): Promise<void> => {
    pending.delete(relative);
    const full = path.join(root, relative);
    const found = await stat(full).catch(() => undefined);
    if (!found?.isFile()) return;
    const version = fileVersion(found);
    if (version !== last) {
      pending.set(relative, setTimeout(() => void check(relative, version), SETTLE_MS));
      return;
    }
    if (seen.get(relative) === version) return;
    seen.set(relative, version);
    onFile({ path: full, relative }, version);
  };
  const watcher: FSWatcher = watch(root, { recursive }, (_event, name) => {
    if (name === null) return;
    const relative = name.toString();
    if (!recursive && relative.includes(path.sep)) return;
    const full = path.resolve(root, relative);
    if (excluded !== undefined && (full === excluded || full.startsWith(excluded + path.sep))) return;
    if (pending.has(relative)) clearTimeout(pending.get(relative));
    pending.set(relative, setTimeout(() => void check(relative, undefined), SETTLE_MS));
  });
  return {
    close() {
      watcher.close();
      for (const timer of pending.values()) clearTimeout(timer);
      pending.clear();
    },
  };
}
