import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Fastify from 'fastify';
import t from 'tap';
import errorHandler from '../../src/plugins/error-handler.js';
import pageRoutes, { loadPage, PAGE_CSP, PAGE_DIR } from '../../src/routes/page.js';
import { buildTestApp } from '../helpers/app.js';

const KEY = 'k-0123456789abcdef';

t.test('the page is built (npm run build, or npm test, builds it)', async (t) => {
  const page = loadPage(PAGE_DIR);
  t.ok(page, `${PAGE_DIR} holds the page`);
  t.ok(page?.assets.has('app.js') && page.assets.has('style.css'), 'with its script and styles');
});

t.test('GET / serves the page: strict CSP, never cached stale, assets under their version', async (t) => {
  const app = await buildTestApp(t);
  const response = await app.inject({ method: 'GET', url: '/' });
  t.equal(response.statusCode, 200);
  t.match(response.headers['content-type'], /^text\/html; charset=utf-8/);
  t.equal(response.headers['content-security-policy'], PAGE_CSP);
  t.match(PAGE_CSP, /script-src 'self'(;|$)/, 'scripts from the service only: no inline script, no eval');
  t.match(PAGE_CSP, /connect-src 'self'(;|$)/, 'requests to the service only');
  t.match(PAGE_CSP, /default-src 'none'/);
  t.equal(response.headers['cache-control'], 'no-cache');
  t.equal(response.headers['x-content-type-options'], 'nosniff');
  t.equal(response.headers['referrer-policy'], 'no-referrer');
  const html = response.body;
  t.notMatch(html, '{{assets}}', 'the placeholder is replaced');
  t.notMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/, 'no inline script');
  t.notMatch(html, /\sstyle=|\son[a-z]+=/i, 'no inline styles or handlers');
  t.notMatch(html, /(src|href)="(https?:)?\/\//, 'nothing from elsewhere');

  const etag = response.headers.etag as string;
  t.match(etag, /^"[0-9a-f]{32}"$/);
  const again = await app.inject({ method: 'GET', url: '/', headers: { 'if-none-match': etag } });
  t.equal(again.statusCode, 304, 'revalidation is cheap');
  t.equal(again.body, '');

  const linked = [...html.matchAll(/(?:src|href)="(assets\/[^"]+)"/g)].map((match) => match[1]!);
  t.same(linked.map((link) => path.basename(link)).sort(), ['app.js', 'style.css']);
  for (const link of linked) {
    const asset = await app.inject({ method: 'GET', url: `/${link}` });
    t.equal(asset.statusCode, 200, link);
    t.equal(asset.headers['cache-control'], 'public, max-age=31536000, immutable', `${link} is cached for good`);
    t.match(asset.headers['content-type'], link.endsWith('.js') ? /^text\/javascript/ : /^text\/css/);
  }
});

t.test("every module the page's script imports is served next to it", async (t) => {
  const app = await buildTestApp(t);
  const html = (await app.inject({ method: 'GET', url: '/' })).body;
  const base = /src="(assets\/[0-9a-f]+)\/app\.js"/.exec(html)?.[1];
  t.ok(base);
  const seen = new Set<string>();
  const queue = ['app.js'];
  while (queue.length > 0 && seen.size < 50) {
    const name = queue.shift()!;
    if (seen.has(name)) continue;
    seen.add(name);
    const response = await app.inject({ method: 'GET', url: `/${base}/${name}` });
    t.equal(response.statusCode, 200, `${name} is served`);
    for (const [, specifier] of response.body.matchAll(/^(?:import|export)\b[^;]*?from\s+'([^']+)'/gm)) {
      t.match(specifier, /^\.\/[\w-]+\.js$/, `${name} imports ${specifier}: a sibling module, no bare names for a bundler`);
      queue.push(specifier!.slice(2));
    }
  }
  t.ok(seen.has('queue.js') && seen.has('zip.js') && seen.has('options.js'), [...seen].join(', '));
});

t.test('assets are looked up by name and version, never by path', async (t) => {
  const app = await buildTestApp(t);
  const html = (await app.inject({ method: 'GET', url: '/' })).body;
  const version = /assets\/([0-9a-f]+)\/app\.js/.exec(html)![1]!;
  for (const url of [
    `/assets/0000000000000000/app.js`,
    `/assets/${version}/nothing.js`,
    `/assets/${version}/..%2F..%2Fpackage.json`,
    `/assets/${version}/..%2Findex.html`,
    `/assets/${version}/`,
  ]) {
    const response = await app.inject({ method: 'GET', url });
    t.equal(response.statusCode, 404, url);
    t.equal(response.json().error.code, 'not_found');
  }
});

t.test('with API keys, the page and its files need none; the API still does', async (t) => {
  const app = await buildTestApp(t, { API_KEYS: KEY });
  const page = await app.inject({ method: 'GET', url: '/' });
  t.equal(page.statusCode, 200);
  const script = /src="(assets\/[^"]+)"/.exec(page.body)![1]!;
  t.equal((await app.inject({ method: 'GET', url: `/${script}` })).statusCode, 200);
  t.equal((await app.inject({ method: 'POST', url: '/remove-background', payload: { image_url: 'https://example.com/a.png' } })).statusCode, 401);
  const document = (await app.inject({ method: 'GET', url: '/openapi.json' })).json() as { paths: Record<string, Record<string, { security?: unknown }>> };
  t.same(document.paths['/']?.get?.security, [], 'the document says so');
  t.notOk(Object.keys(document.paths).some((p) => p.startsWith('/assets')), 'and leaves the files out');
});

t.test('a service whose page was not built still serves its API, and says 404 at /', async (t) => {
  const empty = mkdtempSync(path.join(os.tmpdir(), 'page-test-'));
  t.teardown(() => rmSync(empty, { recursive: true, force: true }));
  t.equal(loadPage(empty), null);
  const warnings: string[] = [];
  const app = Fastify({ logger: { level: 'warn', stream: { write: (line: string) => void warnings.push(line) } } });
  t.teardown(() => app.close());
  await app.register(errorHandler);
  await app.register(pageRoutes, { dir: empty });
  const response = await app.inject({ method: 'GET', url: '/' });
  t.equal(response.statusCode, 404);
  t.match(response.json().error.message, /npm run build/);
  t.match(warnings.join(''), /the web page is not built/, 'and the log says why');
});

t.test('loadPage serves only known file types, flat, and versions them by content', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'page-test-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(path.join(dir, 'assets', 'nested'), { recursive: true });
  writeFileSync(path.join(dir, 'index.html'), '<script type="module" src="{{assets}}/app.js"></script>');
  writeFileSync(path.join(dir, 'assets', 'app.js'), 'export {};');
  writeFileSync(path.join(dir, 'assets', 'app.js.map'), '{}');
  writeFileSync(path.join(dir, 'assets', 'secret.env'), 'KEY=1');
  const first = loadPage(dir)!;
  t.same([...first.assets.keys()], ['app.js']);
  t.match(first.index.toString(), new RegExp(`src="assets/${first.version}/app.js"`));
  writeFileSync(path.join(dir, 'assets', 'app.js'), 'export const changed = 1;');
  const second = loadPage(dir)!;
  t.not(second.version, first.version, 'a changed file is a new version');
  t.not(second.indexEtag, first.indexEtag, 'and a new index');
});
