// npm run bench: the service's speed and memory, measured from outside, as production runs it.
//
//   npm run bench                         the full run
//   npm run bench -- --quick              a short run, to check that the script works
//   npm run bench -- --sizes 1,4          latency sizes in megapixels (default 0.3,1,4,12,24)
//   npm run bench -- --env INFERENCE_THREADS=1 --env MALLOC_ARENA_MAX=2   passed to the service
//   npm run bench -- --max-minutes 30     hard limit for the whole run
//
// Every service is a fresh `node dist/src/server.js` on 127.0.0.1, fetching its images from a
// server inside this process. The phases, in order:
//   service A  cold start; idle memory; latency at concurrency 1 per size and format;
//              throughput of 1 MP JPEG at concurrency 2, 4, 8
//   floor      with no service running: a bare onnxruntime session on the same model file, with
//              the service's session options and the same 320x320 input, run back to back; then
//              the same on the graph the service runs (the file's concatenations split), which is
//              reported beside it but is not what the ratios are taken to
//   service B  peak memory serving 12 MP JPEG at concurrency 4. A fresh process, because VmHWM
//              only ever grows: in service A it would be the latency phase's 24 MP peak.
//   service C  memory flatness over 500 requests of 1 MP JPEG, in a fresh process for the same reason
// It prints one table (also saved as bench-results/bench-<timestamp>.txt) and writes every sample
// to bench-results/bench-<timestamp>.json.
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import net, { type AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseEnv } from 'node:util';
import * as ort from 'onnxruntime-node';
import sharp from 'sharp';
import { Agent, request } from 'undici';
import { loadConfig, projectRoot, RUNTIME_ENV, type Config } from '../src/config.js';
import { readManifest } from '../src/model/manifest.js';
import { splitConcatConvs } from '../src/model/split-concats.js';
import { decodeImage, modelPixels } from '../src/pipeline/decode.js';
import { MODEL_SIZE, toModelInput } from '../src/pipeline/preprocess.js';
import { sessionOptions } from '../src/pipeline/segment.js';
import { STAGES } from '../src/pipeline/timings.js';
import { FORMATS, imageName, makeImages, sourcePhoto, type BenchImage } from './bench/images.js';

// ---------------------------------------------------------------------------------------------
// The plan and the command line

export interface Plan {
  sizes: number[];
  latency: { warmup: number; requests: number };
  throughput: { megapixels: number; concurrency: number[]; requests: number };
  memoryPeak: { megapixels: number; concurrency: number; requests: number };
  flatness: { megapixels: number; requests: number; early: number };
  floor: { warmup: number; runs: number };
  maxMinutes: number;
}

export const FULL_PLAN: Plan = {
  sizes: [0.3, 1, 4, 12, 24],
  latency: { warmup: 2, requests: 20 },
  throughput: { megapixels: 1, concurrency: [2, 4, 8], requests: 40 },
  memoryPeak: { megapixels: 12, concurrency: 4, requests: 16 },
  flatness: { megapixels: 1, requests: 500, early: 50 },
  floor: { warmup: 3, runs: 20 },
  maxMinutes: 40,
};

export const QUICK_PLAN: Plan = {
  sizes: [0.3, 1],
  latency: { warmup: 2, requests: 5 },
  throughput: { megapixels: 1, concurrency: [2], requests: 8 },
  memoryPeak: { megapixels: 12, concurrency: 4, requests: 4 },
  flatness: { megapixels: 1, requests: 30, early: 10 },
  floor: { warmup: 2, runs: 5 },
  maxMinutes: 10,
};

export interface Options {
  quick: boolean;
  sizes: number[] | undefined;
  /** Passed to the service's environment. */
  env: Record<string, string>;
  maxMinutes: number | undefined;
  help: boolean;
}

const USAGE = `usage: npm run bench -- [--quick] [--sizes 0.3,1,4,12,24] [--env KEY=VALUE]... [--max-minutes N]
  --quick          fewer sizes and requests, to check the script works
  --sizes LIST     latency sizes in megapixels, comma-separated
  --env KEY=VALUE  set in the service's environment (repeatable), e.g. INFERENCE_THREADS=1
  --max-minutes N  stop the whole run (and the service) after N minutes`;

/** Reads the command line; throws with a message on anything it does not understand. */
export function parseArgs(argv: readonly string[]): Options {
  const options: Options = { quick: false, sizes: undefined, env: {}, maxMinutes: undefined, help: false };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = splitFlag(argv[i]!);
    const value = (): string => {
      const next = inline ?? argv[++i];
      if (next === undefined) throw new Error(`${flag} needs a value`);
      return next;
    };
    if (flag === '--quick') options.quick = true;
    else if (flag === '--help' || flag === '-h') options.help = true;
    else if (flag === '--sizes') options.sizes = parseSizes(value());
    else if (flag === '--max-minutes') options.maxMinutes = positiveNumber(flag, value());
    else if (flag === '--env') {
      const match = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/s.exec(value());
      if (!match) throw new Error('--env needs KEY=VALUE');
      options.env[match[1]!] = match[2]!;
    } else throw new Error(`unknown argument ${argv[i]}`);
  }
  return options;
}

function splitFlag(arg: string): [string, string | undefined] {
  const at = arg.indexOf('=');
  return arg.startsWith('--') && at > 0 ? [arg.slice(0, at), arg.slice(at + 1)] : [arg, undefined];
}

