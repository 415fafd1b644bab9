import { MockAgent } from 'undici';
import t, { type Test } from 'tap';
import { Downloader, parseSourceUrl } from '../../src/fetch/download.js';
import { startSourceServer } from '../helpers/source-server.js';

const limits = { maxBytes: 1000, timeoutMs: 2000, maxRedirects: 3 };

function mocked(t: Test) {
  const agent = new MockAgent();
  agent.disableNetConnect();
  t.teardown(() => agent.close());
  return { agent, origin: agent.get('http://images.test'), downloader: new Downloader(limits, agent) };
}

t.test('parseSourceUrl accepts absolute http(s) URLs only, without credentials', async (t) => {
  t.equal(parseSourceUrl('https://example.com/a.png').href, 'https://example.com/a.png');
  for (const bad of ['ftp://example.com/a.png', 'file:///etc/passwd', 'data:image/png;base64,AAAA', 'javascript:alert(1)', '/relative.png', 'https://user:pass@example.com/a.png', 'https://user@example.com/a.png']) {
    t.throws(() => parseSourceUrl(bad), { code: 'unsupported_url' }, bad);
  }
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

t.test('a redirect to another scheme or without a Location is refused', async (t) => {
  const { origin, downloader } = mocked(t);
  origin.intercept({ path: '/ftp' }).reply(302, '', { headers: { location: 'ftp://images.test/x' } });
  origin.intercept({ path: '/nowhere' }).reply(302, '');
  await t.rejects(downloader.download('http://images.test/ftp'), { code: 'unsupported_url' });
  await t.rejects(downloader.download('http://images.test/nowhere'), { code: 'source_status' });
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

t.test('real sockets: slow sources time out, closed ports are unreachable', async (t) => {
  const server = await startSourceServer(t, {
    '/slow-headers': () => {}, // never answers
    '/endless': (_request, response) => {
      response.writeHead(200);
      const timer = setInterval(() => response.write(Buffer.alloc(10)), 20);
      response.on('close', () => clearInterval(timer));
    },
  });
  const downloader = new Downloader({ maxBytes: 1_000_000, timeoutMs: 300, maxRedirects: 3 });
  t.teardown(() => downloader.close());
  const started = Date.now();
  await t.rejects(downloader.download(server.url('/slow-headers')), { code: 'source_timeout', statusCode: 504 });
  await t.rejects(downloader.download(server.url('/endless')), { code: 'source_timeout' });
  t.ok(Date.now() - started < 2000, 'each gave up at the deadline');
  await t.rejects(downloader.download('http://127.0.0.1:1/x'), { code: 'source_unreachable', statusCode: 502 });
});

t.test('an abort signal from the caller stops the download', async (t) => {
  const server = await startSourceServer(t, { '/slow': () => {} });
  const downloader = new Downloader(limits);
  t.teardown(() => downloader.close());
  const controller = new AbortController();
  setTimeout(() => controller.abort(), 50);
  await t.rejects(downloader.download(server.url('/slow'), controller.signal));
});
