import t from 'tap';
import { ServiceError } from '../src/errors.js';
import { WorkQueue } from '../src/work-queue.js';

/** A job that runs until `finish()` is called. */
function pending() {
  let finish!: () => void;
  const done = new Promise<void>((resolve) => (finish = resolve));
  return { job: () => done, finish };
}

t.test('admits up to concurrency + queue limit, then refuses with overloaded and a Retry-After', async (t) => {
  const queue = new WorkQueue(1, 2);
  const tickets = [queue.admit(), queue.admit(), queue.admit()];
  t.throws(() => queue.admit(), { code: 'overloaded', statusCode: 503 });
  try {
    queue.admit();
  } catch (error) {
    t.match((error as ServiceError).headers['retry-after'], /^\d+$/);
  }
  t.equal(queue.stats.rejected, 2);
  tickets[0]!.release();
  t.ok(queue.admit(), 'a released place can be taken again');
});

t.test('runs jobs one at a time, in order', async (t) => {
  const queue = new WorkQueue(1, 5);
  const order: string[] = [];
  const first = pending();
  const a = queue.admit().run(async () => {
    order.push('a start');
    await first.job();
    order.push('a end');
  });
  const b = queue.admit().run(async () => order.push('b'));
  const c = queue.admit().run(async () => order.push('c'));
  await new Promise((resolve) => setImmediate(resolve));
  t.same(queue.stats, { admitted: 3, running: 1, queued: 2, rejected: 0, completed: 0 });
  first.finish();
  await Promise.all([a, b, c]);
  t.same(order, ['a start', 'a end', 'b', 'c']);
  t.equal(queue.stats.completed, 3);
});

t.test('a waiter whose signal aborts leaves the line and never runs', async (t) => {
  const queue = new WorkQueue(1, 5);
  const first = pending();
  const running = queue.admit().run(first.job);
  const controller = new AbortController();
  let ran = false;
  const ticket = queue.admit();
  const waiting = ticket.run(async () => {
    ran = true;
  }, controller.signal);
  await new Promise((resolve) => setImmediate(resolve));
  t.equal(queue.stats.queued, 1);
  controller.abort(new Error('client left'));
  await t.rejects(waiting, /client left/);
  t.equal(queue.stats.queued, 0);
  ticket.release();
  first.finish();
  await running;
  t.notOk(ran, 'the aborted job never ran');
  t.equal(queue.stats.running, 0);
});

t.test('an already-aborted signal does not even queue', async (t) => {
  const queue = new WorkQueue(1, 1);
  await t.rejects(queue.admit().run(async () => 1, AbortSignal.abort(new Error('gone'))), /gone/);
  t.equal(queue.stats.running, 0);
});

t.test('a failing job frees its slot', async (t) => {
  const queue = new WorkQueue(1, 1);
  await t.rejects(queue.admit().run(() => Promise.reject(new Error('boom'))), /boom/);
  t.equal(await queue.admit().run(async () => 'next'), 'next');
});

t.test('release is idempotent', async (t) => {
  const queue = new WorkQueue(1, 0);
  const ticket = queue.admit();
  ticket.release();
  ticket.release();
  t.equal(queue.stats.admitted, 0);
});

t.test('drain refuses new work; idle resolves once every ticket is released', async (t) => {
  const queue = new WorkQueue(2, 2);
  const ticket = queue.admit();
  queue.drain();
  t.ok(queue.isDraining);
  t.throws(() => queue.admit(), { code: 'not_ready' });
  let idle = false;
  const waiting = queue.idle().then(() => (idle = true));
  await new Promise((resolve) => setImmediate(resolve));
  t.notOk(idle);
  ticket.release();
  await waiting;
  t.ok(idle);
  await queue.idle();
});

t.test('a job may take several slots: it waits for them all, and nothing overtakes it', async (t) => {
  const queue = new WorkQueue(2, 5);
  const order: string[] = [];
  const a = pending();
  const b = pending();
  const first = queue.admit().run(async () => {
    order.push('small 1');
    await a.job();
  });
  const large = queue.admit().run(async () => {
    order.push('large');
    await b.job();
  }, undefined, 2);
  const small = queue.admit().run(async () => order.push('small 2'));
  await new Promise((resolve) => setImmediate(resolve));
  t.same(order, ['small 1'], 'the large job waits for both slots, and the small one behind it waits too');
  t.equal(queue.stats.running, 1);
  a.finish();
  await first;
  await new Promise((resolve) => setImmediate(resolve));
  t.same(order, ['small 1', 'large'], 'the large job runs alone');
  b.finish();
  await Promise.all([large, small]);
  t.same(order, ['small 1', 'large', 'small 2']);
  t.equal(await queue.admit().run(async () => 'more slots than exist are capped', undefined, 9), 'more slots than exist are capped');
});