function positiveNumber(flag: string, text: string): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${flag} needs a positive number, not ${JSON.stringify(text)}`);
  return value;
}

function parseSizes(text: string): number[] {
  return text.split(',').map((part) => positiveNumber('--sizes', part.trim()));
}

export function planFor(options: Options): Plan {
  const base = options.quick ? QUICK_PLAN : FULL_PLAN;
  return { ...base, sizes: options.sizes ?? base.sizes, maxMinutes: options.maxMinutes ?? base.maxMinutes };
}

// ---------------------------------------------------------------------------------------------
// Pure helpers: statistics, header and /proc parsing, the table

/** The p-th percentile (0..100), interpolating linearly between the closest ranks; NaN when empty. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = (p / 100) * (sorted.length - 1);
  const low = Math.floor(rank);
  const high = Math.ceil(rank);
  return sorted[low]! + (sorted[high]! - sorted[low]!) * (rank - low);
}

export const median = (values: readonly number[]): number => percentile(values, 50);

/** `fetch;dur=12.3, decode;dur=4.5` to { fetch: 12.3, decode: 4.5 }. */
export function parseServerTiming(header: string | undefined): Record<string, number> {
  const timings: Record<string, number> = {};
  for (const entry of (header ?? '').split(',')) {
    const match = /^\s*([\w-]+)\s*;.*?\bdur=([\d.]+)/.exec(entry);
    if (match) timings[match[1]!] = Number(match[2]);
  }
  return timings;
}

export interface Memory {
  /** Resident set now (VmRSS) and its high-water mark since the process started (VmHWM), in MiB. */
  rssMiB: number;
  hwmMiB: number;
}

/** VmRSS and VmHWM from the text of /proc/<pid>/status (given there in kB, i.e. KiB). */
export function parseProcStatus(text: string): Memory {
  const kib = (field: string): number => {
    const match = new RegExp(`^${field}:\\s*(\\d+)\\s*kB`, 'm').exec(text);
    if (!match) throw new Error(`no ${field} in /proc status`);
    return Number(match[1]) / 1024;
  };
  return { rssMiB: kib('VmRSS'), hwmMiB: kib('VmHWM') };
}

export type Unit = 'ms' | 'req/s' | 'MiB' | 'x';

export interface Row {
  figure: string;
  value: number | undefined;
  unit: Unit;
  /** Value relative to the floor's median, where that means something. */
  ratio?: number | undefined;
  note?: string | undefined;
}

export function formatValue(value: number | undefined, unit: Unit): string {
  if (value === undefined || !Number.isFinite(value)) return 'n/a';
  if (unit === 'ms') return `${value >= 100 ? value.toFixed(0) : value.toFixed(1)} ms`;
  if (unit === 'MiB') return `${value.toFixed(1)} MiB`;
  if (unit === 'req/s') return `${value.toFixed(2)} req/s`;
  return `${value.toFixed(2)}x`;
}

/** One table: a string is a section heading across the table; a Row is a line of figures. */
export function formatTable(rows: readonly (Row | string)[]): string {
  const header = ['figure', 'value', 'x floor', 'note'];
  const cells = rows.map((row) =>
    typeof row === 'string'
      ? row
      : [row.figure, formatValue(row.value, row.unit), row.ratio === undefined || !Number.isFinite(row.ratio) ? '' : row.ratio.toFixed(2), row.note ?? ''],
  );
  const lines = [header, ...cells.filter((cell): cell is string[] => Array.isArray(cell))];
  const width = (column: number): number => Math.max(...lines.map((line) => line[column]!.length));
  const widths = [width(0), width(1), width(2)];
  const line = (cell: string[]): string =>
    [cell[0]!.padEnd(widths[0]!), cell[1]!.padStart(widths[1]!), cell[2]!.padStart(widths[2]!), cell[3]!].join('  ').trimEnd();
  const rule = '-'.repeat(widths[0]! + widths[1]! + widths[2]! + 6);
  return [line(header), rule, ...cells.map((cell) => (typeof cell === 'string' ? `[${cell}]` : line(cell)))].join('\n');
}

// ---------------------------------------------------------------------------------------------
// Running the service

const SERVER = path.join(projectRoot, 'dist', 'src', 'server.js');
const REQUEST_TIMEOUT_MS = 120_000;
const READY_TIMEOUT_MS = 120_000;
const READY_POLL_MS = 20;

const children = new Set<ChildProcess>();

interface Service {
  pid: number;
  origin: string;
  client: Agent;
  child: ChildProcess;
  alive(): boolean;
  exited: Promise<void>;
  /** The last lines it printed and how it ended, for error messages. */
  output(): string;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** The environment the service is started with. */
function serviceEnv(port: number, passed: Record<string, string>): NodeJS.ProcessEnv {
  // The test images are served from 127.0.0.1, which the service refuses unless told otherwise.
  return { ...process.env, ...RUNTIME_ENV, LOG_LEVEL: 'warn', ALLOW_PRIVATE_NETWORKS: 'true', ...passed, PORT: String(port), HOST: '127.0.0.1' };
}

/** The config the service will resolve from that environment (and .env, which it reads too). */
function serviceConfig(passed: Record<string, string>): Config {
  const envFile = path.join(projectRoot, '.env');
  const fromFile = existsSync(envFile) ? parseEnv(readFileSync(envFile, 'utf8')) : {};
  return loadConfig({ ...fromFile, ...serviceEnv(0, passed) });
}

/** Spawns the service and waits for its first 200 from /ready; the cold start is spawn to that answer. */
async function startService(passed: Record<string, string>): Promise<{ service: Service; coldStartMs: number }> {
  const port = await freePort();
  const started = performance.now();
  const child = spawn(process.execPath, [SERVER], { cwd: projectRoot, env: serviceEnv(port, passed), stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let running = true;
  let output = '';
  const keep = (chunk: Buffer): void => {
    output = (output + chunk.toString()).slice(-4000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<void>((resolve) => {
    const done = (): void => {
      running = false;
      children.delete(child);
      resolve();
    };
    child.once('exit', (code, signal) => {
      keep(Buffer.from(`\n(exited with ${signal ?? `code ${code}`})`));
      done();
    });
    child.once('error', (error) => {
      keep(Buffer.from(String(error)));
      done();
    });
  });
  const service: Service = {
    pid: child.pid ?? -1,
    origin: `http://127.0.0.1:${port}`,
    client: new Agent({ connections: 16, keepAliveTimeout: 4_000, headersTimeout: REQUEST_TIMEOUT_MS, bodyTimeout: REQUEST_TIMEOUT_MS }),
    child,
    alive: () => running,
    exited,
    output: () => output,
  };
  try {
    const readyAt = await waitReady(service);
    return { service, coldStartMs: readyAt - started };
  } catch (error) {
    await stopService(service);
    throw error;
  }
}

