import net from 'node:net';
import { MockAgent } from 'undici';
import t, { type Test } from 'tap';
import { judgeAddress } from '../../src/fetch/address-guard.js';
import { Downloader, isAllowedHost, parseSourceUrl, type DownloadOptions } from '../../src/fetch/download.js';
import { systemLookup } from '../../src/fetch/guarded-connector.js';
import { startSourceServer } from '../helpers/source-server.js';

function options(overrides: Partial<DownloadOptions> = {}): DownloadOptions {
  return {
    maxBytes: 1000,
    timeoutMs: 2000,
    connectTimeoutMs: 2000,
    headersTimeoutMs: 2000,
    maxRedirects: 3,
    allowedHosts: [],
    allowPrivateNetworks: false,
    ...overrides,
  };
}

function downloader(t: Test, overrides: Partial<DownloadOptions> = {}): Downloader {
  const d = new Downloader(options(overrides));
  t.teardown(() => d.close());
  return d;
}

function mocked(t: Test, overrides: Partial<DownloadOptions> = {}) {
  const agent = new MockAgent();
  agent.disableNetConnect();
  t.teardown(() => agent.close());
  return { origin: agent.get('http://images.test'), downloader: new Downloader(options(overrides), agent) };
}

t.test('parseSourceUrl accepts absolute http(s) URLs only, without credentials', async (t) => {
  t.equal(parseSourceUrl('https://example.com/a.png').href, 'https://example.com/a.png');
  for (const bad of ['ftp://example.com/a.png', 'file:///etc/passwd', 'data:image/png;base64,AAAA', 'javascript:alert(1)', '/relative.png', 'https://user:pass@example.com/a.png', 'https://user@example.com/a.png']) {
    t.throws(() => parseSourceUrl(bad), { code: 'unsupported_url' }, bad);
  }
});

t.test('isAllowedHost: exact names and *.domain', async (t) => {
  t.ok(isAllowedHost('anything.example', []), 'an empty list allows all');
  const list = ['cdn.example.com', '*.images.test'];
  t.ok(isAllowedHost('cdn.example.com', list));
  t.ok(isAllowedHost('CDN.Example.com.', list), 'case and a trailing dot do not matter');
  t.ok(isAllowedHost('images.test', list));
  t.ok(isAllowedHost('a.b.images.test', list));
  t.notOk(isAllowedHost('evil-images.test', list));
  t.notOk(isAllowedHost('example.com', list));
  t.notOk(isAllowedHost('cdn.example.com.evil.test', list));
});

t.test('downloads a body', async (t) => {
  const { origin, downloader } = mocked(t);
  origin.intercept({ path: '/a.png' }).reply(200, Buffer.from('image bytes'));
  t.equal((await downloader.download('http://images.test/a.png')).toString(), 'image bytes');
});

t.test('follows redirects, relative ones included, up to the limit', async (t) => {
  const { origin, downloader } = mocked(t);
  origin.intercept({ path: '/1' }).reply(301, '', { headers: { location: '/2' } });
  origin.intercept({ path: '/2' }).reply(302, '', { headers: { location: 'http://images.test/3' } });
  origin.intercept({ path: '/3' }).reply(307, '', { headers: { location: '4' } });
  origin.intercept({ path: '/4' }).reply(200, 'done');
  t.equal((await downloader.download('http://images.test/1')).toString(), 'done');
});

t.test('one redirect too many, or a loop, is too_many_redirects', async (t) => {
  const { origin, downloader } = mocked(t);
  origin.intercept({ path: '/loop' }).reply(302, '', { headers: { location: '/loop' } }).persist();
  await t.rejects(downloader.download('http://images.test/loop'), { code: 'too_many_redirects', statusCode: 502 });
});