t.test('when a waiter at the head of the line leaves, those behind it that fit start', async (t) => {
  const queue = new WorkQueue(2, 5);
  const a = pending();
  const running = queue.admit().run(a.job);
  const controller = new AbortController();
  const large = queue.admit().run(async () => 'large', controller.signal, 2);
  let smallRan = false;
  const small = queue.admit().run(async () => {
    smallRan = true;
  });
  await new Promise((resolve) => setImmediate(resolve));
  t.notOk(smallRan, 'blocked behind the large job');
  controller.abort(new Error('left'));
  await t.rejects(large, /left/);
  await small;
  t.ok(smallRan, 'started as soon as the large job left');
  a.finish();
  await running;
});

t.test('a client holds at most its share of the places; others keep theirs; no client means no share', async (t) => {
  const queue = new WorkQueue(1, 9, { clientShare: 0.5 }); // 10 places, 5 per client
  t.equal(queue.clientPlaces, 5);
  const burst = Array.from({ length: 5 }, () => queue.admit('a'));
  t.throws(() => queue.admit('a'), { code: 'rate_limited', statusCode: 429 }, 'over its share');
  try {
    queue.admit('a');
  } catch (error) {
    t.match((error as ServiceError).headers['retry-after'], /^[1-9]\d*$/);
    t.match((error as ServiceError).message, /5 requests in progress, its share/);
  }
  t.equal(queue.stats.rejected, 0, 'a share refusal is not an overload');
  const others = Array.from({ length: 5 }, () => queue.admit('b'));
  t.equal(queue.admittedFor('a'), 5);
  t.equal(queue.admittedFor('b'), 5);
  t.throws(() => queue.admit(), { code: 'overloaded' }, 'the queue itself is full now');
  burst[0]!.release();
  burst[0]!.release(); // twice: counted once
  t.equal(queue.admittedFor('a'), 4);
  t.ok(queue.admit('a'), 'a released place is the client\'s again');
  for (const ticket of [...burst, ...others]) ticket.release();

  const open = new WorkQueue(1, 9);
  t.equal(open.clientPlaces, Infinity);
  for (let i = 0; i < 10; i++) open.admit('a');
  t.throws(() => open.admit('a'), { code: 'overloaded' }, 'without a share, only the queue limits');
  const tiny = new WorkQueue(1, 0, { clientShare: 0.1 });
  t.equal(tiny.clientPlaces, 1, 'every client gets one place at least');
});

t.test('a client may make at most the rate limit of admissions in any 60 s, a sliding window', async (t) => {
  let now = 1_000_000;
  const queue = new WorkQueue(4, 100, { clientRatePerMinute: 3, now: () => now });
  t.same(queue.rateLimit('a'), { limit: 3, remaining: 3, resetSeconds: 0 });
  queue.admit('a').release();
  now += 20_000;
  queue.admit('a').release();
  queue.admit('a').release();
  t.same(queue.rateLimit('a'), { limit: 3, remaining: 0, resetSeconds: 40 }, 'the first leaves the window 40 s from now');
  t.throws(() => queue.admit('a'), { code: 'rate_limited', statusCode: 429, headers: { 'retry-after': '40' } });
  t.same(queue.rateLimit('b'), { limit: 3, remaining: 3, resetSeconds: 0 }, 'another client has its own window');
  t.ok(queue.admit('b'));
  now += 39_999;
  t.throws(() => queue.admit('a'), { code: 'rate_limited' }, 'not a fixed window: still 3 in the last 60 s');
  now += 1;
  t.ok(queue.admit('a'), 'the oldest has left the window');
  t.same(queue.rateLimit('a'), { limit: 3, remaining: 0, resetSeconds: 20 }, 'the next two leave it together, 20 s from now');
  now += 20_000;
  t.same(queue.rateLimit('a'), { limit: 3, remaining: 2, resetSeconds: 40 }, 'they have; the newest leaves in 40 s');
  t.ok(queue.admit(), 'no client, no rate limit');
  t.equal(new WorkQueue(1, 1).rateLimit('a'), undefined, 'no limit set');
});

t.test('every job reports how long it waited for its slot, with its client', async (t) => {
  const queue = new WorkQueue(1, 5);
  const waits: [string | undefined, number][] = [];
  queue.onWaited = (client, ms) => waits.push([client, ms]);
  const first = pending();
  const a = queue.admit('a').run(first.job);
  const b = queue.admit('b').run(async () => {});
  await new Promise((resolve) => setTimeout(resolve, 30));
  first.finish();
  await Promise.all([a, b]);
  t.equal(waits.length, 2);
  t.equal(waits[0]![0], 'a');
  t.ok(waits[0]![1] < 20, 'the first started at once');
  t.equal(waits[1]![0], 'b');
  t.ok(waits[1]![1] >= 25, `the second waited for the first (${waits[1]![1].toFixed(1)} ms)`);
});
