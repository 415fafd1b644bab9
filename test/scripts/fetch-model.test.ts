import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import t, { type Test } from 'tap';
import { projectRoot } from '../../src/config.js';
import type { ModelManifest } from '../../src/model/manifest.js';
import { digestFromSums, fetchModel } from '../../scripts/fetch-model.js';
import { startSourceServer } from '../helpers/source-server.js';

const weights = Buffer.from('pretend these are onnx weights');
const digest = createHash('sha256').update(weights).digest('hex');
const quiet = () => {};

function manifest(overrides: Partial<ModelManifest> = {}): ModelManifest {
  return {
    name: 'test',
    file: 'model.onnx',
    upstream: { url: 'http://127.0.0.1:1/unused', sha256: digest },
    acceptedSha256: { [digest]: 'test weights' },
    input: { name: 'in', shape: [1] },
    output: { name: 'out', shape: [1] },
    ...overrides,
  };
}

/** A test folder with a mirror (model.onnx and SHA256SUMS) and an output folder with `existing` in it. */
function folders(t: Test, content = weights, listed = digest, existing: Record<string, string> = {}) {
  const root = t.testdir({ mirror: { 'model.onnx': content, SHA256SUMS: `${listed}  model.onnx\n` }, out: existing });
  return { mirror: path.join(root, 'mirror'), out: path.join(root, 'out'), target: path.join(root, 'out', 'model.onnx') };
}

t.test('digestFromSums reads sha256sum listings', async (t) => {
  t.equal(digestFromSums(`${'a'.repeat(64)}  other\n${'B'.repeat(64)} *model.onnx\n`, 'model.onnx'), 'b'.repeat(64));
  t.equal(digestFromSums('nothing here', 'model.onnx'), undefined);
});

t.test('copies from a mirror folder, then leaves a verified file alone', async (t) => {
  const { mirror, target } = folders(t);
  const lines: string[] = [];
  await fetchModel({ manifest: manifest(), target, mirror, log: (line) => lines.push(line) });
  t.same(readFileSync(target), weights);
  await fetchModel({ manifest: manifest(), target, mirror: '/nonexistent', log: (line) => lines.push(line) });
  t.match(lines.at(-1), /present and verified/);
});

t.test('a file that does not match the mirror digest is refused and leaves nothing behind', async (t) => {
  const { mirror, out, target } = folders(t, Buffer.from('tampered'), digest);
  await t.rejects(fetchModel({ manifest: manifest(), target, mirror, log: quiet }), /digest mismatch/);
  t.same(readdirSync(out), [], 'no model and no temporary file');
});

t.test("a mirror whose digest the manifest does not accept is refused", async (t) => {
  const other = Buffer.from('other weights');
  const otherDigest = createHash('sha256').update(other).digest('hex');
  const { mirror, target } = folders(t, other, otherDigest);
  await t.rejects(fetchModel({ manifest: manifest(), target, mirror, log: quiet }), /not one models\/u2netp.json accepts/);
  t.notOk(existsSync(target));
});

t.test('a corrupt file in place is replaced', async (t) => {
  const { mirror, target } = folders(t, weights, digest, { 'model.onnx': 'garbage' });
  await fetchModel({ manifest: manifest(), target, mirror, log: quiet });
  t.same(readFileSync(target), weights);
});

