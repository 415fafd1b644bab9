import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import { loadConfig, projectRoot } from '../../src/config.js';
import { DownloadThread, downloadOptions, startDownloader } from '../../src/fetch/download-thread.js';
import type { DownloadOptions } from '../../src/fetch/download.js';
import { startSourceServer } from '../helpers/source-server.js';

function thread(t: Test, overrides: Partial<DownloadOptions> = {}): DownloadThread {
  const d = new DownloadThread({
    maxBytes: 2_000_000,
    timeoutMs: 3000,
    connectTimeoutMs: 3000,
    headersTimeoutMs: 3000,
    maxRedirects: 3,
    allowedHosts: [],
    allowPrivateNetworks: true,
    ...overrides,
  });
  t.teardown(() => d.close());
  return d;
}

t.test('bodies come back whole, large ones moved and small ones copied', async (t) => {
  const large = Buffer.alloc(1_500_000);
  for (let i = 0; i < large.length; i++) large[i] = (i * 31) & 255;
  const source = await startSourceServer(t, { '/large.jpg': large, '/small.png': Buffer.from('tiny image bytes') });
  const d = thread(t);
  const [a, b] = await Promise.all([d.download(source.url('/large.jpg')), d.download(source.url('/small.png'))]);
  t.ok(Buffer.isBuffer(a) && Buffer.isBuffer(b), 'Buffers, as the in-process downloader gives');
  t.ok(a.equals(large));
  t.equal(b.toString(), 'tiny image bytes');
});

t.test("the worker's refusals keep their code, status, message and cause", async (t) => {
  const source = await startSourceServer(t, { '/big.jpg': Buffer.alloc(3_000_000) });
  const d = thread(t);
  await t.rejects(d.download(source.url('/missing.jpg')), { name: 'ServiceError', code: 'source_status', statusCode: 502, message: 'the image source answered 404' });
  await t.rejects(d.download(source.url('/big.jpg')), { code: 'too_large', statusCode: 413, message: /2000000 bytes/ });
  await t.rejects(d.download('ftp://example.com/a.png'), { code: 'unsupported_url', statusCode: 400 });
  const inside = await startSourceServer(t, { '/a.jpg': Buffer.from('secret') });
  const guarded = thread(t, { allowPrivateNetworks: false });
  await t.rejects(guarded.download(inside.url('/a.jpg')), { code: 'forbidden_address', statusCode: 403, message: /private address/ });
  t.equal(inside.connections, 0, 'the address guard runs in the worker, before connecting');
});

t.test('an unreachable source is source_unreachable, with the system error as its cause', async (t) => {
  // A port that was just free and is closed again refuses.
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as net.AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  const d = thread(t);
  const error = await d.download(`http://127.0.0.1:${port}/a.jpg`).catch((e: unknown) => e);
  t.match(error, { code: 'source_unreachable', statusCode: 502 });
  t.match((error as Error).cause, { code: 'ECONNREFUSED' }, 'the cause crosses the thread for the log');
});

t.test('an abort answers at once with its reason, stops the download and leaves the worker serving', async (t) => {
  const controller = new AbortController();
  let closed: Promise<void> | undefined;
  const source = await startSourceServer(t, {
    '/stall.jpg': (request, response) => {
      closed = new Promise((resolve) => request.socket.once('close', () => resolve()));
      response.writeHead(200, { 'content-length': '1000' }).write('partial');
      controller.abort(new Error('client gone')); // once the body has begun
    },
    '/ok.jpg': Buffer.from('fine'),
  });
  const d = thread(t);
  const started = performance.now();
  await t.rejects(d.download(source.url('/stall.jpg'), controller.signal), { message: 'client gone' });
  t.ok(performance.now() - started < 2500, 'before the 3 s deadline');
  await closed;
  t.pass('the worker closed the connection');
  t.equal((await d.download(source.url('/ok.jpg'))).toString(), 'fine');
  const already = AbortSignal.abort(new Error('gone before'));
  await t.rejects(d.download(source.url('/ok.jpg'), already), { message: 'gone before' });
});