t.test('a redirect to another scheme, without a Location, to no URL at all, or off the allow-list is refused', async (t) => {
  const { origin, downloader } = mocked(t, { allowedHosts: ['images.test'] });
  origin.intercept({ path: '/ftp' }).reply(302, '', { headers: { location: 'ftp://images.test/x' } });
  origin.intercept({ path: '/nowhere' }).reply(302, '');
  origin.intercept({ path: '/broken' }).reply(302, '', { headers: { location: 'http://[' } });
  origin.intercept({ path: '/away' }).reply(302, '', { headers: { location: 'http://elsewhere.test/x.png' } });
  await t.rejects(downloader.download('http://images.test/ftp'), { code: 'unsupported_url' });
  await t.rejects(downloader.download('http://images.test/nowhere'), { code: 'source_status' });
  await t.rejects(downloader.download('http://images.test/broken'), { code: 'source_status', statusCode: 502, message: /invalid Location/ });
  await t.rejects(downloader.download('http://images.test/away'), { code: 'forbidden_host', statusCode: 403 });
  await t.rejects(downloader.download('http://elsewhere.test/x.png'), { code: 'forbidden_host' });
});

t.test("a source's error status is reported with the status", async (t) => {
  const { origin, downloader } = mocked(t);
  origin.intercept({ path: '/404' }).reply(404, 'nope');
  origin.intercept({ path: '/500' }).reply(500, 'oops');
  await t.rejects(downloader.download('http://images.test/404'), { code: 'source_status', statusCode: 502, message: /404/ });
  await t.rejects(downloader.download('http://images.test/500'), { code: 'source_status', message: /500/ });
});

t.test('the byte limit holds with and without a Content-Length', async (t) => {
  const { origin, downloader } = mocked(t);
  origin.intercept({ path: '/declared' }).reply(200, 'x', { headers: { 'content-length': '5000' } });
  origin.intercept({ path: '/streamed' }).reply(200, Buffer.alloc(1001));
  origin.intercept({ path: '/exact' }).reply(200, Buffer.alloc(1000));
  await t.rejects(downloader.download('http://images.test/declared'), { code: 'too_large', statusCode: 413 });
  await t.rejects(downloader.download('http://images.test/streamed'), { code: 'too_large' });
  t.equal((await downloader.download('http://images.test/exact')).length, 1000);
});

t.test('bodies are not decompressed', async (t) => {
  const { origin, downloader } = mocked(t);
  const gzipped = Buffer.from('1f8b0800000000000003', 'hex');
  origin.intercept({ path: '/gz', headers: { 'accept-encoding': 'identity' } }).reply(200, gzipped, { headers: { 'content-encoding': 'gzip' } });
  t.same(await downloader.download('http://images.test/gz'), gzipped, 'the bytes as sent');
});

t.test('the guard: forbidden addresses never get a connection', async (t) => {
  const source = await startSourceServer(t, { '/x.png': Buffer.from('secret') });
  const port = new URL(source.origin).port;
  const d = downloader(t, {
    guard: {
      lookup: async (name) => ({ 'rebind.test': ['127.0.0.1'], 'mixed.test': ['93.184.216.34', '10.0.0.1'] })[name] ?? systemLookup(name),
    },
  });
  const refused = [
    `http://127.0.0.1:${port}/x.png`,
    `http://localhost:${port}/x.png`,
    `http://rebind.test:${port}/x.png`, // a name that resolves to loopback
    `http://mixed.test:${port}/x.png`, // one public and one private answer
    `http://[::1]:${port}/x.png`,
    `http://[::ffff:127.0.0.1]:${port}/x.png`,
    `http://[::ffff:7f00:1]:${port}/x.png`,
    `http://2130706433:${port}/x.png`, // 127.0.0.1 as one number
    `http://0x7f.1:${port}/x.png`,
    `http://0177.0.0.1:${port}/x.png`,
    `http://127.1:${port}/x.png`,
    `http://0.0.0.0:${port}/x.png`,
    'http://169.254.169.254/latest/meta-data/',
    'http://[fd00:ec2::254]/latest/meta-data/',
    'http://10.0.0.1/x.png',
    'http://192.168.0.1/x.png',
  ];
  for (const url of refused) await t.rejects(d.download(url), { code: 'forbidden_address', statusCode: 403 }, url);
  t.equal(source.connections, 0, 'the loopback server saw no connection at all');
});