/** Polls GET /ready every READY_POLL_MS; returns the time the first 200 arrived. */
async function waitReady(service: Service): Promise<number> {
  const deadline = performance.now() + READY_TIMEOUT_MS;
  while (performance.now() < deadline) {
    const polled = performance.now();
    if (!service.alive()) throw new Error(`the service exited during start-up:\n${service.output()}`);
    try {
      const { statusCode, body } = await request(`${service.origin}/ready`, { dispatcher: service.client, signal: AbortSignal.timeout(1_000) });
      const answered = performance.now();
      await body.dump();
      if (statusCode === 200) return answered;
    } catch {
      // not listening yet
    }
    await sleep(Math.max(0, READY_POLL_MS - (performance.now() - polled)));
  }
  throw new Error(`the service was not ready after ${READY_TIMEOUT_MS / 1000} s:\n${service.output()}`);
}

/** SIGTERM, then SIGKILL if it has not gone within 5 s. */
async function stopService(service: Service): Promise<void> {
  if (service.alive()) {
    service.child.kill('SIGTERM');
    await Promise.race([service.exited, sleep(5_000)]);
    if (service.alive()) service.child.kill('SIGKILL');
    await service.exited;
  }
  await service.client.destroy();
}

/** Last resort on exit, timeout or signal: no service outlives the benchmark. */
function killAll(): void {
  for (const child of children) child.kill('SIGKILL');
}

function readMemory(pid: number): Memory {
  return parseProcStatus(readFileSync(`/proc/${pid}/status`, 'utf8'));
}

// ---------------------------------------------------------------------------------------------
// Requests

export interface Sample {
  /** Client end to end: request sent to the whole body read. */
  ms: number;
  status: number;
  /** The error code of a non-200 answer, or the client error. */
  code?: string;
  bytes: number;
  /** Server-Timing stages in ms. */
  timing: Record<string, number>;
}

async function removeBackground(service: Service, imageUrl: string): Promise<Sample> {
  const started = performance.now();
  try {
    const { statusCode, headers, body } = await request(`${service.origin}/remove-background`, {
      method: 'POST',
      dispatcher: service.client,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ image_url: imageUrl }),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    const data = Buffer.from(await body.arrayBuffer());
    const ms = performance.now() - started;
    const timing = parseServerTiming(typeof headers['server-timing'] === 'string' ? headers['server-timing'] : undefined);
    const sample: Sample = { ms, status: statusCode, bytes: data.length, timing };
    if (statusCode !== 200) sample.code = errorCode(data);
    return sample;
  } catch (error) {
    const code = clientError(error);
    // A refused connection means the service stopped listening: it is exiting (crashed, or was
    // signalled by something else on the machine). Measuring on would only count failures.
    if (!service.alive() || code.startsWith('ECONNREFUSED')) {
      await Promise.race([service.exited, sleep(5_000)]);
      throw new Error(`the service (pid ${service.pid}) stopped serving: ${code}\n${service.output()}`);
    }
    return { ms: performance.now() - started, status: 0, code, bytes: 0, timing: {} };
  }
}

/** What went wrong on the client side, short: `UND_ERR_SOCKET other side closed`. */
function clientError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as { code?: unknown }).code;
  return `${typeof code === 'string' ? code : error.name} ${error.message}`.slice(0, 200);
}

