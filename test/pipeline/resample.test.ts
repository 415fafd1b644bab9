import t from 'tap';
import { bilinearTaps } from '../../src/pipeline/resample.js';

/** Resizes a 1-D signal with the taps, as the pipeline does. */
function resize(signal: number[], target: number): number[] {
  const taps = bilinearTaps(signal.length, target, 0, target);
  return Array.from({ length: target }, (_, i) => {
    let sum = 0;
    for (let k = 0; k < taps.count[i]!; k++) sum += taps.weights[i * taps.stride + k]! * signal[taps.start[i]! + k]!;
    return sum;
  });
}

t.test('weights sum to 1 and read only real samples', async (t) => {
  for (const [source, target] of [[320, 1000], [320, 1], [320, 37], [320, 320], [4, 9]] as const) {
    const taps = bilinearTaps(source, target, 0, target);
    for (let i = 0; i < target; i++) {
      let sum = 0;
      for (let k = 0; k < taps.count[i]!; k++) sum += taps.weights[i * taps.stride + k]!;
      if (Math.abs(sum - 1) > 1e-5) t.fail(`${source}->${target} at ${i}: weights sum to ${sum}`);
      if (taps.start[i]! < 0 || taps.start[i]! + taps.count[i]! > source) t.fail(`${source}->${target} at ${i} reads outside`);
    }
  }
  t.pass('every output index');
});

t.test('enlarging interpolates linearly between pixel centres, as Pillow does', async (t) => {
  // 2 -> 4: output centres at 0.25, 0.75, 1.25, 1.75 source pixels; source centres at 0.5 and 1.5.
  t.same(resize([0, 100], 4).map((v) => Math.round(v)), [0, 25, 75, 100]);
  t.same(resize([10, 10, 10], 7).map((v) => Math.round(v * 1000) / 1000), Array(7).fill(10), 'a flat signal stays flat');
});

t.test('the same size is the identity; shrinking averages', async (t) => {
  t.same(resize([3, 1, 4, 1, 5], 5), [3, 1, 4, 1, 5]);
  const shrunk = resize([0, 0, 100, 100], 2);
  t.ok(shrunk[0]! < 50 && shrunk[1]! > 50, 'each half keeps its side');
  t.ok(Math.abs(resize([0, 100, 0, 100, 0, 100, 0, 100], 1)[0]! - 50) < 1e-4, 'one output sees all of them');
});

t.test('taps for a range of outputs equal that range of the full taps', async (t) => {
  const full = bilinearTaps(320, 2000, 0, 2000);
  const part = bilinearTaps(320, 2000, 700, 900);
  t.same([...part.start], [...full.start.subarray(700, 900)]);
  t.same([...part.weights], [...full.weights.subarray(700 * full.stride, 900 * full.stride)]);
});
