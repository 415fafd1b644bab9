// Reads the deployment files (Dockerfile, .dockerignore, YAML manifests) for the tests in test/deploy/.
// Only as much parsing as these files need: they are written to stay simple enough for it.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { describeSettings, loadConfig, projectRoot, RUNTIME_ENV } from '../../src/config.js';

export function readProjectFile(...parts: string[]): string {
  return readFileSync(path.join(projectRoot, ...parts), 'utf8');
}

/** Variables a deployment file may set besides the service's own settings: ones Node, libuv and glibc read. */
export const runtimeVariables: readonly string[] = ['NODE_ENV', ...Object.keys(RUNTIME_ENV)];

/** `npm start`'s command without the RUNTIME_ENV defaults it puts in front, nor the `exec` that hands signals to it. */
export function startCommand(script: string): string {
  return script.replace(/^(\w+=\S+\s+)+/, '').replace(/^exec\s+/, '');
}
/** Read at build time by scripts/fetch-model.ts, never by the running service. */
export const buildVariables: readonly string[] = ['MODEL_MIRROR'];
export const settingNames: readonly string[] = describeSettings().map((setting) => setting.name);

/** How long the service may spend draining in-flight requests after SIGTERM (SHUTDOWN_GRACE_MS): the grace period must cover it. */
export const drainSeconds = loadConfig({}).SHUTDOWN_GRACE_MS / 1000;

export interface Instruction {
  keyword: string;
  args: string;
}

/** Dockerfile instructions in order: continuation lines joined, comment lines dropped (as Docker does). */
export function parseDockerfile(text: string): Instruction[] {
  const instructions: Instruction[] = [];
  let pending = '';
  for (const line of text.split('\n')) {
    if (/^\s*#/.test(line)) continue;
    const continued = /\\\s*$/.test(line);
    pending += `${line.replace(/\\\s*$/, '').trim()} `;
    if (continued) continue;
    const logical = pending.trim();
    pending = '';
    if (logical === '') continue;
    const match = /^(\S+)\s*(.*)$/.exec(logical)!;
    instructions.push({ keyword: match[1]!.toUpperCase(), args: match[2]! });
  }
  return instructions;
}

export interface Stage {
  image: string;
  name: string | undefined;
  instructions: Instruction[];
}

/** Splits instructions into build stages at each FROM. */
export function dockerStages(instructions: Instruction[]): Stage[] {
  const stages: Stage[] = [];
  for (const instruction of instructions) {
    if (instruction.keyword === 'FROM') {
      const [image, as, name] = instruction.args.split(/\s+/);
      stages.push({ image: image!, name: as?.toUpperCase() === 'AS' ? name : undefined, instructions: [] });
    } else {
      stages.at(-1)?.instructions.push(instruction);
    }
  }
  return stages;
}

export function argsOf(stage: Stage, keyword: string): string[] {
  return stage.instructions.filter((instruction) => instruction.keyword === keyword).map((instruction) => instruction.args);
}

/** Variables from a stage's `ENV a=b c=d` lines (the key=value form only; the legacy `ENV a b` form throws). */
export function dockerEnv(stage: Stage): Record<string, string> {
  const env: Record<string, string> = {};
  for (const args of argsOf(stage, 'ENV')) {
    for (const token of args.split(/\s+/)) {
      const match = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(token);
      if (!match) throw new Error(`ENV ${args}: write it as NAME=value`);
      env[match[1]!] = match[2]!.replace(/^(["'])(.*)\1$/, '$2');
    }
  }
  return env;
}

/** The JSON array of an exec-form CMD, ENTRYPOINT or HEALTHCHECK CMD. */
export function execForm(args: string): string[] {
  const parsed: unknown = JSON.parse(args);
  if (!Array.isArray(parsed) || !parsed.every((part) => typeof part === 'string')) throw new Error(`not an exec-form array: ${args}`);
  return parsed as string[];
}

/** Whether .dockerignore patterns exclude a context path (a pattern that matches a folder excludes what is in it). */
export function dockerIgnores(patterns: string[], file: string): boolean {
  const toRegExp = (pattern: string) =>
    new RegExp(
      `^${pattern
        .replace(/^\/+|\/+$/g, '')
        .replace(/[.+^${}()|[\]\\]/g, '\\$&')
        .replace(/\*\*/g, '\u0000')
        .replace(/\*/g, '[^/]*')
        .replace(/\?/g, '[^/]')
        .replace(/\u0000/g, '.*')}$`,
    );
  const parts = file.split('/');
  const prefixes = parts.map((_, index) => parts.slice(0, index + 1).join('/'));
  let ignored = false;
  for (const pattern of patterns) {
    const negated = pattern.startsWith('!');
    const regExp = toRegExp(negated ? pattern.slice(1) : pattern);
    if (prefixes.some((prefix) => regExp.test(prefix))) ignored = !negated;
  }
  return ignored;
}

export function dockerignorePatterns(text: string): string[] {
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
}

/** Every document of a YAML file as plain data; a syntax error throws. */
export function readYaml(...parts: string[]): unknown[] {
  return parseAllDocuments(readProjectFile(...parts)).map((document) => {
    if (document.errors.length > 0) throw new Error(`${parts.join('/')}: ${document.errors.map((error) => error.message).join('; ')}`);
    return document.toJS() as unknown;
  });
}

/**
 * The settings of the 512 MiB deployments (deploy/kubernetes-512mb, the README's Render and Heroku
 * instructions), which test/deploy/memory.test.ts measures under that limit.
 */
export const MEMORY_512_ENV: Readonly<Record<string, string>> = Object.freeze({
  DECODE_ALONGSIDE_MAX_PIXELS: '0',
  MAX_INPUT_PIXELS: '25000000',
  ROW_WORKER: 'false',
  HEAP_GROWING_PERCENT: '0',
});
