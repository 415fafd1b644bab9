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