t.test('the guard checks every redirect hop', async (t) => {
  const inside = await startSourceServer(t, { '/secret.png': Buffer.from('secret') });
  // A loopback server on 127.0.0.2 plays a public host: the test's judge lets it through.
  const publicHost = net.createServer();
  await new Promise<void>((resolve) => publicHost.listen(0, '127.0.0.2', resolve));
  const publicPort = (publicHost.address() as net.AddressInfo).port;
  publicHost.close();
  const outside = await startSourceServerOn(t, '127.0.0.2', publicPort, inside.url('/secret.png'));
  const d = downloader(t, {
    guard: { judge: (address) => (address === '127.0.0.2' ? { allowed: true, range: 'test public' } : judgeAddress(address, { allowPrivate: false })) },
  });
  await t.rejects(d.download(`${outside}/redirect`), { code: 'forbidden_address' });
  t.equal(inside.connections, 0, 'the redirect target saw no connection');
});

t.test('ALLOW_PRIVATE_NETWORKS lets loopback sources through', async (t) => {
  const source = await startSourceServer(t, { '/x.png': Buffer.from('hello') });
  t.equal((await downloader(t, { allowPrivateNetworks: true }).download(source.url('/x.png'))).toString(), 'hello');
});

t.test('sources that misbehave', async (t) => {
  const source = await startSourceServer(t, {
    '/slow-headers': () => {}, // never answers
    '/slowloris': (_request, response) => {
      response.writeHead(200, { 'content-type': 'image/png' });
      const timer = setInterval(() => response.write('x'), 100); // a byte at a time, never stalling long
      response.on('close', () => clearInterval(timer));
    },
    '/endless': (_request, response) => {
      response.writeHead(200);
      const timer = setInterval(() => response.write(Buffer.alloc(200)), 5);
      response.on('close', () => clearInterval(timer));
    },
    '/short-body': (request, response) => {
      response.writeHead(200, { 'content-length': '500' });
      response.write(Buffer.alloc(100));
      setTimeout(() => request.socket.destroy(), 20); // promised 500, sent 100
    },
    '/long-body': (request, response) => {
      // Claims 10 bytes, sends 900: undici reads what was promised, the rest is not a body.
      request.socket.write('HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n' + 'y'.repeat(900));
      request.socket.end();
    },
    '/reset': (request, response) => {
      response.writeHead(200, { 'content-length': '800' });
      response.write(Buffer.alloc(100));
      setTimeout(() => request.socket.resetAndDestroy(), 20);
    },
  });
  const d = downloader(t, { allowPrivateNetworks: true, timeoutMs: 600, headersTimeoutMs: 400 });
  const started = Date.now();
  await t.rejects(d.download(source.url('/slow-headers')), { code: 'source_timeout', statusCode: 504 });
  await t.rejects(d.download(source.url('/slowloris')), { code: 'source_timeout' }, 'the whole-download deadline catches a trickle');
  await t.rejects(d.download(source.url('/endless')), { code: 'too_large' }, 'an endless body stops at the byte limit');
  await t.rejects(d.download(source.url('/short-body')), { code: 'source_unreachable', statusCode: 502 });
  t.equal((await d.download(source.url('/long-body'))).toString(), 'y'.repeat(10), 'a body longer than its Content-Length is cut to it');
  await t.rejects(d.download(source.url('/reset')), { code: 'source_unreachable' });
  await t.rejects(d.download('http://127.0.0.1:1/x'), { code: 'source_unreachable' }, 'nothing listens');
  t.ok(Date.now() - started < 4000, 'every case ended within its limits');
});

t.test("the caller's abort signal stops the download with the caller's reason", async (t) => {
  const source = await startSourceServer(t, { '/slow': () => {} });
  const controller = new AbortController();
  setTimeout(() => controller.abort(new Error('client left')), 50);
  await t.rejects(downloader(t, { allowPrivateNetworks: true }).download(source.url('/slow'), controller.signal), /client left/);
});

/** A server on a given address that redirects /redirect to `target`; returns its origin. */
async function startSourceServerOn(t: Test, host: string, port: number, target: string): Promise<string> {
  const http = await import('node:http');
  const server = http.createServer((_request, response) => response.writeHead(302, { location: target }).end());
  await new Promise<void>((resolve) => server.listen(port, host, resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return `http://${host}:${port}`;
}
