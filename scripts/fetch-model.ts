// npm run fetch-model: puts verified u2netp weights at MODEL_PATH (default models/u2netp.onnx).
//
//   MODEL_MIRROR=<folder or URL prefix>  copy from a mirror, checked against the mirror's SHA256SUMS
//   (unset)                              download the upstream file, checked against its known digest
//
// Either way the digest must also be one the manifest accepts. A file that is already present and
// verified is left alone; a mismatch is an error and leaves no file behind (the download goes to a
// temporary name and is renamed only once verified).
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import { readFile, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fetch } from 'undici';
import { loadConfig } from '../src/config.js';
import { isAcceptedDigest, readManifest, sha256File, type ModelManifest } from '../src/model/manifest.js';

const isUrl = (location: string): boolean => /^https?:\/\//i.test(location);
const DOWNLOAD_TIMEOUT_MS = 120_000;

/**
 * Why a download or a read failed, in words, from the error and its causes (undici's "fetch failed"
 * carries the real one): a name that does not resolve, a refused connection, a timeout, a missing file.
 */
export function failureReason(error: unknown): string {
  const chain: unknown[] = [];
  for (let link = error; link !== undefined && link !== null && chain.length < 5; link = (link as { cause?: unknown }).cause) chain.push(link);
  for (const link of chain.toReversed()) {
    const { code, hostname, address, port, path: file, name } = link as Record<string, unknown>;
    switch (code) {
      case 'ENOTFOUND':
      case 'EAI_AGAIN':
        return `the name${typeof hostname === 'string' ? ` ${hostname}` : ''} could not be resolved (DNS lookup failed: ${code})`;
      case 'ECONNREFUSED':
        return typeof address === 'string' ? `the connection to ${address}:${String(port)} was refused` : 'the connection was refused';
      case 'ECONNRESET':
        return 'the connection was reset';
      case 'ETIMEDOUT':
      case 'UND_ERR_CONNECT_TIMEOUT':
        return 'the connection timed out';
      case 'ENOENT':
        return typeof file === 'string' ? `there is no file ${file}` : 'there is no such file';
      case 'EACCES':
        return `${String(file ?? 'the file')} cannot be read (permission denied)`;
    }
    if (name === 'TimeoutError') return `no complete answer within ${DOWNLOAD_TIMEOUT_MS / 1000} s`;
  }
  const messages = chain.map((link) => (link instanceof Error ? link.message : String(link)));
  return [...new Set(messages)].join(': ');
}

async function openSource(location: string): Promise<Readable> {
  if (!isUrl(location)) return createReadStream(location);
  let response: Awaited<ReturnType<typeof fetch>>;
  try {
    response = await fetch(location, { redirect: 'follow', signal: AbortSignal.timeout(DOWNLOAD_TIMEOUT_MS) });
  } catch (error) {
    throw new Error(`could not download ${location}: ${failureReason(error)}`, { cause: error });
  }
  if (!response.ok || !response.body) throw new Error(`could not download ${location}: the server answered ${response.status} ${response.statusText}`.trimEnd());
  return Readable.fromWeb(response.body);
}

async function readText(location: string): Promise<string> {
  if (!isUrl(location)) {
    return readFile(location, 'utf8').catch((error: unknown) => {
      throw new Error(`could not read ${location}: ${failureReason(error)}`, { cause: error });
    });
  }
  const chunks: Buffer[] = [];
  for await (const chunk of await openSource(location)) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** The digest a `sha256sum` listing gives for one file name. */
export function digestFromSums(sums: string, file: string): string | undefined {
  for (const line of sums.split('\n')) {
    const match = /^([0-9a-f]{64})\s+\*?(.+?)\s*$/i.exec(line.trim());
    if (match && path.basename(match[2]!) === file) return match[1]!.toLowerCase();
  }
  return undefined;
}

/** Copies `source` to `target`, hashing on the way; returns the digest. */
async function copyHashed(source: string, target: string): Promise<string> {
  const hash = createHash('sha256');
  const hashing = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hash.update(chunk);
      done(null, chunk);
    },
  });
  const input = await openSource(source);
  try {
    await pipeline(input, hashing, createWriteStream(target));
  } catch (error) {
    throw new Error(`could not ${isUrl(source) ? 'download' : 'copy'} ${source}: ${failureReason(error)}`, { cause: error });
  }
  return hash.digest('hex');
}

export interface FetchModelOptions {
  manifest: ModelManifest;
  /** Where the weights go. */
  target: string;
  /** A folder or URL prefix holding the weights and a SHA256SUMS, or undefined for upstream. */
  mirror?: string | undefined;
  log?: (line: string) => void;
}

export async function fetchModel({ manifest, target, mirror, log = console.log }: FetchModelOptions): Promise<void> {
  if (existsSync(target) && isAcceptedDigest(manifest, await sha256File(target))) {
    log(`model: ${target} is present and verified`);
    return;
  }

  let source: string;
  let expected: string;
  if (mirror) {
    const join = (name: string) => (isUrl(mirror) ? `${mirror.replace(/\/+$/, '')}/${name}` : path.resolve(mirror, name));
    const listed = digestFromSums(await readText(join('SHA256SUMS')), manifest.file);
    if (!listed) throw new Error(`the mirror's SHA256SUMS does not list ${manifest.file}`);
    if (!isAcceptedDigest(manifest, listed)) {
      throw new Error(`the mirror's digest for ${manifest.file} (${listed}) is not one models/u2netp.json accepts`);
    }
    source = join(manifest.file);
    expected = listed;
  } else {
    source = manifest.upstream.url;
    expected = manifest.upstream.sha256;
  }

  const temporary = `${target}.${process.pid}.tmp`;
  log(`model: ${isUrl(source) ? 'downloading' : 'copying'} ${source}`);
  try {
    const actual = await copyHashed(source, temporary);
    if (actual !== expected) throw new Error(`digest mismatch for ${source}: expected ${expected}, got ${actual}`);
    await rename(temporary, target);
  } finally {
    await rm(temporary, { force: true });
  }
  log(`model: ${target} verified (sha256 ${expected})`);
}

/** What to do next. The model is the last step of `npm ci` (prepare: build, then this), so the rest is in place. */
export const FIX_HINT = [
  'The rest of the install is done; only the model weights are missing. Fetch them from a copy',
  '(a folder, or a URL prefix, holding u2netp.onnx and its SHA256SUMS), or run this again once the network allows:',
  '  MODEL_MIRROR=<folder or URL prefix> npm run fetch-model',
].join('\n');

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  fetchModel({
    manifest: readManifest(),
    target: loadConfig().MODEL_PATH,
    mirror: process.env.MODEL_MIRROR?.trim() || undefined,
  }).catch((error: unknown) => {
    console.error(`fetch-model failed: ${error instanceof Error ? error.message : String(error)}`);
    console.error(FIX_HINT);
    process.exit(1);
  });
}
