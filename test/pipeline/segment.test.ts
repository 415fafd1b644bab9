import t from 'tap';
import { loadConfig } from '../../src/config.js';
import { MODEL_SIZE } from '../../src/pipeline/preprocess.js';
import { ModelLoadError, Segmenter, sessionOptions } from '../../src/pipeline/segment.js';

const config = loadConfig({});

t.test('predicts a 320x320 map in 0..1 from a real session', async (t) => {
  const segmenter = await Segmenter.load({ modelPath: config.MODEL_PATH, threads: config.INFERENCE_THREADS });
  t.teardown(() => segmenter.release());
  const map = await segmenter.predict(new Float32Array(3 * MODEL_SIZE * MODEL_SIZE).fill(0.5));
  t.equal(map.length, MODEL_SIZE * MODEL_SIZE);
  t.ok(map.every((v) => v >= 0 && v <= 1));
});

t.test('inferences take turns, in the order they were asked for', async (t) => {
  const segmenter = await Segmenter.load({ modelPath: config.MODEL_PATH, threads: 1 });
  t.teardown(() => segmenter.release());
  // Replace the session's run with one that records how many run at once.
  const session = (segmenter as unknown as { session: { run: (...args: unknown[]) => Promise<unknown> } }).session;
  const realRun = session.run.bind(session);
  let running = 0;
  let most = 0;
  const order: number[] = [];
  let calls = 0;
  session.run = async (...args: unknown[]) => {
    const call = calls++;
    running++;
    most = Math.max(most, running);
    await new Promise((resolve) => setTimeout(resolve, 20));
    const result = await realRun(...args);
    running--;
    order.push(call);
    return result;
  };
  const input = new Float32Array(3 * MODEL_SIZE * MODEL_SIZE);
  await Promise.all([segmenter.predict(input), segmenter.predict(input), segmenter.predict(input)]);
  t.equal(most, 1, 'never two at once');
  t.same(order, [0, 1, 2]);
  // A failing inference does not block the next one.
  session.run = async () => Promise.reject(new Error('boom'));
  await t.rejects(segmenter.predict(input), /boom/);
  session.run = realRun;
  t.equal((await segmenter.predict(input)).length, MODEL_SIZE * MODEL_SIZE);
});

t.test('session options: no arena unless asked for, all graph optimisations', async (t) => {
  t.match(sessionOptions(2), { intraOpNumThreads: 2, enableCpuMemArena: false, enableMemPattern: true, graphOptimizationLevel: 'all' });
  t.match(sessionOptions(1, true), { enableCpuMemArena: true });
});

t.test('a missing file fails with the fetch command in the message', async (t) => {
  await t.rejects(Segmenter.load({ modelPath: '/nonexistent.onnx', threads: 1 }), { name: 'ModelLoadError', message: /npm run fetch-model/ });
  t.type(ModelLoadError, 'function');
});
