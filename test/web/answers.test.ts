import t from 'tap';
import { errorBodyMessage, judge, retryAfterSeconds, sentence } from '../../web/src/answers.js';

const NOW = Date.parse('2025-03-01T12:00:00Z');
const error = (code: string, message: string): string => JSON.stringify({ error: { code, message } });

t.test('Retry-After in seconds or as a date', async (t) => {
  t.equal(retryAfterSeconds('3', NOW), 3);
  t.equal(retryAfterSeconds(' 0 ', NOW), 0);
  t.equal(retryAfterSeconds('Sat, 01 Mar 2025 12:00:09 GMT', NOW), 9);
  t.equal(retryAfterSeconds('Sat, 01 Mar 2025 11:00:00 GMT', NOW), 0, 'a date gone by: now');
  t.equal(retryAfterSeconds(null, NOW), null);
  t.equal(retryAfterSeconds('soon', NOW), null);
  t.equal(retryAfterSeconds('-1', NOW), null);
});

t.test("the service's messages become sentences", async (t) => {
  t.equal(sentence('the model found no subject in the image'), 'The model found no subject in the image.');
  t.equal(sentence('Already one.'), 'Already one.');
  t.equal(sentence('  '), '');
  t.same(errorBodyMessage(error('no_foreground', 'x')), { code: 'no_foreground', message: 'x' });
  t.equal(errorBodyMessage('<html>Bad gateway</html>'), null);
  t.equal(errorBodyMessage('{"error": "flat"}'), null);
  t.equal(errorBodyMessage('null'), null);
});

t.test('what each answer means for a card', async (t) => {
  t.same(judge({ status: 200, retryAfter: null, body: '' }, NOW), { kind: 'ok' });
  t.same(judge({ status: 503, retryAfter: '2', body: error('overloaded', 'the service is busy; retry later') }, NOW), {
    kind: 'busy',
    retryAfterSeconds: 2,
    message: 'The service is busy; retry later.',
  });
  t.same(
    judge({ status: 503, retryAfter: null, body: error('not_ready', 'the service is starting') }, NOW),
    { kind: 'failed', message: 'The service is starting.', retry: true },
    'a 503 without Retry-After is not retried by itself, but may be tried again',
  );
  t.same(judge({ status: 401, retryAfter: null, body: error('unauthorized', 'an API key is required') }, NOW), {
    kind: 'unauthorized',
    message: 'An API key is required.',
  });
  t.same(judge({ status: 422, retryAfter: null, body: error('no_foreground', 'the model found no subject in the image') }, NOW), {
    kind: 'failed',
    message: 'The model found no subject in the image.',
    retry: false,
  });
  t.same(judge({ status: 502, retryAfter: null, body: '<html>proxy error</html>' }, NOW), {
    kind: 'failed',
    message: 'The service answered 502 without an explanation.',
    retry: true,
  }, 'a proxy page instead of JSON');
  t.match(judge({ status: 0, retryAfter: null, body: '' }, NOW), { kind: 'failed', message: /Could not reach the service/, retry: true }, 'a network failure');
});

t.test('"Try again" only where the same request could succeed', async (t) => {
  const failure = (status: number, code: string) => judge({ status, retryAfter: null, body: error(code, 'x') }, NOW);
  for (const [status, code] of [[415, 'unsupported_media_type'], [413, 'too_large'], [413, 'too_many_pixels'], [422, 'image_decode_failed'], [422, 'no_foreground'], [400, 'invalid_request'], [403, 'forbidden_address']] as const) {
    t.match(failure(status, code), { kind: 'failed', retry: false }, `${status} ${code}: the same file fails the same way`);
  }
  for (const [status, code] of [[500, 'internal'], [502, 'source_unreachable'], [504, 'source_timeout'], [503, 'not_ready'], [429, 'rate_limited']] as const) {
    t.match(failure(status, code), { kind: 'failed', retry: true }, `${status} ${code}: may pass later`);
  }
});
