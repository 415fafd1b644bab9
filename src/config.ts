// The one configuration object. Every setting comes from the environment, has a default, and
// says next to it which risk it guards against. A bad value stops start-up with a message that
// names the variable; nothing is read from the environment anywhere else.
import os from 'node:os';
import path from 'node:path';
import v8 from 'node:v8';
import { fileURLToPath } from 'node:url';
import { Type, type Static, type TSchema } from 'typebox';
import Value from 'typebox/value';

/** The project's root folder (where package.json lives), whether run from src/ or dist/src/. */
export const projectRoot = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  path.basename(path.dirname(path.dirname(fileURLToPath(import.meta.url)))) === 'dist' ? '../..' : '..',
);

const MiB = 1024 * 1024;

export const ConfigSchema = Type.Object({
  HOST: Type.String({
    default: '0.0.0.0',
    description: 'Interface to listen on. 0.0.0.0 serves a container network; 127.0.0.1 keeps the service private to the host.',
  }),
  PORT: Type.Integer({
    minimum: 0, maximum: 65535, default: 8000,
    description: 'TCP port to listen on (platforms such as Render and Heroku set it).',
  }),
  LOG_LEVEL: Type.Union(
    ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((level) => Type.Literal(level)),
    { default: 'info', description: 'pino log level. At info the service logs one JSON line per request, with its stage timings.' },
  ),
  MODEL_PATH: Type.String({
    default: 'models/u2netp.onnx',
    description: 'The u2netp ONNX file (relative paths start at the project folder), fetched and verified by `npm run fetch-model`. Its SHA-256 must be one the manifest accepts, so a swapped or truncated file is never served.',
  }),
  INFERENCE_ARENA: Type.Boolean({
    default: false,
    description: "Keep onnxruntime's CPU memory arena: about 250 MB more resident memory when idle and 400 MB more while serving (measured with `npm run bench`), for inferences that need no fresh memory. Off, with transparent huge pages (RUNTIME_ENV), an inference costs about 7 % more time; on a host without them, about 50 % more.",
  }),
  INFERENCE_WORKER: Type.Boolean({
    default: false,
    description: "Run the model on a worker thread. onnxruntime-node's inference is synchronous: on the main thread it holds the event loop for the whole run, so /health, /ready, /metrics, refusals that need no model and uploads being received wait behind it. Measured on 2 vCPUs, 16 requests of 1 MP at concurrency 8: /health answered in 51 ms at the 95th percentile with it, 269 to 428 ms without. The cost: the next request's download and decode then run beside the inference and slow it, about 5 % less throughput at saturation (3.56 against 3.76 req/s), and about 20 to 40 MiB more resident memory. Turn it on where health probes or large uploads must not wait. A worker that dies fails the inference it was running (that request answers 500) and another is started for the next.",
  }),
  INFERENCE_THREADS: Type.Integer({
    minimum: 0, maximum: 64, default: 0,
    description: 'onnxruntime intra-op threads for one inference; 0 means one per available core. More threads than cores only adds contention.',
  }),
  MASK_THRESHOLD: Type.Number({
    exclusiveMinimum: 0, exclusiveMaximum: 1, default: 0.3,
    description: 'Mask level (0..1, after min-max normalisation) above which a pixel belongs to a subject when components are labelled (0.3 measured better than 0.5 on the dev set).',
  }),
  PNG_COMPRESSION_LEVEL: Type.Integer({
    minimum: 0, maximum: 9, default: 1,
    description: "PNG compression. 1: transparent cutouts at their own size (the default answer) go through the service's own encoder (rows filtered 'up', Huffman-coded per block, on both threads for large ones): on bike.jpg's cutouts about 40 % smaller than zlib's level 1 and as small as its level 6 with adaptive filtering, in about the time of level 1. Other PNGs (a background, max_dimension, the mask alone), and every other level, use libvips' zlib at that level, 0 (stored) to 9, without adaptive filtering.",
  }),
  MAX_DOWNLOAD_BYTES: Type.Integer({
    minimum: 1, default: 25 * MiB,
    description: 'Largest image body accepted from a source, counted while streaming. Guards memory against huge or endless bodies.',
  }),
  CONNECT_TIMEOUT_MS: Type.Integer({
    minimum: 1, default: 10_000,
    description: 'Time allowed to open a connection to a source. Guards against sources that accept no connection.',
  }),
  HEADERS_TIMEOUT_MS: Type.Integer({
    minimum: 1, default: 10_000,
    description: 'Time allowed for a source to send its response headers once asked.',
  }),
  FETCH_TIMEOUT_MS: Type.Integer({
    minimum: 1, default: 10_000,
    description: 'Time allowed for the whole download, redirects included. Guards against slow sources (a byte a second) holding a request.',
  }),
  MAX_REDIRECTS: Type.Integer({
    minimum: 0, maximum: 20, default: 3,
    description: 'Redirects followed per download, each one checked again. Guards against redirect loops and long chains.',
  }),
  ALLOWED_HOSTS: Type.String({
    default: '',
    description: 'Comma-separated host names images may be fetched from (`*.example.com` also matches its subdomains), checked on every redirect. Empty allows any host with a public address.',
  }),
  ALLOW_PRIVATE_NETWORKS: Type.Boolean({
    default: false,
    description: 'Allow sources on loopback, private (RFC 1918), carrier-grade NAT and unique-local addresses, for internal deployments. Off, a URL cannot make the service reach inside its own network (SSRF). Link-local (cloud metadata), multicast and reserved addresses stay refused either way.',
  }),
  DOWNLOAD_WORKER: Type.Boolean({
    default: true,
    description: "Download source images (image_url, background_url) on a worker thread. undici's HTTP parser is WebAssembly, and the first response it parses grows its memory, which turns off for good one of V8's fast paths for typed arrays on the thread it runs on: on the main thread every later request's edge filter, colour step, mask and PNG then ran about 15 % slower (about 7 ms at 1 MP, two services side by side). The cost: about 15 MiB more resident memory when idle, none measurable at peak (12 MP at concurrency 4, four fresh pairs of services). Off, downloads run on the main thread, which then loads undici itself. A worker that dies fails the downloads it held (500) and is replaced.",
  }),
  MAX_INPUT_PIXELS: Type.Integer({
    minimum: 1, default: 50_000_000,
    description: 'Largest image (width x height) accepted, checked from the header before decoding. Guards memory against decompression bombs.',
  }),
  ROW_WORKER: Type.Boolean({
    default: true,
    description: 'A worker thread takes half the rows of the full-resolution passes after the inference, so they run on two cores: the edge filter and the PNG for subject regions of 0.5 MP or more, the colour step from 2 MP (below that its hand-overs cost more than they save); and it decodes images of 2 MP or more straight into the shared memory they use while the model runs. At 12 MP about 30 to 45 % less time for those passes, a 4 MP photo took 350 against 413 ms end to end, and at 1 MP the edge filter and the PNG took 19.5 and 7.4 ms against 21 and 10 ms; for about 30 MB more resident memory (the worker) and one copy of the decoded image into shared memory, which stays resident for the next. A worker that dies is replaced, up to 3 times. Off on a single core, where it cannot help.',
  }),
  DECODE_ALONGSIDE_MAX_PIXELS: Type.Integer({
    minimum: 0, default: 25_000_000,
    description: 'Images of up to this many pixels are decoded at full size beside the model\'s small view of them and then while the model runs, which hides the decode behind the inference (about 50 ms at 12 MP JPEG) but holds the decoded image (4 bytes a pixel) in memory beside the inference\'s own buffers (about 135 MB); larger images are decoded after it (for formats other than JPEG, whose view costs a full decode of its own, that is a second decode). 0 decodes every image after the inference: 60 MB less peak at 12 MP, for the 512 MB deployments (README, Deployment).',
  }),
  HEAP_GROWING_PERCENT: Type.Integer({
    minimum: 0, maximum: 1000, default: 400,
    description: "How far V8's JavaScript heap may grow past what its last full collection kept, in percent, before the next full collection (V8's --heap-growing-percent, set at start-up); 0 leaves V8's own choice. A request allocates several MB of typed arrays and short-lived objects against a live heap of about 13 MB, so with V8's own choice nearly every request ended in a full collection, whose concurrent marking takes a core from the inference. 400 measured about 9 % more throughput at 1 MP and 12 MP photos about 6 % faster, for about 15 MiB more peak memory and garbage (up to about 80 MiB) left resident between requests until V8's memory reducer collects it. 0 is what the 512 MB deployments use.",
  }),
  MAX_CANVAS_PIXELS: Type.Integer({
    minimum: 1, default: 16_000_000,
    description: 'Largest canvas (width x height) a request may ask for with `canvas`. The subject is scaled to its size in memory (4 bytes a pixel, 64 MB at 16 megapixels) before it is composited, so this bounds what one small request can make the service allocate.',
  }),
  API_KEYS: Type.String({
    default: '',
    description: 'Comma-separated API keys (16 characters or more each). When set, requests need `Authorization: Bearer <key>` or `X-Api-Key: <key>`; /health, /ready, /openapi.json, /docs, the web page and stored results stay open. Empty leaves the API open.',
  }),
  KEY_QUEUE_SHARE: Type.Number({
    exclusiveMinimum: 0, maximum: 1, default: 0.5,
    description: 'With two or more API keys, the fraction of the places (MAX_CONCURRENCY + QUEUE_LIMIT together, at least one) one key may hold at once; past it that key is answered 429 rate_limited while the other keys keep their places. Guards against one client\'s burst refusing every other client. 1 turns it off.',
  }),
  KEY_RATE_LIMIT: Type.Integer({
    minimum: 0, maximum: 1_000_000, default: 0,
    description: 'With API keys, the cutout requests one key may make in any 60 seconds (a sliding window), on this replica; past it, 429 rate_limited with Retry-After. Guards against one client taking the throughput others pay for. 0 turns it off.',
  }),
  MAX_CONCURRENCY: Type.Integer({
    minimum: 1, maximum: 64, default: 1,
    description: "Requests whose CPU work (decode, inference, mask, encode) runs at once. Inferences take turns whatever this says (each uses every core), so a second slot only overlaps one request's decoding and encoding with another's inference: about 3 % more throughput on 2 cores, measured, for one more decoded image in memory.",
  }),
  QUEUE_LIMIT: Type.Integer({
    minimum: 0, maximum: 10_000, default: 16,
    description: 'Requests that may wait (downloading or queued) beyond those running. Past it the service answers 503 at once instead of letting work pile up in memory.',
  }),
  REQUEST_DEADLINE_MS: Type.Integer({
    minimum: 100, default: 30_000,
    description: 'Time a request may take in all, queue wait included; past it the service answers 503 rather than work for a client that gave up.',
  }),
  SHUTDOWN_GRACE_MS: Type.Integer({
    minimum: 0, default: 10_000,
    description: 'On SIGTERM, time given to requests in flight to finish before the process exits.',
  }),
  BODY_LIMIT_BYTES: Type.Integer({
    minimum: 1024, default: 64 * 1024,
    description: 'Largest JSON request body. A body only carries a URL and a few options. (Uploads are limited by MAX_DOWNLOAD_BYTES instead.)',
  }),
  STORAGE_DIR: Type.String({
    default: 'static/processed_images',
    description: 'Folder where POST /remove-bg saves its JPEGs (relative paths start at the project folder); created when first needed. Replicas that share traffic must share it.',
  }),
  STORAGE_MAX_AGE_MS: Type.Integer({
    minimum: 1000, default: 24 * 60 * 60 * 1000,
    description: 'Saved results older than this are deleted. Keeps the folder from growing without end and results from staying public forever.',
  }),
  STORAGE_MAX_BYTES: Type.Integer({
    minimum: MiB, default: 512 * MiB,
    description: 'Largest total size of the saved results; past it the oldest are deleted first. Guards the disk against a burst of uploads.',
  }),
  PUBLIC_BASE_URL: Type.String({
    default: '',
    description: 'The address clients reach the service at (`https://api.example.com`, with a path prefix if any), used in the URLs POST /remove-bg answers with. Empty uses the request\'s own origin, which is wrong behind a proxy that changes scheme, host or path.',
  }),
});

