// npm run eval -- <folder> [<folder> ...] [--subject largest|group|all] [--refine on|off]
//                         [--accuracy standard|high] [--threshold 0..1] [--tolerance px] [--edges on|off]
//                         [--json file]
//
// Measures cutout quality against ground truth, running the pipeline in-process (no HTTP): every
// <folder>/images/<name>.<ext> that has a <folder>/masks/<name>.png (greyscale or grey RGB, 0
// background, 255 foreground, the photo's size) goes through removeBackground() as an uncropped
// alpha mask, and is scored by IoU and boundary F (both masks binarised at 0.5), MAE (soft alpha),
// and time. A refusal (a ServiceError such as no_foreground) is listed and scored as an empty mask,
// so refusals cost quality instead of dropping out of the averages. Every image is also run through
// the plain pipeline (every region, the model's own soft alpha: subject all, refine off, standard
// quality), from the same inference, and the means of both are printed side by side. Several folders
// (the dev sets) are scored in one run: a table per set, then one summary row per set. With
// --edges on (the default), each set's photos are also put on saturated colours through their own
// masks, to measure how much of an old background survives in the cutout's edge (eval/edge-colour.ts).
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { loadConfig } from '../src/config.js';
import { ServiceError, type ErrorCode } from '../src/errors.js';
import { ACCURACIES, removeBackground, SUBJECT_MODES, type Accuracy, type SubjectMode } from '../src/pipeline/index.js';
import { Segmenter } from '../src/pipeline/segment.js';
import { warmUp } from '../src/pipeline/warm-up.js';
import { StageTimer, type Stage } from '../src/pipeline/timings.js';
import { evaluateEdgeColour, formatEdgeColour, type EdgeColourResult } from './eval/edge-colour.js';
import { scoreMask } from './eval/metrics.js';

export const DEFAULT_TOLERANCE = 3;

export interface EvalOptions {
  subject: SubjectMode;
  refine: boolean;
  accuracy: Accuracy;
  /** The pipeline's mask threshold (0..1); the scores always binarise at 0.5. */
  threshold: number;
  /** Boundary match tolerance in image pixels. */
  tolerance: number;
}

export interface EvalArgs extends EvalOptions {
  folders: string[];
  /** Also measure the edge colours (eval/edge-colour.ts) on each folder. */
  edges: boolean;
  json: string | undefined;
}

export const USAGE =
  'usage: npm run eval -- <folder> [<folder> ...] [--subject largest|group|all] [--refine on|off]\n' +
  '                           [--accuracy standard|high] [--threshold 0..1] [--tolerance px] [--edges on|off]\n' +
  '                           [--json file]\n' +
  '  each <folder> holds images/ and masks/ (masks/<name>.png for images/<name>.<ext>)';

export class UsageError extends Error {
  override name = 'UsageError';
}

/** The command line (without node and the script), checked; `defaultThreshold` is the service's. */
export function parseEvalArgs(argv: string[], defaultThreshold: number): EvalArgs {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        subject: { type: 'string', default: 'largest' },
        refine: { type: 'string', default: 'on' },
        accuracy: { type: 'string', default: 'standard' },
        threshold: { type: 'string' },
        tolerance: { type: 'string' },
        edges: { type: 'string', default: 'on' },
        json: { type: 'string' },
      },
    });
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  const { values, positionals } = parsed;
  if (positionals.length === 0) throw new UsageError('give at least one folder');
  const subject = SUBJECT_MODES.find((mode) => mode === values.subject);
  if (!subject) throw new UsageError(`--subject must be ${SUBJECT_MODES.join(', ')}; not ${values.subject}`);
  if (values.refine !== 'on' && values.refine !== 'off') throw new UsageError(`--refine must be on or off, not ${values.refine}`);
  if (values.edges !== 'on' && values.edges !== 'off') throw new UsageError(`--edges must be on or off, not ${values.edges}`);
  const accuracy = ACCURACIES.find((a) => a === values.accuracy);
  if (!accuracy) throw new UsageError(`--accuracy must be ${ACCURACIES.join(' or ')}, not ${values.accuracy}`);
  const threshold = values.threshold === undefined ? defaultThreshold : Number(values.threshold);
  if (!(threshold > 0 && threshold < 1)) throw new UsageError(`--threshold must be between 0 and 1 (exclusive), not ${values.threshold}`);
  const tolerance = values.tolerance === undefined ? DEFAULT_TOLERANCE : Number(values.tolerance);
  if (!(tolerance >= 0 && tolerance <= 100)) throw new UsageError(`--tolerance must be 0 to 100 pixels, not ${values.tolerance}`);
  return { folders: positionals, edges: values.edges === 'on', subject, refine: values.refine === 'on', accuracy, threshold, tolerance, json: values.json };
}

