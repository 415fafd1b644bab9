import t from 'tap';
import { StageTimer } from '../../src/pipeline/timings.js';

t.test('stages add up and print as Server-Timing in pipeline order', async (t) => {
  const timer = new StageTimer();
  await timer.time('infer', () => new Promise((resolve) => setTimeout(resolve, 5)));
  await timer.time('fetch', () => 1);
  await timer.time('infer', () => 2);
  const summary = timer.summary();
  t.ok(summary.infer! >= 4);
  t.ok(summary.total! >= summary.infer!);
  t.match(timer.serverTiming(), /^fetch;dur=[\d.]+, infer;dur=[\d.]+, total;dur=[\d.]+$/);
});

t.test('a failing stage is still timed, and its error passes through', async (t) => {
  const timer = new StageTimer();
  await t.rejects(timer.time('decode', () => Promise.reject(new Error('bad'))), /bad/);
  t.type(timer.durations.decode, 'number');
});
