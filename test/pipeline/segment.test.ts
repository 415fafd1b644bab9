import t from 'tap';
import { loadConfig } from '../../src/config.js';
import { MODEL_SIZE } from '../../src/pipeline/preprocess.js';
import { ModelLoadError, Segmenter, sessionOptions, type Runner } from '../../src/pipeline/segment.js';

const config = loadConfig({});
const load = (worker: boolean, threads = config.INFERENCE_THREADS): Promise<Segmenter> => Segmenter.load({ modelPath: config.MODEL_PATH, threads, worker });
/** A fixed input with some structure, so the map is not flat. */
const input = new Float32Array(3 * MODEL_SIZE * MODEL_SIZE).map((_, i) => Math.sin(i / 997) * 2);

t.test('predicts a 320x320 map in 0..1 from a real session', async (t) => {
  const segmenter = await load(false);
  t.teardown(() => segmenter.release());
  const map = await segmenter.predict(new Float32Array(3 * MODEL_SIZE * MODEL_SIZE).fill(0.5));
  t.equal(map.length, MODEL_SIZE * MODEL_SIZE);
  t.ok(map.every((v) => v >= 0 && v <= 1));
});

t.test('on a worker thread: the same map, and the event loop turns while the model runs', async (t) => {
  const here = await load(false);
  t.teardown(() => here.release());
  const there = await load(true);
  t.teardown(() => there.release());
  const expected = await here.predict(input);
  const copy = input.slice();
  let turns = 0;
  const timer = setInterval(() => turns++, 1);
  const map = await there.predict(input);
  clearInterval(timer);
  t.ok(turns > 0, `the event loop turned ${turns} times during one inference`);
  t.equal(map.length, expected.length);
  let worst = 0;
  for (let i = 0; i < map.length; i++) worst = Math.max(worst, Math.abs(map[i]! - expected[i]!));
  t.ok(worst <= 1e-6, `largest difference ${worst}`);
  t.same(input, copy, 'the input is left to the caller as it was (accuracy "high" reads it again)');

  // On this thread the run holds the event loop: no timer fires until it is done.
  turns = 0;
  const held = setInterval(() => turns++, 1);
  await here.predict(input);
  clearInterval(held);
  t.equal(turns, 0, 'without the worker, the inference holds the event loop');
});

t.test('a worker that dies fails its inference; the next one gets a new worker', async (t) => {
  const segmenter = await load(true, 1);
  t.teardown(() => segmenter.release());
  const runner = (segmenter as unknown as { runner: { worker: Promise<import('node:worker_threads').Worker> } }).runner;
  const worker = await runner.worker;
  const dying = segmenter.predict(input);
  await worker.terminate();
  await t.rejects(dying, /inference worker exited/);
  const map = await segmenter.predict(input);
  t.equal(map.length, MODEL_SIZE * MODEL_SIZE);
  t.not(await runner.worker, worker, 'a new worker');
});

t.test('inferences take turns, in the order they were asked for', async (t) => {
  const segmenter = await load(false, 1);
  t.teardown(() => segmenter.release());
  // Replace the session's run with one that records how many run at once.
  const runner = (segmenter as unknown as { runner: Runner }).runner;
  const realRun = runner.run.bind(runner);
  let running = 0;
  let most = 0;
  const order: number[] = [];
  let calls = 0;
  runner.run = async (input) => {
    const call = calls++;
    running++;
    most = Math.max(most, running);
    await new Promise((resolve) => setTimeout(resolve, 20));
    const result = await realRun(input);
    running--;
    order.push(call);
    return result;
  };
  const zeros = new Float32Array(3 * MODEL_SIZE * MODEL_SIZE);
  await Promise.all([segmenter.predict(zeros), segmenter.predict(zeros), segmenter.predict(zeros)]);
  t.equal(most, 1, 'never two at once');
  t.same(order, [0, 1, 2]);
  // A failing inference does not block the next one.
  runner.run = async () => Promise.reject(new Error('boom'));
  await t.rejects(segmenter.predict(zeros), /boom/);
  runner.run = realRun;
  t.equal((await segmenter.predict(zeros)).length, MODEL_SIZE * MODEL_SIZE);
});

t.test('session options: no arena unless asked for, all graph optimisations', async (t) => {
  t.match(sessionOptions(2), { intraOpNumThreads: 2, enableCpuMemArena: false, enableMemPattern: true, graphOptimizationLevel: 'all' });
  t.match(sessionOptions(1, true), { enableCpuMemArena: true });
});

t.test('a missing file fails with the fetch command in the message, on either thread', async (t) => {
  for (const worker of [false, true]) {
    await t.rejects(Segmenter.load({ modelPath: '/nonexistent.onnx', threads: 1, worker }), { name: 'ModelLoadError', message: /npm run fetch-model/ });
  }
  t.type(ModelLoadError, 'function');
});
