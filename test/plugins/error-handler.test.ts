// The error handler's answers that no route gives itself: a path asked with a method it does not
// take, and a path nobody serves. (Validation messages: test/validation.test.ts and the routes' tests.)
import t from 'tap';
import { appRoutes, buildTestApp } from '../helpers/app.js';

const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'];

t.test('every path answers a method it does not take with 405 and Allow', async (t) => {
  const app = await buildTestApp(t);
  const byPath = new Map<string, Set<string>>();
  // (The route tree prints /docs's static files as /docs/*: one of them stands in for it.)
  for (const [method, path] of appRoutes(app)) {
    const url = path.endsWith('*') ? '/docs/static/swagger-ui.css' : path.replace(/\{\w+\}/g, '0123');
    byPath.set(url, (byPath.get(url) ?? new Set()).add(method));
  }
  t.ok(byPath.size >= 8, `${byPath.size} paths`);
  for (const [url, methods] of byPath) {
    const other = METHODS.find((method) => !methods.has(method))!;
    const response = await app.inject({ method: other, url });
    t.equal(response.statusCode, 405, `${other} ${url}`);
    t.equal(response.headers.allow, [...methods].sort().join(', '), `${url} allows ${[...methods].join(', ')}`);
    t.equal(response.json().error.code, 'method_not_allowed');
  }
});

t.test('a path nobody serves is still 404, whatever the method; so is a file a route does not have', async (t) => {
  const app = await buildTestApp(t);
  for (const [method, url] of [['GET', '/remove-backgrounds'], ['POST', '/remove-backgrounds'], ['GET', '/docs/static/missing.js']] as const) {
    const response = await app.inject({ method, url });
    t.equal(response.statusCode, 404, `${method} ${url}`);
    t.same(response.json(), { error: { code: 'not_found', message: `no route for ${method} ${url}` } });
    t.equal(response.headers.allow, undefined);
  }
});
