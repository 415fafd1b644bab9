import t from 'tap';
import { loadConfig } from '../../src/config.js';
import { buildTestApp } from '../helpers/app.js';

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
