// The command: reads its arguments and the config, loads the model once, then works through the
// inputs. Up to --jobs images are worked on at once, so one's reading, decoding and encoding
// overlap another's inference (inferences themselves take turns: each uses every core).
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { applyHeapGrowth, ConfigError, loadConfig, projectRoot, type Config } from '../config.js';
import type { ImageDownloader } from '../fetch/download.js';
import { startDownloader } from '../fetch/download-thread.js';
import type { RequestedBackground } from '../options.js';
import { aboutBackground } from '../pipeline/background.js';
import { isLargeImage, readHeader, removeBackground, type Background } from '../pipeline/index.js';
import { RowPool } from '../pipeline/row-pool.js';
import { ModelLoadError, Segmenter } from '../pipeline/segment.js';
import { StageTimer } from '../pipeline/timings.js';
import { warmUp } from '../pipeline/warm-up.js';
import { WorkQueue } from '../work-queue.js';
import { extensionOf, parseCommandLine, pipelineOptionsOf, UsageError, type CommandLine, type PipelineOptions } from './args.js';
import { helpText, versionText } from './help.js';
import {
  chooseTarget,
  classifyInputs,
  destinationOf,
  fileVersion,
  hasImageExtension,
  scanFolder,
  watchFolder,
  type Destination,
  type Input,
  type Source,
  type Target,
} from './inputs.js';
import { Progress, progressMode } from './progress.js';
import { CliError, errorOf, systemError, type Report, type ReportEntry } from './report.js';

export interface Io {
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  env: NodeJS.ProcessEnv;
}

export const EXIT = { ok: 0, failed: 1, usage: 2, interrupted: 130 } as const;

interface Job {
  /** The input as shown in progress and the report. */
  input: string;
  source: Source;
  /** A folder's file's path inside the folder. */
  relative?: string;
  /** A watched file's version when it was offered. */
  version?: string;
}

/** A queue of jobs that may grow (a watched folder) until it is closed. */
class JobQueue {
  private readonly items: Job[] = [];
  private wake: (() => void) | undefined;
  private closed = false;

  push(job: Job): void {
    if (this.closed) return;
    this.items.push(job);
    this.wake?.();
  }

