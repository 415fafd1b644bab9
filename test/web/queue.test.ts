import t from 'tap';
import { KeyGate, memoryStore } from '../../web/src/keys.js';
import { JobQueue, settle, type Sent, type SettleContext } from '../../web/src/queue.js';

/** A promise and the functions that settle it. */
function deferred<T>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

t.test('JobQueue runs at most `limit` jobs at once, in order', async (t) => {
  const queue = new JobQueue(2);
  const gates = [0, 1, 2, 3, 4].map(() => deferred<void>());
  const started: number[] = [];
  let running = 0;
  let most = 0;
  const runs = gates.map((gate, index) =>
    queue.run(async () => {
      started.push(index);
      most = Math.max(most, ++running);
      await gate.promise;
      running--;
      return index;
    }),
  );
  await tick();
  t.same(started, [0, 1], 'two start at once');
  t.equal(queue.waiting, 3);
  gates[1]!.resolve();
  await tick();
  t.same(started, [0, 1, 2], 'a free place goes to the next in line');
  for (const gate of gates) gate.resolve();
  t.same(await Promise.all(runs), [0, 1, 2, 3, 4]);
  t.equal(most, 2, 'never more than two');
  t.equal(queue.running, 0);
});

t.test('a failing job frees its place', async (t) => {
  const queue = new JobQueue(1);
  await t.rejects(queue.run(async () => Promise.reject(new Error('boom'))), /boom/);
  t.equal(await queue.run(async () => 'next'), 'next');
});

t.test('a job whose signal fires while it waits never starts; its place in line goes', async (t) => {
  const queue = new JobQueue(1);
  const gate = deferred<void>();
  const first = queue.run(() => gate.promise);
  const controller = new AbortController();
  let ran = false;
  const second = queue.run(async () => {
    ran = true;
  }, controller.signal);
  const third = queue.run(async () => 'third');
  controller.abort(new Error('removed'));
  await t.rejects(second, /removed/);
  t.equal(queue.waiting, 1);
  gate.resolve();
  await first;
  t.equal(await third, 'third');
  t.notOk(ran);
  await t.rejects(queue.run(async () => 1, AbortSignal.abort(new Error('already'))), /already/, 'an aborted signal does not even queue');
  t.throws(() => new JobQueue(0), RangeError);
});

/** A context whose sleeps are recorded and return at once. */
function context(keys = new KeyGate(memoryStore(), async () => null)): SettleContext & { slept: number[]; busy: number[] } {
  const slept: number[] = [];
  const busy: number[] = [];
  return {
    keys,
    slept,
    busy,
    signal: new AbortController().signal,
    sleep: async (ms) => {
      slept.push(ms);
    },
    onBusy: (seconds) => busy.push(seconds),
  };
}

/** A sender that answers from a script, recording the keys it was given. */
function script<T>(answers: Sent<T>[]): { send: (key: string | null) => Promise<Sent<T>>; keys: (string | null)[] } {
  const keys: (string | null)[] = [];
  return {
    keys,
    send: async (key) => {
      keys.push(key);
      const answer = answers.shift();
      if (!answer) throw new Error('asked more often than scripted');
      return answer;
    },
  };
}

t.test('settle waits out a busy service for as long as Retry-After says, then succeeds', async (t) => {
  const ctx = context();
  const sender = script<string>([
    { kind: 'busy', retryAfterSeconds: 3, message: 'The service is busy.' },
    { kind: 'busy', retryAfterSeconds: 1, message: 'The service is busy.' },
    { kind: 'ok', value: 'cutout' },
  ]);
  t.same(await settle(sender.send, ctx), { ok: true, value: 'cutout' });
  t.same(ctx.slept, [3000, 1000]);
  t.same(ctx.busy, [3, 1], 'and says so before each wait');
});

t.test('settle gives up on a service busy for too long, or too often', async (t) => {
  const busy: Sent<string> = { kind: 'busy', retryAfterSeconds: 1, message: 'The service is busy.' };
  const rules = { maxBusyRetries: 2, maxWaitSeconds: 60, maxKeyTries: 3 };
  const ctx = context();
  const result = await settle(script([busy, busy, busy]).send, ctx, rules);
  t.same(result, { ok: false, message: 'The service is busy. (still busy after 2 retries)', retry: true });
  t.same(ctx.slept, [1000, 1000]);
  const long = await settle(script<string>([{ ...busy, retryAfterSeconds: 61 }]).send, context(), rules);
  t.same(long, { ok: false, message: 'The service is busy.', retry: true }, 'a wait longer than the rules allow is not taken');
});

t.test('any other failure ends at once with its message', async (t) => {
  const ctx = context();
  t.same(await settle(script<string>([{ kind: 'failed', message: 'No subject.', retry: false }]).send, ctx), { ok: false, message: 'No subject.', retry: false });
  t.same(ctx.slept, []);
});

t.test('a 401 asks for a key, keeps it, and sends again with it', async (t) => {
  const store = memoryStore();
  const asked: string[] = [];
  const keys = new KeyGate(store, async (reason) => {
    asked.push(reason);
    return '  the-key  ';
  });
  const sender = script<string>([{ kind: 'unauthorized', message: 'An API key is required.' }, { kind: 'ok', value: 'cutout' }]);
  let told = 0;
  t.same(await settle(sender.send, { ...context(keys), onKeyNeeded: () => told++ }), { ok: true, value: 'cutout' });
  t.same(sender.keys, [null, 'the-key'], 'first without a key, then with the one given (trimmed)');
  t.equal(told, 1, 'the card was told it waits for a key');
  t.same(asked, ['An API key is required.']);
  t.equal(store.get(), 'the-key', 'kept');
});

t.test('a person who declines the key ends the request with the 401 message', async (t) => {
  const store = memoryStore('wrong-key');
  const keys = new KeyGate(store, async () => null);
  const sender = script<string>([{ kind: 'unauthorized', message: 'The API key is not valid.' }]);
  t.same(await settle(sender.send, context(keys)), { ok: false, message: 'The API key is not valid.', retry: true });
  t.same(sender.keys, ['wrong-key']);
});

t.test('settle stops after too many refused keys', async (t) => {
  let n = 0;
  const keys = new KeyGate(memoryStore(), async () => `key-${++n}`);
  const refused: Sent<string> = { kind: 'unauthorized', message: 'The API key is not valid.' };
  const sender = script([refused, refused, refused]);
  t.same(await settle(sender.send, context(keys), { maxBusyRetries: 5, maxWaitSeconds: 60, maxKeyTries: 2 }), { ok: false, message: 'The API key is not valid.', retry: true });
  t.same(sender.keys, [null, 'key-1', 'key-2']);
});

t.test('settle stops when its signal fires (a card removed or redone)', async (t) => {
  const controller = new AbortController();
  const ctx = { ...context(), signal: controller.signal };
  const sender = script<string>([{ kind: 'busy', retryAfterSeconds: 1, message: 'busy' }]);
  ctx.sleep = async () => {
    controller.abort(new Error('removed'));
  };
  await t.rejects(settle(sender.send, ctx), /removed/);
  t.equal(sender.keys.length, 1, 'nothing sent after that');
});
