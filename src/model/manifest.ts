// The model manifest (models/u2netp.json): what the weights are, where they come from and which
// SHA-256 digests are accepted. Both the fetch script and the service read it, so the service
// never runs weights the fetch script would have refused.
import { createHash } from 'node:crypto';
import { createReadStream, readFileSync } from 'node:fs';
import path from 'node:path';
import { projectRoot } from '../config.js';

export interface ModelManifest {
  name: string;
  file: string;
  /** Where a machine without a mirror downloads the weights, and the digest that download must have. */
  upstream: { url: string; sha256: string };
  /** Every digest (hex) the service accepts, with where each comes from. */
  acceptedSha256: Record<string, string>;
  input: { name: string; shape: number[] };
  output: { name: string; shape: number[] };
}

export const manifestPath = path.join(projectRoot, 'models', 'u2netp.json');

export function readManifest(file = manifestPath): ModelManifest {
  return JSON.parse(readFileSync(file, 'utf8')) as ModelManifest;
}

/** SHA-256 of a file, hex, streamed (the weights are a few MB, but nothing needs them in memory twice). */
export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

export function isAcceptedDigest(manifest: ModelManifest, digest: string): boolean {
  return Object.hasOwn(manifest.acceptedSha256, digest.toLowerCase());
}
