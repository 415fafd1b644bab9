// npm run fuzz -- --cases N --seed S [--http N] [--max-pixels P] [--fixtures DIR] [--json] [--trace]: a bounded, seeded mutation fuzzer
// over the image decoders and the pipeline, and over HTTP with the real model.
//
// Seeds: every valid file of the hostile-input corpus (scripts/generate-corpus.ts: each accepted
// format, every EXIF orientation, CMYK, 16-bit, palettes, alpha, animations), small photo-like
// images made here in every format with an ICC profile and EXIF, and, when SOD_DEV names a folder of
// real photos, a few of those. Each case is one seed mutated (scripts/fuzz/mutate.ts). Through the
// pipeline a case runs readHeader and the full decode and, one case in four, the whole
// removeBackground with a small stand-in segmenter (the model is not what is fuzzed there); through
// HTTP it is POSTed as an image URL to the app with the real model. The rules: no crash, no hang
// past the deadline, no 5xx, every refusal one of the documented codes with its status, and
// resident memory flat across the run. A failing case is minimised and written to
// test/fixtures/fuzz/, which test/scripts/fuzz.test.ts replays on every run.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { FastifyInstance } from 'fastify';
import sharp, { type Sharp } from 'sharp';
import { buildApp } from '../src/app.js';
import { loadConfig, projectRoot } from '../src/config.js';
import { errorCatalog, ServiceError, type ErrorCode } from '../src/errors.js';
import { decodePixels, modelPixelsFromBytes, readHeader, sniffFormat, type ImageFormat } from '../src/pipeline/decode.js';
import { removeBackground, type OutputOptions, type RemovalOptions } from '../src/pipeline/index.js';
import { MODEL_SIZE } from '../src/pipeline/preprocess.js';
import { StageTimer } from '../src/pipeline/timings.js';
import { buildCorpus } from './generate-corpus.js';
import { mutate, type Random } from './fuzz/mutate.js';
import { seededRandom } from './seeded-random.js';

export const FIXTURES = path.join(projectRoot, 'test', 'fixtures', 'fuzz');

/** What the pipeline may refuse a mutated image with: anything else is a finding. */
export const PIPELINE_CODES: readonly ErrorCode[] = ['unsupported_media_type', 'image_decode_failed', 'too_many_pixels', 'no_foreground'];
/** And over HTTP, where a refusal is also an answer: its code, with the code's own status. */
export const HTTP_CODES: readonly ErrorCode[] = [...PIPELINE_CODES, 'too_large', 'invalid_request'];

export interface Seed {
  name: string;
  format: ImageFormat;
  bytes: Buffer;
}

/** A photo-like image: smooth light, texture and a few objects, the statistics of a real photo more than a drawing. */
async function photoLike(width: number, height: number, seed: number): Promise<Sharp> {
  const random = seededRandom(seed);
  const pixels = Buffer.alloc(width * height * 3);
  const objects = Array.from({ length: 3 }, () => ({ x: random() * width, y: random() * height, r: 8 + random() * width * 0.25, c: [random() * 255, random() * 255, random() * 255] }));
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      let colour = [90 + 100 * (y / height), 120 + 60 * (x / width), 160 - 50 * (y / height)];
      for (const o of objects) if ((x - o.x) ** 2 + (y - o.y) ** 2 < o.r ** 2) colour = o.c.map((c, k) => c * (0.7 + 0.3 * ((x + k * 7) % 17) / 17));
      for (let k = 0; k < 3; k++) pixels[i + k] = Math.max(0, Math.min(255, colour[k]! + (random() - 0.5) * 24));
    }
  }
  return sharp(pixels, { raw: { width, height, channels: 3 } });
}

const EXIF = { IFD0: { Make: 'fuzz', Model: 'seed', Software: 'bg-removal-service' } };