type Settings = Static<typeof ConfigSchema>;
/** Comma-separated settings, as the lists they stand for. */
type ListSetting = 'ALLOWED_HOSTS' | 'API_KEYS';
/**
 * Process-level settings the service is started with (npm start, the Dockerfile, the platform files;
 * the benchmark and the process tests too). glibc and libuv read them before any of the service's
 * code runs, so they cannot be settings above.
 * - GLIBC_TUNABLES=glibc.malloc.hugetlb=1:glibc.malloc.mmap_threshold=1048576: large allocations
 *   get transparent huge pages. Without the arena, onnxruntime allocates its buffers afresh for every
 *   inference; with 4 kB pages the page faults cost 213 ms instead of 146 ms per inference on the
 *   development machine. And every allocation of 1 MiB or more is its own mapping, returned to the
 *   system when freed: by default glibc raises that threshold up to 32 MiB as large blocks are
 *   freed, after which an inference's tensors and the images' buffers come from heaps that only
 *   grow (peak serving 12 MP at concurrency 4: 523 MiB against 642, README, Performance).
 * - MALLOC_ARENA_MAX=2: fewer glibc arenas, less fragmentation of native buffers across threads.
 * - UV_THREADPOOL_SIZE=2: libuv runs sharp's jobs; one thread per core of the 2-core target.
 */
