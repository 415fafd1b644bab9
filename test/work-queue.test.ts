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