/** Every seed: the corpus's valid files, photo-like files with ICC and EXIF, and real photos when given. */
export async function buildSeeds(photos = process.env.SOD_DEV ? path.join(process.env.SOD_DEV, 'images') : undefined): Promise<Seed[]> {
  const seeds: Seed[] = [];
  const add = (name: string, bytes: Buffer) => {
    const format = sniffFormat(bytes);
    if (format) seeds.push({ name, format, bytes });
  };
  // The 3000x60 and 1x4000 files are large for their worth here.
  for (const item of await buildCorpus()) if (item.expect.status === 200 && !/wide|tall/.test(item.name)) add(item.name, item.bytes);
  for (const [i, [width, height]] of [[160, 120], [96, 128]].entries()) {
    const image = async () => (await photoLike(width!, height!, 100 + i)).withIccProfile('p3');
    add(`photo-${i}.jpg`, await (await image()).withExif(EXIF).withMetadata({ orientation: 6 }).jpeg({ quality: 85 }).toBuffer());
    add(`photo-${i}-progressive.jpg`, await (await image()).withMetadata({ orientation: 3 }).jpeg({ progressive: true }).toBuffer());
    add(`photo-${i}.png`, await (await image()).png().toBuffer());
    add(`photo-${i}.webp`, await (await image()).withExif(EXIF).webp({ quality: 70 }).toBuffer());
    add(`photo-${i}-alpha.webp`, await (await image()).ensureAlpha(0.5).webp({ lossless: true }).toBuffer());
    add(`photo-${i}.gif`, await (await image()).gif().toBuffer());
    add(`photo-${i}.tiff`, await (await image()).withMetadata({ orientation: 8 }).tiff({ compression: i === 0 ? 'deflate' : 'jpeg' }).toBuffer());
    add(`photo-${i}.avif`, await (await image()).avif({ quality: 50, effort: 0 }).toBuffer());
  }
  if (photos && existsSync(photos)) {
    for (const name of readdirSync(photos).filter((file) => /\.jpe?g$/i.test(file)).sort().slice(0, 3)) {
      const original = readFileSync(path.join(photos, name));
      add(`real-${name}`, original);
      // The same photo, smaller, in the other formats (with its profile, if it has one).
      const small = () => sharp(original).resize(200).keepIccProfile();
      add(`real-${name}.png`, await small().png().toBuffer());
      add(`real-${name}.webp`, await small().webp().toBuffer());
    }
  }
  return seeds;
}

export type Outcome = { ok: true; code?: ErrorCode } | { ok: false; finding: string };

const refusal = (code: ErrorCode, allowed: readonly ErrorCode[]): Outcome =>
  allowed.includes(code) ? { ok: true, code } : { ok: false, finding: `refused with ${code}, not one of ${allowed.join(', ')}` };

/** `work`, or a finding once it has taken longer than `ms`. (Native work past the deadline still runs; the case is reported.) */
async function withinDeadline(work: Promise<Outcome>, ms: number): Promise<Outcome> {
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<Outcome>((resolve) => (timer = setTimeout(() => resolve({ ok: false, finding: `no answer within ${ms} ms` }), ms)));
  try {
    return await Promise.race([work, hang]);
  } finally {
    clearTimeout(timer);
  }
}

/** A segmenter that stands in for the model: salient where the image differs from its mean. Cheap, and it varies with the input. */
export const standInSegmenter = {
  async predict(input: Float32Array): Promise<Float32Array> {
    const plane = MODEL_SIZE * MODEL_SIZE;
    const map = new Float32Array(plane);
    let mean = 0;
    for (let i = 0; i < plane; i++) mean += input[i]!;
    mean /= plane;
    for (let i = 0; i < plane; i++) map[i] = Math.min(1, Math.abs(input[i]! - mean) / 2);
    return map;
  },
};

export interface PipelineLimits {
  maxPixels: number;
  deadlineMs: number;
}

