// /docs (Swagger UI) and the web page in a real browser, opened as a user elsewhere on the network
// would: under a host name that is not localhost, over plain HTTP. Browsers treat localhost as a
// secure context and are lenient with it; anywhere else a Content-Security-Policy that upgrades
// requests to https leaves the page blank. The server still listens on 127.0.0.1 only: the browser
// is told that the name means that address.
import type { AddressInfo } from 'node:net';
import t from 'tap';
import { buildTestApp } from '../helpers/app.js';
import { openBrowser, skipWithoutBrowser } from '../helpers/browser.js';

t.setTimeout(120_000);

const HOST = 'bg-removal.example';

t.test('/docs over plain HTTP under a host name: the operations are listed, nothing is blocked', { skip: skipWithoutBrowser }, async (t) => {
  const app = await buildTestApp(t);
  await app.listen({ host: '127.0.0.1', port: 0 });
  const origin = `http://${HOST}:${(app.server.address() as AddressInfo).port}`;
  const context = await openBrowser(t, { [HOST]: '127.0.0.1' });
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error' || message.type() === 'warning') problems.push(message.text());
  });
  page.on('pageerror', (error) => problems.push(error.message));
  const elsewhere: string[] = [];
  page.on('request', (request) => {
    if (!request.url().startsWith(`${origin}/`) && !request.url().startsWith('data:')) elsewhere.push(request.url());
  });

  const response = await page.goto(`${origin}/docs`);
  t.equal(response?.status(), 200);
  await page.waitForSelector('.opblock-summary-path', { timeout: 30_000 });
  const paths = await page.locator('.opblock-summary-path').allTextContents();
  for (const path of ['/remove-background', '/remove-bg', '/health', '/ready']) t.ok(paths.some((shown) => shown.includes(path)), `${path} is listed`);
  const csp = response?.headers()['content-security-policy'] ?? '';
  t.notMatch(csp, /upgrade-insecure-requests/, 'the policy sends no request to https');
  t.same(problems, [], 'no errors or warnings in the console (CSP violations included)');
  t.same(elsewhere, [], 'no request leaves the service');

  // The web page, the same way.
  problems.length = 0;
  const front = await page.goto(`${origin}/`);
  t.equal(front?.status(), 200);
  await page.waitForSelector('#batch-options .options');
  t.notMatch(front?.headers()['content-security-policy'] ?? '', /upgrade-insecure-requests/);
  t.same(problems, [], 'the web page too');
});