export const RUNTIME_ENV: Readonly<Record<string, string>> = Object.freeze({
  GLIBC_TUNABLES: 'glibc.malloc.hugetlb=1:glibc.malloc.mmap_threshold=1048576',
  MALLOC_ARENA_MAX: '2',
  UV_THREADPOOL_SIZE: '2',
});

export type Config = Readonly<Omit<Settings, ListSetting> & Record<ListSetting, readonly string[]>>;

/**
 * Sets V8's heap growing factor (HEAP_GROWING_PERCENT), once, at start-up (server.ts, the command
 * line): V8 reads it each time a full collection sets the next limit, so it applies from the first.
 */
export function applyHeapGrowth(config: Pick<Config, 'HEAP_GROWING_PERCENT'>): void {
  if (config.HEAP_GROWING_PERCENT > 0) v8.setFlagsFromString(`--heap-growing-percent=${config.HEAP_GROWING_PERCENT}`);
}

export type SettingName = keyof Config;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Builds the frozen config from an environment (process.env by default). Empty values count as unset. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const raw: Record<string, unknown> = {};
  for (const name of Object.keys(ConfigSchema.properties)) {
    const value = env[name];
    if (value !== undefined && value.trim() !== '') raw[name] = value.trim();
  }
  const converted = Value.Convert(ConfigSchema, Value.Default(ConfigSchema, raw));
  const problems = [...Value.Errors(ConfigSchema, converted)];
  if (problems.length > 0) {
    const lines = problems.map((error) => {
      const name = error.instancePath.replace(/^\//, '') || '(config)';
      const schema = (ConfigSchema.properties as Record<string, TSchema & { description?: string }>)[name];
      return `  ${name}=${JSON.stringify(env[name] ?? '')}: ${error.message}${schema?.description ? ` (${schema.description})` : ''}`;
    });
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  const settings = converted as Settings;
  const config = {
    ...settings,
    MODEL_PATH: path.resolve(projectRoot, settings.MODEL_PATH),
    STORAGE_DIR: path.resolve(projectRoot, settings.STORAGE_DIR),
    PUBLIC_BASE_URL: settings.PUBLIC_BASE_URL.replace(/\/+$/, ''),
    INFERENCE_THREADS: settings.INFERENCE_THREADS === 0 ? Math.max(1, os.availableParallelism()) : settings.INFERENCE_THREADS,
    ALLOWED_HOSTS: list(settings.ALLOWED_HOSTS).map((host) => host.toLowerCase()),
    API_KEYS: list(settings.API_KEYS),
  };
  const listProblems = [
    ...config.ALLOWED_HOSTS.filter((host) => !/^(\*\.)?[a-z0-9.-]+$/.test(host)).map((host) => `  ALLOWED_HOSTS: "${host}" is not a host name or *.domain`),
    ...config.API_KEYS.filter((key) => key.length < 16).map(() => '  API_KEYS: every key needs 16 characters or more'),
    ...(config.PUBLIC_BASE_URL === '' || isBaseUrl(config.PUBLIC_BASE_URL)
      ? []
      : [`  PUBLIC_BASE_URL: "${config.PUBLIC_BASE_URL}" is not an absolute http(s) URL without query or fragment`]),
  ];
  if (listProblems.length > 0) throw new ConfigError(`invalid configuration:\n${listProblems.join('\n')}`);
  return Object.freeze({ ...config, ALLOWED_HOSTS: Object.freeze(config.ALLOWED_HOSTS), API_KEYS: Object.freeze(config.API_KEYS) });
}

function isBaseUrl(text: string): boolean {
  try {
    const url = new URL(text);
    return (url.protocol === 'http:' || url.protocol === 'https:') && !url.search && !url.hash && !url.username && !url.password;
  } catch {
    return false;
  }
}

const list = (value: string): string[] =>
  value
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');

/** Every setting with its default and description, in declaration order (for docs and .env.example). */
export function describeSettings(): { name: SettingName; default: unknown; description: string }[] {
  return Object.entries(ConfigSchema.properties).map(([name, schema]) => ({
    name: name as SettingName,
    default: (schema as { default?: unknown }).default,
    description: (schema as { description?: string }).description ?? '',
  }));
}