/** One case through the decoder (header, full decode, the model's view) and, when `whole`, the whole pipeline. */
export function runPipelineCase(bytes: Buffer, limits: PipelineLimits, whole: boolean, random: Random = Math.random): Promise<Outcome> {
  const run = async (): Promise<Outcome> => {
    try {
      if (whole) {
        const removal: RemovalOptions = {
          crop: random() < 0.7,
          margin: random() < 0.5 ? 0 : { percent: 10 },
          subject: (['largest', 'group', 'all'] as const)[Math.floor(random() * 3)]!,
          channels: random() < 0.9 ? 'rgba' : 'alpha',
          threshold: 0.3,
          refine: random() < 0.7,
          accuracy: 'standard',
        };
        const output: OutputOptions = {
          format: (['png', 'webp', 'jpeg'] as const)[Math.floor(random() * 3)]!,
          quality: 80,
          background: removal.channels === 'alpha' ? { kind: 'transparent' } : random() < 0.8 ? { kind: 'transparent' } : { kind: 'blur' },
          ...(random() < 0.3 && { maxDimension: 64 }),
        };
        const result = await removeBackground(bytes, removal, { segmenter: standInSegmenter, maxPixels: limits.maxPixels, pngCompressionLevel: 1, timer: new StageTimer() }, output);
        await sharp(result.image).metadata(); // the answer is an image
      } else {
        const header = await readHeader(bytes, limits);
        await Promise.all([decodePixels(bytes, header, limits), modelPixelsFromBytes(bytes, header, limits)]);
      }
      return { ok: true };
    } catch (error) {
      if (error instanceof ServiceError) return refusal(error.code, PIPELINE_CODES);
      return { ok: false, finding: `threw ${(error as Error)?.name ?? typeof error}: ${String((error as Error)?.message ?? error).slice(0, 200)}` };
    }
  };
  return withinDeadline(run(), limits.deadlineMs);
}

/** The app with the real model and a loopback source serving the case's bytes, for HTTP cases. */
export interface HttpTarget {
  app: FastifyInstance;
  post(bytes: Buffer, options?: Record<string, unknown>): Promise<{ status: number; body: Buffer; code?: string }>;
  close(): Promise<void>;
}

