import t from 'tap';
import { keyLabel } from '../../src/plugins/auth.js';
import { buildTestApp } from '../helpers/app.js';
import { blankImage, discImage } from '../helpers/images.js';
import { startSourceServer } from '../helpers/source-server.js';

/** The value of one sample line, e.g. `name{a="b"} 3`. */
function sample(text: string, name: string, labels = ''): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels ? `{${labels}}` : ''} `) || (labels === '' && l.startsWith(`${name} `)));
  return line === undefined ? undefined : Number(line.split(' ').at(-1));
}

t.test('/metrics exposes requests, stage times, the queue, inferences and memory after a few requests', async (t) => {
  const app = await buildTestApp(t);
  const source = await startSourceServer(t, { '/disc.png': await discImage(), '/blank.png': await blankImage() });
  const post = (path: string, options: Record<string, unknown> = {}) =>
    app.inject({ method: 'POST', url: '/remove-background', payload: { image_url: source.url(path), ...options } });
  t.equal((await post('/disc.png')).statusCode, 200);
  t.equal((await post('/disc.png', { accuracy: 'high' })).statusCode, 200);
  t.equal((await post('/blank.png')).statusCode, 422);
  t.equal((await app.inject({ method: 'GET', url: '/nope' })).statusCode, 404);

  const response = await app.inject({ method: 'GET', url: '/metrics' });
  t.equal(response.statusCode, 200);
  t.match(response.headers['content-type'], /^text\/plain; version=0\.0\.4/);
  const text = response.body;
  t.equal(sample(text, 'bg_removal_requests_total', 'route="/remove-background",method="POST",status="200",code=""'), 2);
  t.equal(sample(text, 'bg_removal_requests_total', 'route="/remove-background",method="POST",status="422",code="no_foreground"'), 1);
  t.equal(sample(text, 'bg_removal_requests_total', 'route="unmatched",method="GET",status="404",code="not_found"'), 1);
  // The blank image is refused right after its inference, where its lack of a subject is found.
  for (const stage of ['fetch', 'decode', 'infer', 'mask', 'encode', 'total']) {
    t.equal(sample(text, 'bg_removal_stage_seconds_count', `stage="${stage}"`), stage === 'mask' || stage === 'encode' ? 2 : 3, `${stage} observed`);
  }
  t.equal(
    sample(text, 'bg_removal_inference_seconds_count'),
    4,
    'four inferences: one, two for accuracy "high" (the image and its mirror), one for the blank image (refused after its inference); not the warm-up',
  );
  t.equal(sample(text, 'bg_removal_queue_running'), 0);
  t.equal(sample(text, 'bg_removal_queue_waiting'), 0);
  t.equal(sample(text, 'bg_removal_queue_rejected_total'), 0);
  t.ok(sample(text, 'bg_removal_process_resident_memory_bytes')! > 50e6, 'resident memory');
});

t.test('with API keys, /metrics needs one like every route but /health and /ready', async (t) => {
  const app = await buildTestApp(t, { API_KEYS: 'k-0123456789abcdef' });
  t.equal((await app.inject({ method: 'GET', url: '/metrics' })).statusCode, 401);
  t.equal((await app.inject({ method: 'GET', url: '/metrics', headers: { 'x-api-key': 'k-0123456789abcdef' } })).statusCode, 200);
});

t.test('with API keys, requests, refusals and time in queue per key, by its label', async (t) => {
  const KEY = 'k-0123456789abcdef';
  const app = await buildTestApp(t, { API_KEYS: KEY });
  const source = await startSourceServer(t, { '/disc.png': await discImage(), '/blank.png': await blankImage() });
  const post = (path: string) =>
    app.inject({ method: 'POST', url: '/remove-background', payload: { image_url: source.url(path) }, headers: { 'x-api-key': KEY } });
  t.equal((await post('/disc.png')).statusCode, 200);
  t.equal((await post('/blank.png')).statusCode, 422);
  t.equal((await post('/missing.png')).statusCode, 502);
  const text = (await app.inject({ method: 'GET', url: '/metrics', headers: { 'x-api-key': KEY } })).body;
  const label = keyLabel(KEY);
  t.equal(sample(text, 'bg_removal_key_requests_total', `key="${label}",code=""`), 1);
  t.equal(sample(text, 'bg_removal_key_requests_total', `key="${label}",code="no_foreground"`), 1);
  t.equal(sample(text, 'bg_removal_key_requests_total', `key="${label}",code="source_status"`), 1);
  t.equal(sample(text, 'bg_removal_queue_wait_seconds_count', `key="${label}"`), 2, 'the two requests that reached the queue\'s slots');
  t.notOk(text.includes(KEY.slice(2)), 'the key itself is not there');
});