export interface ImageResult {
  name: string;
  width: number;
  height: number;
  /** Wall time of removeBackground() (decode, infer, mask, encode), ms. */
  ms: number;
  /** Per-stage ms from the pipeline's own timer. */
  stages: Partial<Record<Stage, number>>;
  /** The refusal's code, or null when a mask came back. */
  refused: ErrorCode | null;
  iou: number;
  /** Area precision and recall of the binarised masks: too much kept, or too little. */
  areaPrecision: number;
  areaRecall: number;
  mae: number;
  boundaryF: number;
  boundaryPrecision: number;
  boundaryRecall: number;
}

export interface EvalSummary {
  images: number;
  iou: number;
  mae: number;
  boundaryF: number;
  areaPrecision: number;
  areaRecall: number;
  ms: number;
  refusals: { name: string; code: ErrorCode }[];
}

export interface EvalReport {
  folder: string;
  options: EvalOptions;
  results: ImageResult[];
  /** Images without a mask, left out. */
  unmatched: string[];
  summary: EvalSummary;
  /**
   * The same images through the plain pipeline (PLAIN), or null when the options are the plain ones.
   * Its times leave out inference, which it reuses from the run with the options.
   */
  plain: { results: ImageResult[]; summary: EvalSummary } | null;
}

/** The plain pipeline: every region, the model's own soft alpha, one inference (the issue's baseline). */
export const PLAIN = { subject: 'all', refine: false, accuracy: 'standard' } as const;

const isPlain = (options: EvalOptions): boolean =>
  options.subject === PLAIN.subject && options.refine === PLAIN.refine && options.accuracy === PLAIN.accuracy;

/**
 * Remembers the model's last few answers, so the plain pipeline's run of an image reuses the
 * inference of the run before it (same decoded image, same tensor) instead of paying for it again.
 */
export class InferenceCache {
  private readonly entries: { input: Float32Array; output: Float32Array }[] = [];

  constructor(
    private readonly segmenter: Pick<Segmenter, 'predict'>,
    private readonly capacity = 2,
  ) {}

  async predict(input: Float32Array): Promise<Float32Array> {
    const hit = this.entries.find((entry) => sameValues(entry.input, input));
    if (hit) return hit.output.slice();
    const output = await this.segmenter.predict(input);
    this.entries.unshift({ input: input.slice(), output: output.slice() });
    this.entries.length = Math.min(this.entries.length, this.capacity);
    return output;
  }
}