export async function startHttpTarget(env: Record<string, string> = {}): Promise<HttpTarget> {
  const app = await buildApp(loadConfig({ LOG_LEVEL: 'silent', ALLOW_PRIVATE_NETWORKS: 'true', ...env }));
  await app.ready();
  await app.model.warmed;
  const files = new Map<string, Buffer>();
  const source = http.createServer((request, response) => {
    const bytes = files.get(request.url ?? '');
    response.writeHead(bytes ? 200 : 404, { 'content-type': 'application/octet-stream' }).end(bytes);
  });
  await new Promise<void>((resolve) => source.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(source.address() as AddressInfo).port}`;
  let next = 0;
  return {
    app,
    async post(bytes, options = {}) {
      const name = `/case-${next++}`;
      files.set(name, bytes);
      try {
        const response = await app.inject({ method: 'POST', url: '/remove-background', payload: { image_url: `${origin}${name}`, ...options } });
        const code = response.statusCode === 200 ? undefined : (response.json() as { error?: { code?: string } }).error?.code;
        return { status: response.statusCode, body: response.rawPayload, ...(code !== undefined && { code }) };
      } finally {
        files.delete(name);
      }
    },
    async close() {
      await new Promise((resolve) => source.close(resolve));
      await app.close();
    },
  };
}

const HTTP_OPTIONS: Record<string, unknown>[] = [{}, { format: 'webp' }, { format: 'jpeg', background: '#336699' }, { subject: 'all', crop: false }, { max_dimension: 64 }, { channels: 'alpha' }];

/** One case over HTTP: 200 with an image, or a documented code with its own status; never a 5xx. */
export async function runHttpCase(target: HttpTarget, bytes: Buffer, deadlineMs: number, random: Random = Math.random): Promise<Outcome> {
  const run = async (): Promise<Outcome> => {
    const answer = await target.post(bytes, HTTP_OPTIONS[Math.floor(random() * HTTP_OPTIONS.length)]);
    if (answer.status === 200) {
      const ok = await sharp(answer.body).metadata().then(() => true, () => false);
      return ok ? { ok: true } : { ok: false, finding: '200 with a body that is not an image' };
    }
    const code = answer.code as ErrorCode | undefined;
    if (!code || !(code in errorCatalog)) return { ok: false, finding: `${answer.status} without a documented code` };
    if (errorCatalog[code].status !== answer.status) return { ok: false, finding: `${code} with status ${answer.status}` };
    return refusal(code, HTTP_CODES);
  };
  return withinDeadline(run(), deadlineMs);
}

/**
 * The smallest input found that still fails the same way: chunks removed, halving their size, within
 * `budget` tries (ddmin-style, bounded).
 */
export async function minimise(bytes: Buffer, fails: (candidate: Buffer) => Promise<boolean>, budget = 200): Promise<Buffer> {
  let current = bytes;
  let tries = 0;
  for (let size = Math.max(1, current.length >> 1); size >= 1 && tries < budget; size >>= 1) {
    for (let at = 0; at + size <= current.length && tries < budget; ) {
      const candidate = Buffer.concat([current.subarray(0, at), current.subarray(at + size)]);
      tries++;
      if (candidate.length > 0 && (await fails(candidate))) current = candidate;
      else at += size;
    }
  }
  return current;
}

export interface Finding {
  case: number;
  via: 'pipeline' | 'http';
  seed: string;
  steps: string[];
  finding: string;
  /** The minimised input's file in test/fixtures/fuzz/, when written. */
  file?: string;
}

export interface FuzzReport {
  seed: number;
  cases: number;
  httpCases: number;
  /** Outcomes by code ("ok" for accepted), per path. */
  outcomes: { pipeline: Record<string, number>; http: Record<string, number> };
  /** Cases per seed format. */
  formats: Record<string, number>;
  /** Cases per kind of mutation (a case with several counts for each). */
  mutations: Record<string, number>;
  findings: Finding[];
  /** The slowest cases (ms), slowest first: how close any came to the deadline. */
  slowest: { ms: number; via: 'pipeline' | 'http'; seed: string; steps: string[]; code: string }[];
  /** Resident memory (MB) sampled across each part of the run, in order (the HTTP part has the model loaded). */
  rssMb: { pipeline: number[]; http: number[] };
  ms: number;
}

export interface FuzzOptions {
  cases: number;
  httpCases: number;
  seed: number;
  maxPixels?: number;
  deadlineMs?: number;
  /** Where minimised failing inputs go (none: not written). */
  fixtures?: string;
  log?: (line: string) => void;
  /** Writes every case to stderr before it runs: after a crash, or a native library's message, the last line names the case. */
  trace?: boolean;
}

const bump = (counts: Record<string, number>, key: string) => (counts[key] = (counts[key] ?? 0) + 1);
const stepKind = (step: string) => step.replace(/@\d+$/, '').replace(/^(flip|insert|delete|duplicate|value)\d+/, '$1');

export async function fuzz(options: FuzzOptions): Promise<FuzzReport> {
  const started = performance.now();
  // Generous: a case that takes this long has hung (a loaded test machine must not make it a finding).
  const limits = { maxPixels: options.maxPixels ?? 4_000_000, deadlineMs: options.deadlineMs ?? 60_000 };
  const log = options.log ?? (() => {});
  const seeds = await buildSeeds();
  const random = seededRandom(options.seed);
  const report: FuzzReport = { seed: options.seed, cases: 0, httpCases: 0, outcomes: { pipeline: {}, http: {} }, formats: {}, mutations: {}, findings: [], slowest: [], rssMb: { pipeline: [], http: [] }, ms: 0 };
  const others = seeds.map((seed) => seed.bytes);
  const sample = (part: 'pipeline' | 'http') => report.rssMb[part].push(Math.round(process.memoryUsage.rss() / 1e5) / 10);

  const record = async (via: 'pipeline' | 'http', index: number, seed: Seed, steps: string[], bytes: Buffer, outcome: Outcome, ms: number, again: (b: Buffer) => Promise<Outcome>) => {
    const code = outcome.ok ? (outcome.code ?? 'ok') : 'FINDING';
    bump(report.outcomes[via], code);
    report.slowest.push({ ms: Math.round(ms), via, seed: seed.name, steps, code });
    report.slowest.sort((a, b) => b.ms - a.ms).splice(10);
    if (outcome.ok) return;
    const finding: Finding = { case: index, via, seed: seed.name, steps, finding: outcome.finding };
    log(`case ${index} (${via}, ${seed.name}, ${steps.join('+')}): ${outcome.finding}`);
    if (options.fixtures) {
      const kind = outcome.finding.split(':')[0]!;
      const small = await minimise(bytes, async (candidate) => {
        const retry = await again(candidate);
        return !retry.ok && retry.finding.split(':')[0] === kind;
      });
      const name = `${seed.format}-${createHash('sha256').update(small).digest('hex').slice(0, 12)}.bin`;
      mkdirSync(options.fixtures, { recursive: true });
      writeFileSync(path.join(options.fixtures, name), small);
      finding.file = name;
    }
    report.findings.push(finding);
  };

  const nextCase = () => {
    const seed = seeds[Math.floor(random() * seeds.length)]!;
    const mutated = mutate(seed.bytes, seed.format, random, others);
    bump(report.formats, seed.format);
    for (const step of mutated.steps) bump(report.mutations, stepKind(step));
    return { seed, ...mutated };
  };

  sample('pipeline');
  for (let i = 0; i < options.cases; i++) {
    const { seed, bytes, steps } = nextCase();
    const whole = i % 4 === 0;
    if (options.trace) process.stderr.write(`case ${i} pipeline${whole ? ' whole' : ''} ${seed.name} ${steps.join('+')}\n`);
    const caseRandom = seededRandom(options.seed * 7919 + i);
    const caseStarted = performance.now();
    const outcome = await runPipelineCase(bytes, limits, whole, caseRandom);
    await record('pipeline', i, seed, steps, bytes, outcome, performance.now() - caseStarted, (candidate) => runPipelineCase(candidate, limits, whole, seededRandom(options.seed * 7919 + i)));
    report.cases++;
    if (i % 100 === 99) sample('pipeline');
    if (i % 1000 === 999) {
      const { heapUsed, external } = process.memoryUsage();
      log(`${i + 1} pipeline cases, ${report.findings.length} findings, rss ${report.rssMb.pipeline.at(-1)} MB (JS heap ${Math.round(heapUsed / 1e6)} MB, external ${Math.round(external / 1e6)} MB)`);
    }
  }

  if (options.httpCases > 0) {
    const target = await startHttpTarget({ MAX_INPUT_PIXELS: String(limits.maxPixels), REQUEST_DEADLINE_MS: String(limits.deadlineMs) });
    try {
      sample('http');
      for (let i = 0; i < options.httpCases; i++) {
        const { seed, bytes, steps } = nextCase();
        const caseRandom = seededRandom(options.seed * 104729 + i);
        if (options.trace) process.stderr.write(`case ${i} http ${seed.name} ${steps.join('+')}\n`);
        const caseStarted = performance.now();
        const outcome = await runHttpCase(target, bytes, limits.deadlineMs + 5000, caseRandom);
        await record('http', i, seed, steps, bytes, outcome, performance.now() - caseStarted, (candidate) => runHttpCase(target, candidate, limits.deadlineMs + 5000, seededRandom(options.seed * 104729 + i)));
        report.httpCases++;
        if (i % 20 === 19) sample('http');
      }
    } finally {
      await target.close();
    }
  }
  report.ms = Math.round(performance.now() - started);
  return report;
}

/** Every kept failing input (test/fixtures/fuzz/*.bin). */
export function keptCases(folder = FIXTURES): { name: string; bytes: Buffer }[] {
  if (!existsSync(folder)) return [];
  return readdirSync(folder)
    .filter((name) => name.endsWith('.bin'))
    .sort()
    .map((name) => ({ name, bytes: readFileSync(path.join(folder, name)) }));
}

function argument(name: string, fallback: number): number {
  const at = process.argv.indexOf(`--${name}`);
  if (at < 0) return fallback;
  const value = Number(process.argv[at + 1]);
  if (!Number.isInteger(value) || value < 0) throw new Error(`--${name} needs a whole number, not ${process.argv[at + 1]}`);
  return value;
}

function textArgument(name: string): string | undefined {
  const at = process.argv.indexOf(`--${name}`);
  return at < 0 ? undefined : process.argv[at + 1];
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const cases = argument('cases', 10_000);
  const json = process.argv.includes('--json'); // the report as one JSON line, for the test
  const report = await fuzz({
    cases,
    httpCases: argument('http', Math.ceil(cases / 20)),
    seed: argument('seed', 1),
    maxPixels: argument('max-pixels', 4_000_000),
    fixtures: textArgument('fixtures') ?? FIXTURES,
    trace: process.argv.includes('--trace'),
    log: (line) => (json ? console.error(line) : console.log(line)),
  });
  if (json) {
    console.log(JSON.stringify(report));
    process.exit(0);
  }
  const { findings, ...summary } = report;
  console.log(JSON.stringify(summary, null, 2));
  if (findings.length > 0) {
    console.log(`${findings.length} findings (minimised inputs kept in ${path.relative(projectRoot, FIXTURES)}/):`);
    for (const finding of findings) console.log(JSON.stringify(finding));
    process.exitCode = 1;
  } else {
    console.log('no findings');
  }
}