  close(): void {
    this.closed = true;
    this.wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Job> {
    for (;;) {
      const next = this.items.shift();
      if (next) yield next;
      else if (this.closed) return;
      else await new Promise<void>((resolve) => (this.wake = resolve));
      this.wake = undefined;
    }
  }
}

function fail(io: Io, message: string, code: number): number {
  io.stderr.write(`bg-remove: ${message}\n`);
  return code;
}

/** Runs the command; resolves to its exit status. */
export async function run(argv: string[], io: Io): Promise<number> {
  let line: CommandLine;
  let config: Config;
  let inputs: Input[];
  let target: Target;
  let options: PipelineOptions;
  try {
    line = parseCommandLine(argv);
    if (line.help) {
      io.stdout.write(helpText());
      return EXIT.ok;
    }
    if (line.version) {
      io.stdout.write(`${versionText()}\n`);
      return EXIT.ok;
    }
    config = loadConfig(io.env);
    inputs = await classifyInputs(line.inputs);
    target = await chooseTarget(inputs, line);
    options = pipelineOptionsOf(line, { defaultThreshold: config.MASK_THRESHOLD, maxCanvasPixels: config.MAX_CANVAS_PIXELS }, target.kind === 'file' ? target.path : undefined);
    if (inputs[0]!.kind === 'stdin' && io.stdin.isTTY) throw new UsageError('standard input is a terminal: pipe an image in (cat photo.jpg | bg-remove - -o cutout.png)');
    if (target.kind === 'stdout' && io.stdout.isTTY) throw new UsageError('standard output is a terminal: redirect it (> cutout.png) or give -o FILE');
    if (line.json === '-' && target.kind === 'stdout') throw new UsageError('--json - and the image cannot both go to standard output');
  } catch (error) {
    if (error instanceof UsageError) return fail(io, `${error.message}\n(bg-remove --help lists the options)`, EXIT.usage);
    if (error instanceof ConfigError) return fail(io, error.message, EXIT.usage);
    throw error;
  }

  const needsDownloader = inputs.some((input) => input.kind === 'url') || (options.background.kind === 'url' && !options.background.url.startsWith('file:'));
  const downloader = needsDownloader ? await startDownloader(config) : undefined;
  applyHeapGrowth(config); // a folder of photos allocates as a stream of requests does
  // On this thread: a command line has no event loop to keep answering, and the worker's thread
  // would cost start-up time and memory (INFERENCE_WORKER is the service's).
  const loading = Segmenter.load({ modelPath: config.MODEL_PATH, threads: config.INFERENCE_THREADS, arena: config.INFERENCE_ARENA });
  loading.catch(() => {}); // awaited below, after the background
  try {
    let background: Background;
    try {
      background = await resolveBackground(options.background, downloader);
    } catch (error) {
      if (error instanceof CliError) return fail(io, `--background-image: ${error.message}`, EXIT.usage);
      return fail(io, `${errorOf(error).code}: ${errorOf(error).message}`, EXIT.failed);
    }
    let segmenter: Segmenter;
    try {
      segmenter = await loading;
    } catch (error) {
      if (error instanceof ModelLoadError) return fail(io, error.message, EXIT.failed);
      throw error;
    }
    try {
      return await new Batch(line, config, inputs, target, { ...options, background }, segmenter, downloader, io).run();
    } finally {
      await segmenter.release();
    }
  } finally {
    await downloader?.close();
  }
}

/** The background as the pipeline takes it: a background image's bytes read (a file) or downloaded (a URL) once for every input. */
async function resolveBackground(requested: RequestedBackground, downloader: ImageDownloader | undefined): Promise<Background> {
  if (requested.kind !== 'url') return requested;
  if (requested.url.startsWith('file:')) {
    const file = fileURLToPath(requested.url);
    return { kind: 'image', bytes: await readFile(file).catch((error: unknown) => Promise.reject(systemError('read_failed', `cannot read ${file}`, error))) };
  }
  try {
    return { kind: 'image', bytes: await downloader!.download(requested.url) };
  } catch (error) {
    throw aboutBackground(error);
  }
}

type Options = Omit<PipelineOptions, 'background'> & { background: Background };

class Batch {
  private readonly entries: { seq: number; entry: ReportEntry }[] = [];
  private readonly progress: Progress;
  private readonly queue: WorkQueue;
  private readonly jobs = new JobQueue();
  /** Results of this run, by path, and whose they are: two inputs never write one file. */
  private readonly claimed = new Map<string, string>();
  /** Every input file of the run: no result is written over one. */
  private readonly inputFiles = new Set<string>();
  /** Files being worked on, and the version of each file done, so a watch event for the same file is not a second job. */
  private readonly busy = new Set<string>();
  private readonly handled = new Map<string, string>();
  private readonly stop = new AbortController();
  private readonly watchers: { close(): void }[] = [];
  private readonly extension: string;
  private seq = 0;
  private interrupted = false;
  /** The worker for the full-resolution passes' second half (ROW_WORKER), started with the batch. */
  private rows: RowPool | undefined;

  constructor(
    private readonly line: CommandLine,
    private readonly config: Config,
    private readonly inputs: readonly Input[],
    private readonly target: Target,
    private readonly options: Options,
    private readonly segmenter: Segmenter,
    private readonly downloader: ImageDownloader | undefined,
    private readonly io: Io,
  ) {
    this.progress = new Progress(io.stderr, progressMode(io.stderr, line.quiet));
    this.queue = new WorkQueue(line.jobs, line.jobs);
    this.extension = extensionOf(options.output.format);
  }

