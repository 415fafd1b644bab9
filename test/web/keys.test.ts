import t from 'tap';
import { KeyGate, memoryStore } from '../../web/src/keys.js';

/** A promise and the function that resolves it. */
function deferred<T>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

t.test('requests that meet a 401 together share one question', async (t) => {
  const store = memoryStore();
  const answer = deferred<string | null>();
  let questions = 0;
  const keys = new KeyGate(store, () => {
    questions++;
    return answer.promise;
  });
  const first = keys.next(null, 'An API key is required.');
  const second = keys.next(null, 'An API key is required.');
  answer.resolve('shared');
  t.same(await Promise.all([first, second]), ['shared', 'shared']);
  t.equal(questions, 1);
  t.equal(await keys.next(null, 'late'), 'shared', 'a request sent before the key arrived gets it without asking');
  t.equal(questions, 1);
  const again = keys.next('shared', 'The API key is not valid.');
  t.equal(questions, 2, 'the kept key refused: ask again');
  answer.resolve(null);
  await again;
});

t.test('forget clears the kept key', async (t) => {
  const store = memoryStore('k');
  const keys = new KeyGate(store, async () => null);
  keys.forget();
  t.equal(keys.current(), null);
});

t.test('a blank answer counts as declining, and stores nothing', async (t) => {
  const store = memoryStore();
  const keys = new KeyGate(store, async () => '   ');
  t.equal(await keys.next(null, 'An API key is required.'), null);
  t.equal(store.get(), null);
});
