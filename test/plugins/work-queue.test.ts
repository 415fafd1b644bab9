// The queue as the API uses it, per API key: fair shares of the places, the rate limit and its
// headers. (src/work-queue.ts's own accounting is tested in test/work-queue.test.ts.)
import t from 'tap';
import { keyLabel } from '../../src/plugins/auth.js';
import { buildTestApp } from '../helpers/app.js';
import { discImage } from '../helpers/images.js';
import { startSourceServer } from '../helpers/source-server.js';

// Thirteen inferences in the first test, on a machine that may be busy with other work.
t.setTimeout(300_000);

const BURSTER = 'k-burst-0123456789abcdef';
const OTHER = 'k-other-0123456789abcdef';

t.test('one key sending 40 requests at once gets its share; the other key\'s requests during the burst are all served', async (t) => {
  // The defaults: 1 slot + 16 queue places, half of them (8) per key. The deadline is long, so a
  // busy test machine cannot turn a slow answer into a 503: what is tested is who gets a place.
  const app = await buildTestApp(t, { API_KEYS: `${BURSTER},${OTHER}`, REQUEST_DEADLINE_MS: '240000' });
  const source = await startSourceServer(t, { '/disc.png': await discImage(320, 240) });
  const post = (key: string) =>
    app.inject({ method: 'POST', url: '/remove-background', payload: { image_url: source.url('/disc.png') }, headers: { 'x-api-key': key } });

  const burst = Array.from({ length: 40 }, () => post(BURSTER));
  const label = keyLabel(BURSTER);
  while (app.queue.admittedFor(label) === 0) await new Promise((resolve) => setImmediate(resolve));
  // Five requests from the other key, spread over the burst while the first key's are in the queue.
  const others = [];
  for (let i = 0; i < 5; i++) {
    t.ok(app.queue.admittedFor(label) > 0, `the burst is still running when the other key's request ${i + 1} is sent`);
    others.push(post(OTHER));
    await new Promise((resolve) => setTimeout(resolve, 150));
  }
  const [burstAnswers, otherAnswers] = await Promise.all([Promise.all(burst), Promise.all(others)]);

  t.same(otherAnswers.map((answer) => answer.statusCode), [200, 200, 200, 200, 200], 'every request of the other key is served');
  t.same(otherAnswers.filter((answer) => answer.statusCode !== 200).map((answer) => answer.json()), [], 'no refusal');
  const served = burstAnswers.filter((answer) => answer.statusCode === 200).length;
  const refused = burstAnswers.filter((answer) => answer.statusCode === 429);
  t.equal(served + refused.length, 40, 'the burst gets 200 or 429, never 503');
  t.equal(served, 8, 'the bursting key held its share: 8 of the 17 places');
  for (const answer of refused) {
    t.equal(answer.json().error.code, 'rate_limited');
    t.match(answer.headers['retry-after'], /^[1-9]\d*$/);
  }
  t.equal(app.queue.stats.rejected, 0, 'nobody was refused as overloaded');
});

t.test('with one key, the share does not apply; without keys, nothing is counted per key', async (t) => {
  const app = await buildTestApp(t, { API_KEYS: BURSTER, QUEUE_LIMIT: '3' });
  t.equal(app.queue.clientPlaces, Infinity, 'one key alone has nobody to share with');
  const open = await buildTestApp(t, { QUEUE_LIMIT: '3' });
  t.equal(open.queue.clientPlaces, Infinity);
  t.equal(open.queue.rateLimit('anything'), undefined, 'KEY_RATE_LIMIT is off by default');
});

t.test('KEY_RATE_LIMIT: every keyed answer carries RateLimit-*; past the limit, 429 rate_limited with Retry-After', async (t) => {
  const app = await buildTestApp(t, { API_KEYS: `${BURSTER},${OTHER}`, KEY_RATE_LIMIT: '3' });
  const source = await startSourceServer(t, {});
  const post = (key: string) =>
    app.inject({ method: 'POST', url: '/remove-background', payload: { image_url: source.url('/gone.png') }, headers: { authorization: `Bearer ${key}` } });
  for (const remaining of [2, 1, 0]) {
    const answer = await post(BURSTER);
    t.equal(answer.json().error.code, 'source_status', 'admitted, then its source answered 404');
    t.same([answer.headers['ratelimit-limit'], answer.headers['ratelimit-remaining']], ['3', String(remaining)]);
    t.equal(answer.headers['ratelimit-reset'], '60');
  }
  const limited = await post(BURSTER);
  t.equal(limited.statusCode, 429);
  t.equal(limited.json().error.code, 'rate_limited');
  t.match(limited.json().error.message, /3 requests in the last minute/);
  t.equal(limited.headers['retry-after'], '60');
  t.same([limited.headers['ratelimit-remaining'], limited.headers['ratelimit-reset']], ['0', '60']);

  t.equal((await post(OTHER)).headers['ratelimit-remaining'], '2', 'the other key has its own window');
  const metrics = await app.inject({ method: 'GET', url: '/metrics', headers: { 'x-api-key': BURSTER } });
  t.equal(metrics.statusCode, 200, 'a keyed answer outside the queue');
  t.equal(metrics.headers['ratelimit-remaining'], '0', 'carries the state without counting against it');
  t.notOk((await app.inject({ method: 'GET', url: '/metrics' })).headers['ratelimit-limit'], 'a refused, keyless request has none');
  t.notOk((await app.inject({ method: 'GET', url: '/health', headers: { 'x-api-key': BURSTER } })).headers['ratelimit-limit'], 'nor an open route');
});