  async run(): Promise<number> {
    const started = performance.now();
    // Ctrl+C (or SIGTERM): finish the images being worked on, then summarise; a second one stops at once.
    const onSignal = () => {
      if (this.stop.signal.aborted) {
        this.io.stderr.write('\n');
        process.exit(EXIT.interrupted);
      }
      if (!this.line.watch) this.interrupted = true;
      this.stop.abort(new Error('interrupted'));
      for (const watcher of this.watchers) watcher.close();
      this.jobs.close();
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    this.rows = this.config.ROW_WORKER ? RowPool.start() : undefined;
    try {
      await this.plan();
      if (this.line.watch && !this.stop.signal.aborted) {
        await warmUp(this.segmenter, this.rows); // the first file to arrive does not pay for it
        const folders = this.inputs.flatMap((input) => (input.kind === 'folder' ? [input.path] : []));
        this.progress.note(`watching ${folders.join(', ')} for new images; Ctrl+C stops`);
      } else this.jobs.close();
      await this.work();
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      for (const watcher of this.watchers) watcher.close();
      await this.rows?.close();
    }
    const seconds = (performance.now() - started) / 1000;
    const entries = this.entries.sort((a, b) => a.seq - b.seq).map(({ entry }) => entry);
    this.progress.end(entries, seconds);
    const failed = entries.some((entry) => entry.status === 'failed');
    if (this.line.json !== undefined) {
      const report: Report = { summary: { ...count(entries), seconds: Math.round(seconds * 1000) / 1000 }, entries };
      const text = `${JSON.stringify(report, null, 2)}\n`;
      try {
        if (this.line.json === '-') await writeTo(this.io.stdout, Buffer.from(text));
        else await writeFile(this.line.json, text);
      } catch (error) {
        return fail(this.io, `cannot write the report ${this.line.json}: ${errorOf(systemError('write_failed', 'write', error)).message}`, EXIT.failed);
      }
    }
    return this.interrupted ? EXIT.interrupted : failed ? EXIT.failed : EXIT.ok;
  }

  /** Queues the inputs: files as they are, folders' images (others are skipped); watched folders keep adding. */
  private async plan(): Promise<void> {
    const exclude = this.target.kind === 'folder' ? this.target.path : undefined;
    for (const input of this.inputs) {
      if (input.kind !== 'folder') {
        this.progress.planned(1);
        this.add({ input: input.kind === 'file' ? input.path : input.kind === 'url' ? input.url : '-', source: input });
        continue;
      }
      const folder = input.path;
      // Watching starts before the scan, so a file that arrives during it is not missed.
      if (this.line.watch) {
        this.watchers.push(
          watchFolder(folder, this.line.recursive, exclude, (file, version) => {
            if (this.busy.has(file.path) || this.handled.get(file.path) === version) return;
            this.progress.planned(1);
            if (!hasImageExtension(file.path)) this.skip(file.path, 'not an image, by its extension');
            else this.add({ input: file.path, source: { kind: 'file', path: file.path }, relative: file.relative, version });
          }),
        );
      }
      const { images, others } = await scanFolder(folder, this.line.recursive, exclude);
      this.progress.planned(images.length + others.length);
      for (const other of others) this.skip(other.path, 'not an image, by its extension');
      for (const image of images) this.add({ input: image.path, source: { kind: 'file', path: image.path }, relative: image.relative });
    }
  }

  private add(job: Job): void {
    if (job.source.kind === 'file') {
      this.busy.add(job.source.path);
      this.inputFiles.add(path.resolve(job.source.path));
    }
    this.jobs.push(job);
  }

  private skip(input: string, reason: string): void {
    this.record(this.seq++, { input, status: 'skipped', reason });
  }

  private record(seq: number, entry: ReportEntry): void {
    this.entries.push({ seq, entry });
    this.progress.finished(entry);
  }

  /** Works through the jobs, `jobs` at a time, reading as many ahead. */
  private async work(): Promise<void> {
    const active = new Set<Promise<void>>();
    const limit = this.queue.concurrency + this.queue.queueLimit;
    for await (const job of this.jobs) {
      if (this.stop.signal.aborted) break;
      while (active.size >= limit) await Promise.race(active);
      const seq = this.seq++;
      const working: Promise<void> = this.process(job).then(
        (entry) => {
          if (entry) this.record(seq, entry);
        },
      ).finally(() => {
        active.delete(working);
        if (job.source.kind === 'file') this.busy.delete(job.source.path);
      });
      active.add(working);
    }
    await Promise.all(active);
  }

  /** One input, start to end; undefined when it never started (stopped while waiting for its turn). */
  private async process(job: Job): Promise<ReportEntry | undefined> {
    const { input, source } = job;
    const destination = destinationOf(source, this.target, this.extension, job.relative);
    const output = destination.kind === 'stdout' ? '-' : destination.path;
    if (destination.kind === 'file') {
      const key = path.resolve(destination.path);
      const owner = this.claimed.get(key);
      if (owner !== undefined && owner !== input) {
        return { input, status: 'failed', output, error: { code: 'output_conflict', message: `its result ${output} is also the result of ${owner}` } };
      }
      if (this.inputFiles.has(key)) {
        return { input, status: 'failed', output, error: { code: 'output_conflict', message: `its result ${output} would replace an input of this run` } };
      }
      this.claimed.set(key, input);
      if (!this.line.overwrite && existsSync(destination.path)) {
        return { input, status: 'skipped', output, reason: 'its result exists; --overwrite replaces it' };
      }
    }
    const timer = new StageTimer();
    const ticket = this.queue.admit();
    this.progress.started(input);
    let started = false;
    try {
      const bytes = await timer.time('fetch', () => this.read(source, job));
      const maxPixels = this.config.MAX_INPUT_PIXELS;
      const header = await timer.time('decode', () => readHeader(bytes, { maxPixels }));
      const context = { segmenter: this.segmenter, maxPixels, pngCompressionLevel: this.config.PNG_COMPRESSION_LEVEL, decodeAlongsideMaxPixels: this.config.DECODE_ALONGSIDE_MAX_PIXELS, rows: this.rows, timer, header };
      const result = await ticket.run(
        () => {
          started = true;
          return removeBackground(bytes, this.options.removal, context, { ...this.options.output, background: this.options.background });
        },
        this.stop.signal,
        isLargeImage(header) ? this.queue.concurrency : 1,
      );
      await this.write(destination, result.image);
      const { image, ...facts } = result;
      return { input, status: 'done', output, ...facts, bytes: image.length, stages: timer.summary() };
    } catch (error) {
      if (!started && this.stop.signal.aborted) {
        this.progress.abandoned(input);
        return undefined;
      }
      return { input, status: 'failed', output, error: errorOf(error), stages: timer.summary() };
    } finally {
      ticket.release();
    }
  }

  private async read(source: Source, job: Job): Promise<Buffer> {
    switch (source.kind) {
      case 'stdin':
        return readAll(this.io.stdin).catch((error: unknown) => Promise.reject(systemError('read_failed', 'cannot read standard input', error)));
      case 'url':
        return this.downloader!.download(source.url, this.stop.signal);
      case 'file':
        try {
          const bytes = await readFile(source.path);
          if (this.line.watch) this.handled.set(source.path, job.version ?? fileVersion(await stat(source.path)));
          return bytes;
        } catch (error) {
          throw systemError('read_failed', `cannot read ${source.path}`, error);
        }
    }
  }

  /** Writes a result whole or not at all: into a temporary file, then renamed over its name. */
  private async write(destination: Destination, image: Buffer): Promise<void> {
    if (destination.kind === 'stdout') {
      await writeTo(this.io.stdout, image).catch((error: unknown) => Promise.reject(systemError('write_failed', 'cannot write standard output', error)));
      return;
    }
    const file = destination.path;
    const temporary = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
    try {
      await mkdir(path.dirname(file), { recursive: true });
      await writeFile(temporary, image);
      await rename(temporary, file);
    } catch (error) {
      await unlink(temporary).catch(() => {});
      throw systemError('write_failed', `cannot write ${file}`, error);
    }
  }
}

function count(entries: readonly ReportEntry[]): { done: number; skipped: number; failed: number } {
  const counts = { done: 0, skipped: 0, failed: 0 };
  for (const entry of entries) counts[entry.status]++;
  return counts;
}

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks);
}

function writeTo(stream: NodeJS.WritableStream, bytes: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const failed = (error: Error) => reject(error);
    stream.once('error', failed);
    stream.write(bytes, (error) => {
      stream.off('error', failed);
      if (error) reject(error);
      else resolve();
    });
  });
}

/** A .env file in the project folder fills in settings the environment does not set, as for the service. */
export function loadEnvFile(): void {
  const envFile = path.join(projectRoot, '.env');
  if (existsSync(envFile)) process.loadEnvFile(envFile);
}
