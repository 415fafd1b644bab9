import { Validator } from '@seriousme/openapi-schema-validator';
import t from 'tap';
import { errorCatalog } from '../../src/errors.js';
import { RemoveBackgroundBody } from '../../src/routes/remove-background.js';
import { appRoutes, buildTestApp } from '../helpers/app.js';

const KEY = 'k-0123456789abcdef';

/** The value at `path` in parsed JSON, or undefined. */
function at(value: unknown, ...path: string[]): unknown {
  for (const key of path) value = typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[key] : undefined;
  return value;
}
const keys = (value: unknown): string[] => Object.keys((value ?? {}) as object);
const entries = (value: unknown): [string, unknown][] => Object.entries((value ?? {}) as object);

t.test('GET /openapi.json is a valid OpenAPI 3 document listing every route', async (t) => {
  const app = await buildTestApp(t);
  const response = await app.inject({ method: 'GET', url: '/openapi.json' });
  t.equal(response.statusCode, 200);
  t.match(response.headers['content-type'], /^application\/json/);
  const document: unknown = response.json();

  const validator = new Validator();
  const result = await validator.validate(structuredClone(document) as Record<string, unknown>);
  t.ok(result.valid, `valid: ${JSON.stringify(result.errors)}`);
  t.equal(validator.version, '3.1');
  const broken = structuredClone(document) as Record<string, unknown>;
  delete broken.info;
  t.notOk((await new Validator().validate(broken)).valid, 'and the validator does refuse a broken one');

  const routes = appRoutes(app);
  t.ok(routes.length >= 8, `the route tree was read: ${routes.length} routes`);
  // HEAD mirrors GET; the pages' own files (for /docs: its HTML twin with a slash, script, styles,
  // the document again as json and yaml; for the web page at /: its scripts and styles) are not part of the API.
  const api = routes.filter(([method, path]) => method !== 'HEAD' && !path.startsWith('/docs/') && !path.startsWith('/assets/'));
  for (const [method, path] of api) t.ok(at(document, 'paths', path, method.toLowerCase()), `${method} ${path} is documented`);
  t.same(keys(at(document, 'paths')).sort(), [...new Set(api.map(([, path]) => path))].sort(), 'and nothing else is');
});

t.test('the document carries every option, header and error code', async (t) => {
  const app = await buildTestApp(t);
  const document: unknown = (await app.inject({ method: 'GET', url: '/openapi.json' })).json();
  const operation = at(document, 'paths', '/remove-background', 'post');

  const json = at(operation, 'requestBody', 'content', 'application/json', 'schema');
  const form = at(operation, 'requestBody', 'content', 'multipart/form-data', 'schema');
  const options = Object.keys(RemoveBackgroundBody.properties);
  t.same(keys(at(json, 'properties')).sort(), [...options].sort(), 'JSON: every option');
  t.same(keys(at(form, 'properties')).sort(), ['image_file', ...options.filter((name) => name !== 'image_url')].sort(), 'form: the file and every option');
  t.same(at(json, 'required'), ['image_url'], 'fields with defaults are not required in the document');
  t.same(at(form, 'required'), ['image_file']);
  for (const name of options) t.type(at(json, 'properties', name, 'description'), 'string', `${name} is described`);
  t.equal(at(json, 'properties', 'format', 'default'), 'png');
  t.equal(at(json, 'additionalProperties'), false);

  const ok = at(operation, 'responses', '200');
  t.same(keys(at(ok, 'content')).sort(), ['image/jpeg', 'image/png', 'image/webp']);
  for (const header of ['x-width', 'x-height', 'x-foreground-left', 'x-foreground-top', 'x-foreground-width', 'x-foreground-height', 'x-output-width', 'x-output-height', 'server-timing', 'x-request-id']) {
    t.type(at(ok, 'headers', header, 'description'), 'string', `200 has ${header}`);
  }
  t.ok(at(operation, 'responses', '503', 'headers', 'retry-after'), '503 says Retry-After');
  t.ok(at(operation, 'responses', '401', 'headers', 'www-authenticate'), '401 says WWW-Authenticate');
  t.ok((at(operation, 'parameters') as unknown[]).some((parameter) => at(parameter, 'name') === 'X-Request-Id' && at(parameter, 'in') === 'header'));
  t.same(keys(at(document, 'components', 'securitySchemes')).sort(), ['apiKey', 'bearer']);

  // Every code of the catalogue, under its status, somewhere in the document.
  const documented = new Map<string, Set<string>>();
  for (const [path, operations] of entries(at(document, 'paths'))) {
    for (const [, op] of entries(operations)) {
      for (const [status, answer] of entries(at(op, 'responses'))) {
        const codes = (at(answer, 'content', 'application/json', 'schema', 'properties', 'error', 'properties', 'code', 'enum') ?? []) as string[];
        for (const code of codes) {
          documented.set(code, (documented.get(code) ?? new Set()).add(status));
          t.match(at(answer, 'description'), `\`${code}\``, `${path} ${status} explains ${code}`);
        }
      }
    }
  }
  // 405 belongs to no operation (it is the answer for the methods a path does not have): the document's description says it.
  t.match(at(document, 'info', 'description'), /405 `method_not_allowed`.*`Allow`/, 'method_not_allowed is described');
  for (const [code, { status }] of Object.entries(errorCatalog)) {
    if (code !== 'method_not_allowed') t.same([...(documented.get(code) ?? [])], [String(status)], `${code} is documented as ${status}`);
  }
});

