import t from 'tap';
import { loadConfig } from '../../src/config.js';
import { keyLabel } from '../../src/plugins/auth.js';
import { buildTestApp } from '../helpers/app.js';
import { startServerProcess, waitForOk } from '../helpers/server-process.js';
import { startSourceServer } from '../helpers/source-server.js';

const KEY = 'k-0123456789abcdef';
const OTHER = 'k-fedcba9876543210';

t.test('without API_KEYS the API is open', async (t) => {
  const app = await buildTestApp(t);
  const response = await app.inject({ method: 'POST', url: '/remove-background', payload: {} });
  t.equal(response.json().error.code, 'invalid_request', 'reaches validation');
});

t.test('with API_KEYS, requests need a valid key', async (t) => {
  const app = await buildTestApp(t, { API_KEYS: `${KEY}, ${OTHER}` });
  const post = (headers: Record<string, string>) => app.inject({ method: 'POST', url: '/remove-background', payload: {}, headers });

  const missing = await post({});
  t.equal(missing.statusCode, 401);
  t.equal(missing.json().error.code, 'unauthorized');
  t.equal(missing.headers['www-authenticate'], 'Bearer realm="bg-removal-service"');

  for (const headers of <Record<string, string>[]>[{ authorization: 'Bearer nope-nope-nope-nope' }, { 'x-api-key': KEY.slice(0, -1) }, { authorization: KEY }, { authorization: `Basic ${KEY}` }]) {
    const response = await post(headers);
    t.equal(response.statusCode, 401, JSON.stringify(headers));
    t.match(response.json().error.message, /not valid|required/);
  }
  for (const headers of <Record<string, string>[]>[{ authorization: `Bearer ${KEY}` }, { authorization: `bearer ${OTHER}` }, { 'x-api-key': KEY }]) {
    const response = await post(headers);
    t.equal(response.json().error.code, 'invalid_request', `${JSON.stringify(headers)} passes`);
  }
});

t.test('with API_KEYS, /health and /ready stay open', async (t) => {
  const app = await buildTestApp(t, { API_KEYS: KEY });
  t.equal((await app.inject({ method: 'GET', url: '/health' })).statusCode, 200);
  t.equal((await app.inject({ method: 'GET', url: '/ready' })).statusCode, 200);
  t.equal((await app.inject({ method: 'GET', url: '/nope' })).statusCode, 401, 'unknown routes say nothing without a key');
});

t.test('short keys are refused at start-up', async (t) => {
  t.throws(() => loadConfig({ API_KEYS: 'short' }), { name: 'ConfigError', message: /16 characters/ });
});

t.test('a key is named by its label, never by itself: not in the log, not in /metrics', async (t) => {
  t.match(keyLabel(KEY), /^key-[0-9a-f]{12}$/);
  t.not(keyLabel(KEY), keyLabel(OTHER));
  // The production process, logging everything it can: its stdout is the log.
  const server = await startServerProcess(t, { API_KEYS: `${KEY},${OTHER}`, KEY_RATE_LIMIT: '2', LOG_LEVEL: 'trace' });
  await waitForOk(`${server.origin}/ready`, 60_000);
  const source = await startSourceServer(t, {});
  const post = (headers: Record<string, string>) =>
    fetch(`${server.origin}/remove-background`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify({ image_url: source.url('/gone.png') }),
    });
  const statuses = [
    (await post({ authorization: `Bearer ${KEY}` })).status, // the source answers 404: 502
    (await post({ 'x-api-key': KEY })).status,
    (await post({ 'x-api-key': KEY })).status, // over KEY_RATE_LIMIT: 429
    (await post({ authorization: `Bearer ${OTHER}` })).status,
    (await post({ 'x-api-key': `${KEY.slice(0, -1)}x` })).status, // almost the key: 401
    (await post({ authorization: `Bearer ${OTHER}${OTHER}` })).status,
  ];
  t.same(statuses, [502, 502, 429, 502, 401, 401]);
  const metrics = await (await fetch(`${server.origin}/metrics`, { headers: { 'x-api-key': OTHER } })).text();
  t.match(metrics, `bg_removal_key_requests_total{key="${keyLabel(KEY)}",code="rate_limited"} 1`, 'refusals per key, by label');
  await new Promise((resolve) => setTimeout(resolve, 200)); // the last lines
  const log = JSON.stringify(server.logs);
  t.ok(server.logs.length >= 8, `${server.logs.length} log lines`);
  for (const key of [KEY, OTHER]) {
    // Any 8 characters of a key in a row would be too many.
    const pieces = Array.from({ length: key.length - 7 }, (_, i) => key.slice(i, i + 8));
    t.same(pieces.filter((piece) => log.includes(piece) || metrics.includes(piece)), [], 'no piece of the key in the log or /metrics');
  }
  const keyed = server.logs.filter((line) => line.msg === 'request' && line.key !== undefined);
  t.same(keyed.map((line) => line.key).slice(0, 4), [keyLabel(KEY), keyLabel(KEY), keyLabel(KEY), keyLabel(OTHER)], 'request lines name the key by its label');
});