t.test('a worker that dies fails the downloads it held, and the next download starts another', async (t) => {
  const source = await startSourceServer(t, {
    '/stall.jpg': (_request, response) => response.writeHead(200, { 'content-length': '1000' }).write('partial'),
    '/ok.jpg': Buffer.from('fine'),
  });
  const d = thread(t);
  const pending = d.download(source.url('/stall.jpg'));
  await new Promise((resolve) => setTimeout(resolve, 100));
  await d['worker']!.terminate();
  await t.rejects(pending, { message: /download worker exited/ });
  t.equal((await d.download(source.url('/ok.jpg'))).toString(), 'fine');
  await d.close();
  await t.rejects(d.download(source.url('/ok.jpg')), { message: /closed/ });
});

t.test('DOWNLOAD_WORKER chooses the thread; false downloads on this one', async (t) => {
  const source = await startSourceServer(t, { '/ok.jpg': Buffer.from('fine') });
  for (const value of ['true', 'false']) {
    const config = loadConfig({ DOWNLOAD_WORKER: value, ALLOW_PRIVATE_NETWORKS: 'true' });
    const d = await startDownloader(config);
    t.equal(d instanceof DownloadThread, value === 'true', value);
    t.equal((await d.download(source.url('/ok.jpg'))).toString(), 'fine');
    await d.close();
  }
  t.same(downloadOptions(loadConfig({ MAX_DOWNLOAD_BYTES: '1234', ALLOWED_HOSTS: 'a.test' })), {
    maxBytes: 1234,
    timeoutMs: 10_000,
    connectTimeoutMs: 10_000,
    headersTimeoutMs: 10_000,
    maxRedirects: 3,
    allowedHosts: ['a.test'],
    allowPrivateNetworks: false,
  });
});

// What the thread is for. V8 prints a line when a thread's ArrayBuffer-detaching protector is
// invalidated (once per thread, for good: its typed-array code then checks every access), and
// undici's WebAssembly parser invalidates it in the thread that downloads. A child process counts
// the lines: downloading on the worker costs the main thread nothing; one download on the main
// thread as well adds its line.
t.test("downloads on the worker leave the main thread's typed-array fast path intact", async (t) => {
  const dist = (file: string) => JSON.stringify(path.join(projectRoot, 'dist/src/fetch', file));
  const script = (alsoHere: boolean) =>
    [
      `import http from 'node:http';`,
      `const { DownloadThread } = await import(${dist('download-thread.js')});`,
      `const server = http.createServer((q, r) => r.end(Buffer.alloc(300000, 7)));`,
      `await new Promise((r) => server.listen(0, '127.0.0.1', r));`,
      `const url = 'http://127.0.0.1:' + server.address().port + '/a.jpg';`,
      `const options = { maxBytes: 1e6, timeoutMs: 5000, connectTimeoutMs: 5000, headersTimeoutMs: 5000, maxRedirects: 0, allowedHosts: [], allowPrivateNetworks: true };`,
      `const thread = new DownloadThread(options);`,
      `for (let i = 0; i < 3; i++) if ((await thread.download(url)).length !== 300000) process.exit(3);`,
      alsoHere ? `const { Downloader } = await import(${dist('download.js')}); const here = new Downloader(options); await here.download(url); await here.close();` : '',
      `await thread.close(); server.close();`,
    ].join('\n');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'download-thread-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const invalidations = (alsoHere: boolean): number => {
    const file = path.join(dir, `${alsoHere}.mjs`); // a file, not -e: the worker inherits the child's flags
    writeFileSync(file, script(alsoHere));
    // Without NODE_OPTIONS: the test runner's coverage hooks, which it adds to every child it
    // spawns, run on threads of their own that add lines of their own (hence env -u, not spawn's env).
    const child = spawnSync('env', ['-u', 'NODE_OPTIONS', process.execPath, '--trace-protector-invalidation', file], { encoding: 'utf8', timeout: 30_000 });
    t.equal(child.status, 0, child.stderr);
    return child.stdout.split('\n').filter((line) => line.includes('ArrayBufferDetaching')).length;
  };
  const workerOnly = invalidations(false);
  const alsoMain = invalidations(true);
  t.equal(alsoMain, workerOnly + 1, 'a download on the main thread invalidates its protector (the control)');
  t.equal(workerOnly, 1, "only the worker's thread is invalidated");
});