t.test('fields with defaults stay required for validation (the fix is in the document only)', async (t) => {
  t.ok(RemoveBackgroundBody.required?.includes('crop'), "ajv fills the default before it checks 'required'");
});

t.test('/docs is a page served by the service itself, with no outside assets', async (t) => {
  const app = await buildTestApp(t);
  const page = await app.inject({ method: 'GET', url: '/docs/' });
  t.equal(page.statusCode, 200);
  t.match(page.headers['content-type'], /^text\/html/);
  t.match(page.headers['content-security-policy'], /default-src 'self'/);
  const sources = [...page.body.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
  t.ok(sources.length > 2, `assets: ${sources.join(', ')}`);
  for (const source of sources) {
    t.notMatch(source, /^(https?:)?\/\//, `${source} is local`);
    const asset = await app.inject({ method: 'GET', url: new URL(source, 'http://localhost/docs/').pathname });
    t.equal(asset.statusCode, 200, `${source} is served`);
  }
  t.equal((await app.inject({ method: 'GET', url: '/docs' })).statusCode, 200, 'without the slash too');
  const json = await app.inject({ method: 'GET', url: '/docs/json' });
  t.same(json.json(), (await app.inject({ method: 'GET', url: '/openapi.json' })).json(), 'the page shows the same document');
});

t.test('with API keys, the document and the page stay open; the document says which routes need a key', async (t) => {
  const app = await buildTestApp(t, { API_KEYS: KEY });
  for (const url of ['/openapi.json', '/docs', '/docs/', '/docs/json', '/docs/static/swagger-ui-bundle.js']) {
    t.equal((await app.inject({ method: 'GET', url })).statusCode, 200, url);
  }
  t.equal((await app.inject({ method: 'POST', url: '/remove-bg' })).statusCode, 401, 'the API itself does not');
  const document: unknown = (await app.inject({ method: 'GET', url: '/openapi.json' })).json();
  t.same(at(document, 'paths', '/remove-background', 'post', 'security'), [{ bearer: [] }, { apiKey: [] }]);
  t.same(at(document, 'paths', '/health', 'get', 'security'), []);
  t.same(at(document, 'paths', '/static/processed_images/{name}', 'get', 'security'), [], 'stored results are open (their names are unguessable)');

  const open = await buildTestApp(t);
  const openDocument: unknown = (await open.inject({ method: 'GET', url: '/openapi.json' })).json();
  t.same(at(openDocument, 'paths', '/remove-background', 'post', 'security'), [{ bearer: [] }, { apiKey: [] }, {}], 'without keys, no key is needed either');
});