function errorCode(body: Buffer): string {
  try {
    return (JSON.parse(body.toString()) as { error?: { code?: string } }).error?.code ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/** `count` calls of `task`, at most `concurrency` at a time; the wall time from first start to last end. */
async function runConcurrent(count: number, concurrency: number, task: (index: number) => Promise<Sample>): Promise<{ samples: Sample[]; wallMs: number }> {
  const samples: Sample[] = new Array<Sample>(count);
  let next = 0;
  const started = performance.now();
  const worker = async (): Promise<void> => {
    for (let index = next++; index < count; index = next++) samples[index] = await task(index);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return { samples, wallMs: performance.now() - started };
}

const ok = (samples: readonly Sample[]): Sample[] => samples.filter((sample) => sample.status === 200);
const describeFailure = (sample: Sample): string => `${sample.status || 'no answer'} ${sample.code ?? ''}`.trim();

// ---------------------------------------------------------------------------------------------
// The images' server (inside this process)

interface ImageServer {
  url(image: BenchImage): string;
  close(): Promise<void>;
}

async function serveImages(images: readonly BenchImage[]): Promise<ImageServer> {
  const byPath = new Map(images.map((image) => [`/${image.name}`, image]));
  const server = http.createServer((req, res) => {
    const image = byPath.get(req.url ?? '');
    if (!image) res.writeHead(404).end();
    else res.writeHead(200, { 'content-type': `image/${image.format}`, 'content-length': image.bytes.length }).end(image.bytes);
  });
  // Longer than the service's own keep-alive (4 s), so the service always closes idle connections first.
  server.keepAliveTimeout = 10_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: (image) => `${origin}/${image.name}`,
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

// ---------------------------------------------------------------------------------------------
// The phases

interface LatencyCase {
  image: string;
  width: number;
  height: number;
  bytes: number;
  /** Why the case was not measured: the service's answer to the first warm-up request. */
  refused?: string;
  warmup: Sample[];
  samples: Sample[];
}

interface ThroughputRun {
  concurrency: number;
  samples: Sample[];
  wallMs: number;
  requestsPerSecond: number;
}

interface MemoryPeak {
  image: string;
  concurrency: number;
  coldStartMs: number;
  afterReady: Memory;
  after: Memory;
  /** VmRSS sampled every 50 ms while serving: ms since the phase started, MiB. */
  rssTrace: [number, number][];
  samples: Sample[];
  wallMs: number;
}

interface Flatness {
  image: string;
  coldStartMs: number;
  afterReady: Memory;
  /** Memory after each request, in order. */
  afterEach: Memory[];
  samples: Sample[];
}

let progressStarted = performance.now();
function progress(message: string): void {
  const seconds = ((performance.now() - progressStarted) / 1000).toFixed(0).padStart(4);
  process.stderr.write(`[bench ${seconds} s] ${message}\n`);
}

function find(images: readonly BenchImage[], megapixels: number, format: 'jpeg' | 'png'): BenchImage {
  const image = images.find((candidate) => candidate.name === imageName(megapixels, format));
  if (!image) throw new Error(`no image ${imageName(megapixels, format)}`);
  return image;
}

async function measureLatency(service: Service, images: readonly BenchImage[], server: ImageServer, plan: Plan): Promise<LatencyCase[]> {
  const cases: LatencyCase[] = [];
  for (const megapixels of plan.sizes) {
    for (const format of FORMATS) {
      const image = find(images, megapixels, format);
      const result: LatencyCase = { image: image.name, width: image.width, height: image.height, bytes: image.bytes.length, warmup: [], samples: [] };
      cases.push(result);
      for (let i = 0; i < plan.latency.warmup; i++) result.warmup.push(await removeBackground(service, server.url(image)));
      const failed = result.warmup.find((sample) => sample.status !== 200);
      if (failed) {
        result.refused = describeFailure(failed);
        progress(`latency ${image.name}: not measured, the service answered ${result.refused}`);
        continue;
      }
      for (let i = 0; i < plan.latency.requests; i++) result.samples.push(await removeBackground(service, server.url(image)));
      progress(`latency ${image.name}: median ${median(ok(result.samples).map((s) => s.ms)).toFixed(0)} ms`);
    }
  }
  return cases;
}

async function measureThroughput(service: Service, images: readonly BenchImage[], server: ImageServer, plan: Plan): Promise<ThroughputRun[]> {
  const image = find(images, plan.throughput.megapixels, 'jpeg');
  const runs: ThroughputRun[] = [];
  for (const concurrency of plan.throughput.concurrency) {
    // One uncounted request per connection first, so connection set-up is not in the figure.
    await runConcurrent(concurrency, concurrency, () => removeBackground(service, server.url(image)));
    const { samples, wallMs } = await runConcurrent(plan.throughput.requests, concurrency, () => removeBackground(service, server.url(image)));
    const requestsPerSecond = ok(samples).length / (wallMs / 1000);
    runs.push({ concurrency, samples, wallMs, requestsPerSecond });
    progress(`throughput ${image.name} c=${concurrency}: ${requestsPerSecond.toFixed(2)} req/s`);
  }
  return runs;
}

interface FloorRun {
  /** When it ran: the floor runs twice, so drift in the machine's load shows. */
  when: string;
  samples: number[];
  /** This (bench) process's own memory around the bare session: what a session alone costs. */
  memory: { before: Memory; created: Memory; ran: Memory };
}

/**
 * A bare session with the service's options on the same input, back to back: on the model file as
 * fetched (the floor every ratio is taken to), or on the graph the service actually runs, the file
 * with its concatenations split (split-concats.ts), which is what the service's own work adds to.
 */
async function measureFloor(when: string, config: Config, input: Float32Array, plan: Plan, graph: 'file' | 'service' = 'file'): Promise<FloorRun> {
  const manifest = readManifest();
  const options = sessionOptions(config.INFERENCE_THREADS, config.INFERENCE_ARENA);
  const model = graph === 'service' ? splitConcatConvs(readFileSync(config.MODEL_PATH)).model : undefined;
  const before = readMemory(process.pid);
  const session = model ? await ort.InferenceSession.create(model, options) : await ort.InferenceSession.create(config.MODEL_PATH, options);
  const created = readMemory(process.pid);
  try {
    const run = async (): Promise<number> => {
      const started = performance.now();
      const tensor = new ort.Tensor('float32', input, [1, 3, MODEL_SIZE, MODEL_SIZE]);
      await session.run({ [manifest.input.name]: tensor }, [manifest.output.name]);
      return performance.now() - started;
    };
    for (let i = 0; i < plan.floor.warmup; i++) await run();
    const samples: number[] = [];
    for (let i = 0; i < plan.floor.runs; i++) samples.push(await run());
    progress(`floor ${when}${graph === 'service' ? ", on the service's graph" : ''}: median ${median(samples).toFixed(1)} ms over ${samples.length} runs (intraOpNumThreads ${config.INFERENCE_THREADS})`);
    return { when, samples, memory: { before, created, ran: readMemory(process.pid) } };
  } finally {
    await session.release();
  }
}

/** The model input the service makes from this image: decoded, squashed to 320x320, normalised. */
async function modelInputFor(image: BenchImage, config: Config): Promise<Float32Array> {
  const decoded = await decodeImage(image.bytes, { maxPixels: config.MAX_INPUT_PIXELS });
  return toModelInput(await modelPixels(decoded));
}

async function measureMemoryPeak(passed: Record<string, string>, images: readonly BenchImage[], server: ImageServer, plan: Plan): Promise<MemoryPeak> {
  const image = find(images, plan.memoryPeak.megapixels, 'jpeg');
  const { service, coldStartMs } = await startService(passed);
  try {
    const afterReady = readMemory(service.pid);
    const rssTrace: [number, number][] = [];
    const started = performance.now();
    const sampler = setInterval(() => {
      if (service.alive()) rssTrace.push([Math.round(performance.now() - started), readMemory(service.pid).rssMiB]);
    }, 50);
    const { samples, wallMs } = await runConcurrent(plan.memoryPeak.requests, plan.memoryPeak.concurrency, () =>
      removeBackground(service, server.url(image)),
    ).finally(() => clearInterval(sampler));
    const after = readMemory(service.pid);
    progress(`memory peak ${image.name} c=${plan.memoryPeak.concurrency}: VmHWM ${after.hwmMiB.toFixed(0)} MiB`);
    return { image: image.name, concurrency: plan.memoryPeak.concurrency, coldStartMs, afterReady, after, rssTrace, samples, wallMs };
  } finally {
    await stopService(service);
  }
}

async function measureFlatness(passed: Record<string, string>, images: readonly BenchImage[], server: ImageServer, plan: Plan): Promise<Flatness> {
  const image = find(images, plan.flatness.megapixels, 'jpeg');
  const { service, coldStartMs } = await startService(passed);
  try {
    const afterReady = readMemory(service.pid);
    const afterEach: Memory[] = [];
    const samples: Sample[] = [];
    for (let i = 0; i < plan.flatness.requests; i++) {
      samples.push(await removeBackground(service, server.url(image)));
      afterEach.push(readMemory(service.pid));
      if ((i + 1) % 100 === 0) progress(`flatness ${image.name}: ${i + 1} requests, VmRSS ${afterEach.at(-1)!.rssMiB.toFixed(0)} MiB`);
    }
    return { image: image.name, coldStartMs, afterReady, afterEach, samples };
  } finally {
    await stopService(service);
  }
}

// ---------------------------------------------------------------------------------------------
// The machine and the report

interface Machine {
  cpu: string;
  /** Logical CPUs listed in /proc/cpuinfo, and what node may use. */
  cpus: number;
  availableParallelism: number;
  memoryMiB: number;
  node: string;
  onnxruntimeNode: string;
  sharp: string;
  loadAverageAtStart: number[];
  loadAverageAtEnd?: number[];
}

/** A dependency's version, from its package.json (onnxruntime-node has no exports map to hide it). */
function packageVersion(name: string): string {
  try {
    const file = createRequire(import.meta.url).resolve(`${name}/package.json`);
    return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

const loadAverage = (): number[] => os.loadavg().map((load) => Math.round(load * 100) / 100);

function machine(): Machine {
  const cpuinfo = existsSync('/proc/cpuinfo') ? readFileSync('/proc/cpuinfo', 'utf8') : '';
  return {
    cpu: /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? os.cpus()[0]?.model ?? 'unknown',
    cpus: cpuinfo.match(/^processor\s*:/gm)?.length ?? os.cpus().length,
    availableParallelism: os.availableParallelism(),
    memoryMiB: Math.round(os.totalmem() / 1048576),
    node: process.version,
    onnxruntimeNode: packageVersion('onnxruntime-node'),
    sharp: `${sharp.versions.sharp ?? 'unknown'} (libvips ${sharp.versions.vips})`,
    loadAverageAtStart: loadAverage(),
  };
}

function gitState(): { commit: string; dirty: boolean } {
  try {
    const git = (...args: string[]): string => execFileSync('git', args, { cwd: projectRoot, encoding: 'utf8' }).trim();
    return { commit: git('rev-parse', '--short', 'HEAD'), dirty: git('status', '--porcelain', '--untracked-files=no') !== '' };
  } catch {
    return { commit: 'unknown', dirty: false };
  }
}

export interface Report {
  startedAt: string;
  finishedAt?: string;
  durationSeconds?: number;
  quick: boolean;
  plan: Plan;
  machine: Machine;
  git: { commit: string; dirty: boolean };
  service: { command: string; passedEnv: Record<string, string>; inferenceThreads: number };
  source: string;
  images: { name: string; width: number; height: number; bytes: number }[];
  coldStartMs: Record<'A' | 'B' | 'C', number | undefined>;
  idleAfterReady?: Memory;
  latency: LatencyCase[];
  throughput: ThroughputRun[];
  floor: FloorRun[];
  /** The same on the graph the service runs (its concatenations split). */
  serviceGraphFloor: FloorRun[];
  /** The machine's load average (1, 5, 15 min) as each phase began. */
  loadAverage: Record<string, number[]>;
  memoryPeak?: MemoryPeak;
  flatness?: Flatness;
  error?: string;
}

const MiB = (bytes: number): string => `${(bytes / 1048576).toFixed(2)} MiB`;

function latencyRows(cases: readonly LatencyCase[], floor: number, plan: Plan): (Row | string)[] {
  const rows: (Row | string)[] = [
    `latency at concurrency 1: ${plan.latency.requests} requests after ${plan.latency.warmup} warm-up; e2e = client, stages = Server-Timing medians`,
  ];
  const ms = (figure: string, value: number, note?: string): Row => ({ figure, value, unit: 'ms', ratio: value / floor, note });
  for (const result of cases) {
    const input = `${result.width}x${result.height}, ${MiB(result.bytes)}`;
    if (result.refused) {
      rows.push({ figure: `${result.image} e2e median`, value: undefined, unit: 'ms', note: `${input}; not measured: the service answers ${result.refused}` });
      continue;
    }
    const good = ok(result.samples);
    const failed = result.samples.length - good.length;
    const times = good.map((sample) => sample.ms);
    rows.push(ms(`${result.image} e2e median`, median(times), `${input}${failed ? `; ${failed} of ${result.samples.length} failed` : ''}`));
    rows.push(ms(`${result.image} e2e p95`, percentile(times, 95)));
    for (const stage of [...STAGES, 'total'] as const) {
      rows.push(ms(`${result.image}   ${stage}`, median(good.map((sample) => sample.timing[stage] ?? Number.NaN))));
    }
  }
  return rows;
}

/** The bare session on the graph the service runs (its concatenations split), against the floor. */
function serviceGraphRows(runs: readonly FloorRun[], floor: number): Row[] {
  const samples = runs.flatMap((run) => run.samples);
  if (samples.length === 0) return [];
  return [
    {
      figure: "the service's graph (concatenations split): median",
      value: median(samples),
      unit: 'ms',
      ratio: median(samples) / floor,
      note: `${samples.length} runs; medians ${runs.map((run) => `${median(run.samples).toFixed(0)} ms ${run.when}`).join(', ')}`,
    },
  ];
}

/** The rows of the one table; ratios are to the floor's median (latency / floor; throughput x floor). */
export function tableRows(report: Report): (Row | string)[] {
  const floorMs = report.floor.flatMap((run) => run.samples);
  const floor = median(floorMs);
  const first = report.floor[0];
  const cold = [report.coldStartMs.A, report.coldStartMs.B, report.coldStartMs.C].filter((ms): ms is number => ms !== undefined);
  const rows: (Row | string)[] = [
    `floor: bare InferenceSession.run in this process, same model file, session options (intraOpNumThreads ${report.service.inferenceThreads}) and 320x320 input; no service running`,
    {
      figure: 'floor median',
      value: floor,
      unit: 'ms',
      ratio: 1,
      note: `${floorMs.length} runs; medians ${report.floor.map((run) => `${median(run.samples).toFixed(0)} ms ${run.when}`).join(', ')}`,
    },
    { figure: 'floor p95', value: percentile(floorMs, 95), unit: 'ms', ratio: percentile(floorMs, 95) / floor },
    ...serviceGraphRows(report.serviceGraphFloor, floor),
    'start-up',
    {
      figure: `cold start, spawn to first /ready 200 (median of ${cold.length})`,
      value: median(cold),
      unit: 'ms',
      note: `services A, B, C: ${cold.map((ms) => ms.toFixed(0)).join(', ')} ms`,
    },
    ...latencyRows(report.latency, floor, report.plan),
  ];

  if (report.throughput.length > 0) {
    rows.push(`throughput: ${report.plan.throughput.megapixels}MP.jpeg, ${report.plan.throughput.requests} requests per concurrency (service A)`);
    for (const run of report.throughput) {
      const good = ok(run.samples);
      const failed = run.samples.length - good.length;
      const failures = failed ? `${failed} failed` : undefined;
      rows.push({ figure: `c=${run.concurrency} throughput`, value: run.requestsPerSecond, unit: 'req/s', ratio: (run.requestsPerSecond * floor) / 1000, note: failures });
      const latency = median(good.map((sample) => sample.ms));
      rows.push({ figure: `c=${run.concurrency} median latency`, value: latency, unit: 'ms', ratio: latency / floor });
    }
  }

  rows.push('memory of the service process, from /proc/<pid>/status');
  if (first) {
    const { before, created, ran } = first.memory;
    rows.push({
      figure: 'a bare session alone: VmRSS growth (bench process)',
      value: ran.rssMiB - before.rssMiB,
      unit: 'MiB',
      note: `opening it +${(created.rssMiB - before.rssMiB).toFixed(0)} MiB, then its runs +${(ran.rssMiB - created.rssMiB).toFixed(0)} MiB`,
    });
  }
  if (report.idleAfterReady) {
    rows.push({ figure: 'idle right after ready: VmRSS (service A)', value: report.idleAfterReady.rssMiB, unit: 'MiB', note: `VmHWM ${report.idleAfterReady.hwmMiB.toFixed(1)} MiB` });
  }
  const peak = report.memoryPeak;
  if (peak) {
    const good = ok(peak.samples);
    const failed = peak.samples.length - good.length;
    const sampledMax = Math.max(...peak.rssTrace.map(([, rss]) => rss));
    rows.push({
      figure: `peak serving ${peak.image} at c=${peak.concurrency}: VmHWM (fresh service B)`,
      value: peak.after.hwmMiB,
      unit: 'MiB',
      note: `${peak.samples.length} requests${failed ? `, ${failed} failed` : ''}; VmHWM after ready ${peak.afterReady.hwmMiB.toFixed(0)} MiB; VmRSS after ${peak.after.rssMiB.toFixed(0)} MiB, max sampled ${sampledMax.toFixed(0)} MiB`,
    });
    const latency = median(good.map((sample) => sample.ms));
    rows.push({ figure: `${peak.image} at c=${peak.concurrency}: median latency`, value: latency, unit: 'ms', ratio: latency / floor });
  }
  const flat = report.flatness;
  if (flat) {
    const early = flat.afterEach[report.plan.flatness.early - 1];
    const last = flat.afterEach.at(-1);
    const failed = flat.samples.length - ok(flat.samples).length;
    const failures = failed ? `${failed} failed` : undefined;
    rows.push({ figure: `VmRSS after request ${report.plan.flatness.early} of ${flat.image} (fresh service C)`, value: early?.rssMiB, unit: 'MiB' });
    rows.push({ figure: `VmRSS after request ${flat.afterEach.length}`, value: last?.rssMiB, unit: 'MiB', note: failures });
    rows.push({ figure: `VmRSS ratio ${flat.afterEach.length} / ${report.plan.flatness.early}`, value: last && early ? last.rssMiB / early.rssMiB : undefined, unit: 'x' });
    rows.push({ figure: `VmHWM after request ${flat.afterEach.length}`, value: last?.hwmMiB, unit: 'MiB' });
  }
  return rows;
}

/**
 * The model's work is the same 320x320 inference whatever the image, so the infer stage's median
 * should be about the same in every case and close to the floor. When it is not, the machine's
 * load changed during the run (on a shared machine, other work takes a core) and the ratios to
 * the floor cannot be trusted: say so next to the table.
 */
export function noiseWarning(report: Report): string | undefined {
  const infer = report.latency
    .filter((result) => !result.refused)
    .map((result) => median(ok(result.samples).map((sample) => sample.timing.infer ?? Number.NaN)))
    .concat(report.floor.map((run) => median(run.samples)))
    .filter((ms) => Number.isFinite(ms));
  if (infer.length < 2) return undefined;
  const low = Math.min(...infer);
  const high = Math.max(...infer);
  if (high / low < 1.3) return undefined;
  return `warning: one inference took from ${low.toFixed(0)} to ${high.toFixed(0)} ms (infer medians per case and the floor runs): the machine's load changed during the run, so figures are noisy and ratios to the floor unreliable`;
}

function header(report: Report): string {
  const m = report.machine;
  const passed = Object.entries(report.service.passedEnv).map(([key, value]) => `${key}=${value}`);
  return [
    `bg-removal-service benchmark, ${report.quick ? 'quick' : 'full'} run, ${report.startedAt}, commit ${report.git.commit}${report.git.dirty ? ' (with uncommitted changes)' : ''}`,
    `machine: ${m.cpu}, ${m.cpus} CPUs (node may use ${m.availableParallelism}), ${m.memoryMiB} MiB; node ${m.node}; onnxruntime-node ${m.onnxruntimeNode}; sharp ${m.sharp}`,
    `load average (1, 5, 15 min) at start ${m.loadAverageAtStart.join(' ')}, at end ${m.loadAverageAtEnd?.join(' ') ?? '?'}; 1-min load as phases began: ${Object.entries(report.loadAverage).map(([name, load]) => `${name} ${load[0]}`).join(', ')}`,
    `service: ${report.service.command}, ${Object.entries(RUNTIME_ENV).map(([name, value]) => `${name}=${value}`).join(' ')} HOST=127.0.0.1 LOG_LEVEL=warn${passed.length ? ` ${passed.join(' ')}` : ''}; INFERENCE_THREADS resolves to ${report.service.inferenceThreads}`,
    `images: ${report.source}, resized, JPEG q90 and PNG`,
    noiseWarning(report),
  ]
    .filter((line) => line !== undefined)
    .join('\n');
}

function writeReport(report: Report): string {
  const folder = path.join(projectRoot, 'bench-results');
  mkdirSync(folder, { recursive: true });
  const file = path.join(folder, `bench-${report.startedAt.replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, `${JSON.stringify(report, null, 1)}\n`);
  return file;
}

// ---------------------------------------------------------------------------------------------
// The run

async function run(options: Options): Promise<number> {
  const plan = planFor(options);
  if (!existsSync(SERVER)) throw new Error(`${SERVER} is missing: run \`npm run build\` first`);
  const config = serviceConfig(options.env);
  progressStarted = performance.now();
  const report: Report = {
    startedAt: new Date().toISOString(),
    quick: options.quick,
    plan,
    machine: machine(),
    git: gitState(),
    service: { command: `node ${path.relative(projectRoot, SERVER)}`, passedEnv: options.env, inferenceThreads: config.INFERENCE_THREADS },
    source: '',
    images: [],
    coldStartMs: { A: undefined, B: undefined, C: undefined },
    latency: [],
    throughput: [],
    floor: [],
    serviceGraphFloor: [],
    loadAverage: {},
  };

  const watchdog = setTimeout(() => {
    progress(`over the limit of ${plan.maxMinutes} minutes: stopping`);
    killAll();
    report.error = `stopped after ${plan.maxMinutes} minutes`;
    progress(`partial results in ${writeReport(report)}`);
    process.exit(2);
  }, plan.maxMinutes * 60_000);
  watchdog.unref();

  const photo = await sourcePhoto(process.env.PARITY_FIXTURES);
  const sizes = [...new Set([...plan.sizes, plan.throughput.megapixels, plan.memoryPeak.megapixels, plan.flatness.megapixels])].sort((a, b) => a - b);
  const images = await makeImages(photo, sizes);
  report.source = photo.label;
  report.images = images.map(({ name, width, height, bytes }) => ({ name, width, height, bytes: bytes.length }));
  progress(`images ready: ${images.map((image) => `${image.name} ${MiB(image.bytes.length)}`).join(', ')}`);
  const server = await serveImages(images);
  const phase = (name: string): void => {
    report.loadAverage[name] = loadAverage();
  };

  let file = '';
  try {
    phase('A');
    const { service, coldStartMs } = await startService(options.env);
    report.coldStartMs.A = coldStartMs;
    report.idleAfterReady = readMemory(service.pid);
    progress(`service A ready in ${coldStartMs.toFixed(0)} ms, VmRSS ${report.idleAfterReady.rssMiB.toFixed(0)} MiB`);
    try {
      report.latency = await measureLatency(service, images, server, plan);
      report.throughput = await measureThroughput(service, images, server, plan);
    } finally {
      await stopService(service);
    }

    phase('floor');
    const input = await modelInputFor(find(images, plan.throughput.megapixels, 'jpeg'), config);
    report.floor.push(await measureFloor('after A', config, input, plan));
    report.serviceGraphFloor.push(await measureFloor('after A', config, input, plan, 'service'));

    phase('B');
    report.memoryPeak = await measureMemoryPeak(options.env, images, server, plan);
    report.coldStartMs.B = report.memoryPeak.coldStartMs;
    phase('C');
    report.flatness = await measureFlatness(options.env, images, server, plan);
    report.coldStartMs.C = report.flatness.coldStartMs;
    phase('floor again');
    report.serviceGraphFloor.push(await measureFloor('at the end', config, input, plan, 'service'));
    report.floor.push(await measureFloor('at the end', config, input, plan));
  } catch (error) {
    report.error = error instanceof Error ? (error.stack ?? error.message) : String(error);
    throw error;
  } finally {
    clearTimeout(watchdog);
    killAll();
    await server.close();
    report.finishedAt = new Date().toISOString();
    report.durationSeconds = Math.round((Date.parse(report.finishedAt) - Date.parse(report.startedAt)) / 1000);
    report.machine.loadAverageAtEnd = loadAverage();
    file = writeReport(report);
    progress(`raw results in ${file}`);
  }

  const text = `${header(report)}\n\n${formatTable(tableRows(report))}\n\nrun took ${report.durationSeconds} s\n`;
  writeFileSync(file.replace(/\.json$/, '.txt'), text);
  process.stdout.write(text);
  return 0;
}

/** Whether this process runs with the service's process-level settings (the floor runs in it). */
const hasRuntimeEnv = (): boolean => Object.entries(RUNTIME_ENV).every(([name, value]) => process.env[name] === value);

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href && !hasRuntimeEnv()) {
  // glibc reads its tunables at process start, so the bench starts itself again with them: the
  // bare-session floor must run under the same allocator settings as the service, or the ratios lie.
  const again = spawnSync(process.execPath, process.argv.slice(1), { stdio: 'inherit', env: { ...RUNTIME_ENV, ...process.env, ...RUNTIME_ENV } });
  process.exit(again.status ?? 1);
} else if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.on('exit', killAll);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      killAll();
      process.exit(130);
    });
  }
  let options: Options;
  try {
    options = parseArgs(process.argv.slice(2));
  } catch (error) {
    console.error(`${error instanceof Error ? error.message : String(error)}\n${USAGE}`);
    process.exit(64);
  }
  if (options.help) {
    console.log(USAGE);
  } else {
    run(options).then(
      (code) => process.exit(code),
      (error: unknown) => {
        console.error('bench failed:', error instanceof Error ? error.message : error);
        process.exit(1);
      },
    );
  }
}
