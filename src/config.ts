// The one configuration object. Every setting comes from the environment, has a default, and
// says next to it which risk it guards against. A bad value stops start-up with a message that
// names the variable; nothing is read from the environment anywhere else.
import os from 'node:os';
import path from 'node:path';
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
  INFERENCE_THREADS: Type.Integer({
    minimum: 0, maximum: 64, default: 0,
    description: 'onnxruntime intra-op threads for one inference; 0 means one per available core. More threads than cores only adds contention.',
  }),
  MASK_THRESHOLD: Type.Number({
    exclusiveMinimum: 0, exclusiveMaximum: 1, default: 0.5,
    description: 'Mask level (0..1, after min-max normalisation) above which a pixel belongs to a subject when components are labelled.',
  }),
  MAX_DOWNLOAD_BYTES: Type.Integer({
    minimum: 1, default: 25 * MiB,
    description: 'Largest image body accepted from a source, counted while streaming. Guards memory against huge or endless bodies.',
  }),
  FETCH_TIMEOUT_MS: Type.Integer({
    minimum: 1, default: 10_000,
    description: 'Time allowed for the whole download of a source image. Guards against slow or stalled sources holding a request.',
  }),
  MAX_REDIRECTS: Type.Integer({
    minimum: 0, maximum: 20, default: 3,
    description: 'Redirects followed per download, each one checked again. Guards against redirect loops and long chains.',
  }),
  MAX_INPUT_PIXELS: Type.Integer({
    minimum: 1, default: 50_000_000,
    description: 'Largest image (width x height) accepted, checked from the header before decoding. Guards memory against decompression bombs.',
  }),
  BODY_LIMIT_BYTES: Type.Integer({
    minimum: 1024, default: 64 * 1024,
    description: 'Largest JSON request body. A body only carries a URL and a few options.',
  }),
});

export type Config = Readonly<Static<typeof ConfigSchema>>;
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
  const config = converted as Static<typeof ConfigSchema>;
  config.MODEL_PATH = path.resolve(projectRoot, config.MODEL_PATH);
  if (config.INFERENCE_THREADS === 0) config.INFERENCE_THREADS = Math.max(1, os.availableParallelism());
  return Object.freeze(config);
}

/** Every setting with its default and description, in declaration order (for docs and .env.example). */
export function describeSettings(): { name: SettingName; default: unknown; description: string }[] {
  return Object.entries(ConfigSchema.properties).map(([name, schema]) => ({
    name: name as SettingName,
    default: (schema as { default?: unknown }).default,
    description: (schema as { description?: string }).description ?? '',
  }));
}