t.test('a URL mirror and the upstream download work over HTTP', async (t) => {
  const server = await startSourceServer(t, {
    '/mirror/model.onnx': weights,
    '/mirror/SHA256SUMS': Buffer.from(`${digest}  model.onnx\n`),
    '/upstream.onnx': weights,
    '/bad.onnx': Buffer.from('not it'),
  });
  const dir = t.testdir({ viaMirror: {}, viaUpstream: {}, bad: {} });
  const viaMirror = path.join(dir, 'viaMirror', 'model.onnx');
  await fetchModel({ manifest: manifest(), target: viaMirror, mirror: server.url('/mirror/'), log: quiet });
  t.same(readFileSync(viaMirror), weights);

  const viaUpstream = path.join(dir, 'viaUpstream', 'model.onnx');
  const upstream = manifest({ upstream: { url: server.url('/upstream.onnx'), sha256: digest } });
  await fetchModel({ manifest: upstream, target: viaUpstream, log: quiet });
  t.same(readFileSync(viaUpstream), weights);

  const badDir = path.join(dir, 'bad');
  const bad = manifest({ upstream: { url: server.url('/bad.onnx'), sha256: digest } });
  await t.rejects(fetchModel({ manifest: bad, target: path.join(badDir, 'model.onnx'), log: quiet }), /digest mismatch/);
  t.same(readdirSync(badDir), []);
  await t.rejects(
    fetchModel({ manifest: manifest({ upstream: { url: server.url('/missing'), sha256: digest } }), target: path.join(badDir, 'model.onnx'), log: quiet }),
    { message: `could not download ${server.url('/missing')}: the server answered 404 Not Found` },
  );
});

t.test('says "downloading" for a URL and "copying" for a folder', async (t) => {
  const server = await startSourceServer(t, { '/upstream.onnx': weights });
  const { mirror, out } = folders(t);
  const lines: string[] = [];
  await fetchModel({ manifest: manifest({ upstream: { url: server.url('/upstream.onnx'), sha256: digest } }), target: path.join(out, 'a.onnx'), log: (line) => lines.push(line) });
  await fetchModel({ manifest: manifest(), target: path.join(out, 'b.onnx'), mirror, log: (line) => lines.push(line) });
  t.match(lines, [`model: downloading ${server.url('/upstream.onnx')}`, /verified/, `model: copying ${path.join(mirror, 'model.onnx')}`, /verified/]);
});

/** A port on 127.0.0.1 that nothing listens on. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

t.test('a failed download says why and from where: DNS, a refused connection, a missing mirror file', async (t) => {
  const target = path.join(t.testdir({}), 'model.onnx');
  // .invalid never resolves (RFC 6761), whatever the network.
  await t.rejects(fetchModel({ manifest: manifest({ upstream: { url: 'http://model-host.invalid/u2netp.onnx', sha256: digest } }), target, log: quiet }), {
    message: 'could not download http://model-host.invalid/u2netp.onnx: the name model-host.invalid could not be resolved (DNS lookup failed: ENOTFOUND)',
  });
  const port = await closedPort();
  await t.rejects(fetchModel({ manifest: manifest(), target, mirror: `http://127.0.0.1:${port}/models`, log: quiet }), {
    message: `could not download http://127.0.0.1:${port}/models/SHA256SUMS: the connection to 127.0.0.1:${port} was refused`,
  });
  await t.rejects(fetchModel({ manifest: manifest(), target, mirror: '/nonexistent/models', log: quiet }), {
    message: 'could not read /nonexistent/models/SHA256SUMS: there is no file /nonexistent/models/SHA256SUMS',
  });
});

t.test('npm run fetch-model, failing: the cause, then the command that finishes the install', async (t) => {
  // The built script, as `npm ci` runs it (npm test builds dist/ first).
  const dir = t.testdir({});
  const result = spawnSync(process.execPath, [path.join(projectRoot, 'dist', 'scripts', 'fetch-model.js')], {
    env: { ...process.env, MODEL_PATH: path.join(dir, 'model.onnx'), MODEL_MIRROR: path.join(dir, 'no-mirror') },
    encoding: 'utf8',
  });
  t.equal(result.status, 1);
  t.match(result.stderr, `fetch-model failed: could not read ${path.join(dir, 'no-mirror', 'SHA256SUMS')}: there is no file`);
  t.match(result.stderr, /\n  MODEL_MIRROR=<folder or URL prefix> npm run fetch-model\n/);
  t.notOk(existsSync(path.join(dir, 'model.onnx')));
});

t.test('the project manifest accepts the upstream digest', async (t) => {
  const { readManifest } = await import('../../src/model/manifest.js');
  const real = readManifest();
  t.equal(real.upstream.sha256, '309c8469258dda742793dce0ebea8e6dd393174f89934733ecc8b14c76f4ddd8');
  t.ok(real.acceptedSha256[real.upstream.sha256]);
});