function sameValues(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The images of `folder`/images that have a mask, and those that do not. */
export function pairImages(folder: string): { pairs: { name: string; image: string; mask: string }[]; unmatched: string[] } {
  for (const sub of ['images', 'masks']) {
    if (!existsSync(path.join(folder, sub))) throw new UsageError(`${folder} has no ${sub}/ folder`);
  }
  const masks = new Set(readdirSync(path.join(folder, 'masks')));
  const pairs: { name: string; image: string; mask: string }[] = [];
  const unmatched: string[] = [];
  for (const name of readdirSync(path.join(folder, 'images')).sort()) {
    if (name.startsWith('.')) continue;
    const mask = `${path.parse(name).name}.png`;
    if (masks.has(mask)) pairs.push({ name, image: path.join(folder, 'images', name), mask: path.join(folder, 'masks', mask) });
    else unmatched.push(name);
  }
  return { pairs, unmatched };
}

/** The first channel of an image, one byte per pixel (a grey mask stored as RGB reads the same). */
async function readGrey(input: string | Buffer): Promise<{ data: Uint8Array; width: number; height: number }> {
  const { data, info } = await sharp(input).extractChannel(0).raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
}

const mean = (values: number[]): number => (values.length === 0 ? NaN : values.reduce((a, b) => a + b, 0) / values.length);

export interface EvalContext {
  segmenter: Pick<Segmenter, 'predict'>;
  maxPixels: number;
  pngCompressionLevel: number;
  /** Called once per image as it starts, for progress. */
  progress?: (done: number, total: number, name: string) => void;
}

export async function evaluateFolder(folder: string, options: EvalOptions, context: EvalContext): Promise<EvalReport> {
  const { pairs, unmatched } = pairImages(folder);
  const segmenter = new InferenceCache(context.segmenter);
  const results: ImageResult[] = [];
  const plainResults: ImageResult[] = [];
  for (const [index, pair] of pairs.entries()) {
    context.progress?.(index, pairs.length, pair.name);
    const bytes = await readFile(pair.image);
    const truth = await readGrey(pair.mask);
    results.push(await evaluateImage(pair.name, bytes, truth, options, segmenter, context));
    if (!isPlain(options)) plainResults.push(await evaluateImage(pair.name, bytes, truth, { ...options, ...PLAIN }, segmenter, context));
  }
  return {
    folder,
    options,
    results,
    unmatched,
    summary: summarise(results),
    plain: isPlain(options) ? null : { results: plainResults, summary: summarise(plainResults) },
  };
}

async function evaluateImage(
  name: string,
  bytes: Buffer,
  truth: { data: Uint8Array; width: number; height: number },
  options: EvalOptions,
  segmenter: Pick<Segmenter, 'predict'>,
  context: EvalContext,
): Promise<ImageResult> {
  const timer = new StageTimer();
  const started = performance.now();
  try {
    const result = await removeBackground(
      bytes,
      { crop: false, margin: 0, subject: options.subject, channels: 'alpha', threshold: options.threshold, refine: options.refine, accuracy: options.accuracy },
      { segmenter, maxPixels: context.maxPixels, pngCompressionLevel: context.pngCompressionLevel, timer },
    );
    const ms = performance.now() - started;
    const predicted = await readGrey(result.image);
    if (predicted.width !== truth.width || predicted.height !== truth.height) {
      throw new Error(`${name}: the photo is ${predicted.width}x${predicted.height} but its mask is ${truth.width}x${truth.height}`);
    }
    return score(name, predicted.data, truth, ms, timer, null, options.tolerance);
  } catch (error) {
    if (!(error instanceof ServiceError)) throw error;
    const ms = performance.now() - started;
    return score(name, new Uint8Array(truth.data.length), truth, ms, timer, error.code, options.tolerance);
  }
}

function summarise(results: ImageResult[]): EvalSummary {
  const pick = (key: 'iou' | 'mae' | 'boundaryF' | 'areaPrecision' | 'areaRecall' | 'ms'): number => mean(results.map((r) => r[key]));
  return {
    images: results.length,
    iou: pick('iou'),
    mae: pick('mae'),
    boundaryF: pick('boundaryF'),
    areaPrecision: pick('areaPrecision'),
    areaRecall: pick('areaRecall'),
    ms: pick('ms'),
    refusals: results.flatMap((r) => (r.refused ? [{ name: r.name, code: r.refused }] : [])),
  };
}

function score(
  name: string,
  predicted: Uint8Array,
  truth: { data: Uint8Array; width: number; height: number },
  ms: number,
  timer: StageTimer,
  refused: ErrorCode | null,
  tolerance: number,
): ImageResult {
  const scores = scoreMask(predicted, truth.data, truth.width, truth.height, tolerance);
  const { total: _total, ...stages } = timer.summary();
  return {
    name,
    width: truth.width,
    height: truth.height,
    ms,
    stages,
    refused,
    iou: scores.area.iou,
    areaPrecision: scores.area.precision,
    areaRecall: scores.area.recall,
    mae: scores.mae,
    boundaryF: scores.boundary.f,
    boundaryPrecision: scores.boundary.precision,
    boundaryRecall: scores.boundary.recall,
  };
}

/** The report as a plain-text table: one row per image, then the means and the refusals. */
export function formatTable(report: EvalReport): string {
  const { options, summary } = report;
  const nameWidth = Math.max(5, report.plain ? 'plain pipeline'.length : 0, ...report.results.map((r) => r.name.length));
  const f3 = (n: number) => (Number.isNaN(n) ? '  -  ' : n.toFixed(3));
  const row = (cells: string[]) => cells.join('  ');
  const header = row([
    'image'.padEnd(nameWidth), 'size'.padEnd(9), '  IoU', '  MAE', `bF@${options.tolerance}px`.padStart(7), 'areaP', 'areaR', '    ms', 'note',
  ]);
  const lines = [
    `${report.folder}: subject ${options.subject}, refine ${options.refine ? 'on' : 'off'}, accuracy ${options.accuracy}, ` +
      `threshold ${options.threshold}, boundary tolerance ${options.tolerance} px`,
    header,
    '-'.repeat(header.length),
  ];
  for (const r of report.results) {
    lines.push(row([
      r.name.padEnd(nameWidth), `${r.width}x${r.height}`.padEnd(9), f3(r.iou), f3(r.mae), f3(r.boundaryF).padStart(7),
      f3(r.areaPrecision), f3(r.areaRecall), r.ms.toFixed(0).padStart(6), r.refused ? `refused: ${r.refused}` : '',
    ]).trimEnd());
  }
  lines.push('-'.repeat(header.length));
  lines.push(row([
    `mean (${summary.images})`.padEnd(nameWidth), ''.padEnd(9), f3(summary.iou), f3(summary.mae), f3(summary.boundaryF).padStart(7),
    f3(summary.areaPrecision), f3(summary.areaRecall), summary.ms.toFixed(0).padStart(6),
  ]));
  if (report.plain) {
    const plain = report.plain.summary;
    const delta = (a: number, b: number) => `${a - b >= 0 ? '+' : '-'}${Math.abs(a - b).toFixed(3)}`;
    lines.push(row([
      'plain pipeline'.padEnd(nameWidth), ''.padEnd(9), f3(plain.iou), f3(plain.mae), f3(plain.boundaryF).padStart(7),
      f3(plain.areaPrecision), f3(plain.areaRecall), '     -', '(subject all, refine off, standard)',
    ]));
    lines.push(row([
      'change'.padEnd(nameWidth), ''.padEnd(9), delta(summary.iou, plain.iou), delta(summary.mae, plain.mae),
      delta(summary.boundaryF, plain.boundaryF).padStart(7), delta(summary.areaPrecision, plain.areaPrecision),
      delta(summary.areaRecall, plain.areaRecall),
    ]));
    if (plain.refusals.length > 0) lines.push(`plain pipeline refusals: ${plain.refusals.map((r) => `${r.name} ${r.code}`).join(', ')}`);
  }
  lines.push(
    summary.refusals.length === 0
      ? 'refusals: none'
      : `refusals: ${summary.refusals.length} (${summary.refusals.map((r) => `${r.name} ${r.code}`).join(', ')}), scored as empty masks`,
  );
  if (report.unmatched.length > 0) lines.push(`left out (no mask): ${report.unmatched.join(', ')}`);
  return lines.join('\n');
}

/** One row per set: the options' means beside the plain pipeline's, with refusals. */
export function formatSummary(reports: EvalReport[]): string {
  const setWidth = Math.max(3, ...reports.map((r) => path.basename(r.folder).length));
  const f3 = (n: number | undefined) => (n === undefined || Number.isNaN(n) ? '    -' : n.toFixed(3));
  const cells = (s: EvalSummary | undefined) => [f3(s?.iou), f3(s?.mae), f3(s?.boundaryF), String(s?.refusals.length ?? '-').padStart(7)];
  const header = ['set'.padEnd(setWidth), 'images', '  IoU', '  MAE', '   bF', 'refused', '|', 'plain IoU', '  MAE', '   bF', 'refused'].join('  ');
  const lines = ['summary: the options above, then the plain pipeline (subject all, refine off, standard)', header, '-'.repeat(header.length)];
  for (const report of reports) {
    const plain = report.plain?.summary ?? (isPlain(report.options) ? report.summary : undefined);
    lines.push([
      path.basename(report.folder).padEnd(setWidth), String(report.summary.images).padStart(6), ...cells(report.summary), '|',
      f3(plain?.iou).padStart(9), ...cells(plain).slice(1),
    ].join('  '));
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  const config = loadConfig();
  const args = parseEvalArgs(process.argv.slice(2), config.MASK_THRESHOLD);
  const segmenter = await Segmenter.load({ modelPath: config.MODEL_PATH, threads: config.INFERENCE_THREADS });
  try {
    await warmUp(segmenter); // so the first image's time is not the engine's set-up
    const options: EvalOptions = { subject: args.subject, refine: args.refine, accuracy: args.accuracy, threshold: args.threshold, tolerance: args.tolerance };
    const reports: EvalReport[] = [];
    for (const given of args.folders) {
      const folder = path.resolve(given);
      const report = await evaluateFolder(folder, options, {
        segmenter,
        maxPixels: config.MAX_INPUT_PIXELS,
        pngCompressionLevel: config.PNG_COMPRESSION_LEVEL,
        progress: (done, total, name) => process.stderr.write(`[${path.basename(folder)} ${done + 1}/${total}] ${name}\n`),
      });
      if (report.results.length === 0) throw new UsageError(`no image in ${folder}/images has a mask in ${folder}/masks`);
      console.log(`${formatTable(report)}\n`);
      reports.push(report);
    }
    console.log(formatSummary(reports));
    const edges: { folder: string; results: EdgeColourResult[] }[] = [];
    for (const report of args.edges ? reports : []) {
      const settings = { subject: options.subject, threshold: options.threshold, refine: options.refine, accuracy: options.accuracy };
      const results = await evaluateEdgeColour(report.folder, { settings }, {
        segmenter,
        maxPixels: config.MAX_INPUT_PIXELS,
        pngCompressionLevel: config.PNG_COMPRESSION_LEVEL,
        progress: (done, total, name) => process.stderr.write(`[edges ${path.basename(report.folder)} ${done + 1}/${total}] ${name}\n`),
      });
      console.log(`\n${formatEdgeColour(report.folder, results)}`);
      edges.push({ folder: report.folder, results });
    }
    if (args.json) {
      writeFileSync(args.json, `${JSON.stringify({ reports, edges }, null, 2)}\n`);
      console.log(`per-image numbers written to ${args.json}`);
    }
  } finally {
    await segmenter.release();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((error: unknown) => {
    if (error instanceof UsageError) {
      console.error(`eval: ${error.message}\n${USAGE}`);
      process.exit(2);
    }
    console.error(`eval failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  });
}
