import t from 'tap';
import { MODEL_SIZE, mirrorModelInput, toModelInput } from '../../src/pipeline/preprocess.js';

const plane = MODEL_SIZE * MODEL_SIZE;

/** RGB bytes where every pixel is `rgb`, except pixel `at` which is `other`. */
function pixels(rgb: [number, number, number], at = -1, other: [number, number, number] = [0, 0, 0]): Uint8Array {
  const data = new Uint8Array(plane * 3);
  for (let i = 0; i < plane; i++) data.set(i === at ? other : rgb, i * 3);
  return data;
}

t.test('layout is NCHW: each channel is one contiguous plane', async (t) => {
  const at = 5 * MODEL_SIZE + 7; // row 5, column 7
  const input = toModelInput(pixels([0, 0, 0], at, [255, 128, 0]));
  t.equal(input.length, 3 * plane);
  // The bright pixel shows up at the same index in each plane, and only there.
  t.ok(input[at]! > input[at + 1]!, 'red plane');
  t.ok(input[plane + at]! > input[plane + at + 1]!, 'green plane');
  t.equal(input[2 * plane + at], input[2 * plane + at + 1], 'blue plane: both pixels are 0');
});

t.test('values: divided by the brightest value, then ImageNet mean and std', async (t) => {
  // Brightest value 200: a pixel of (200, 100, 50) is (1, 0.5, 0.25) before normalisation.
  const input = toModelInput(pixels([200, 100, 50]));
  t.ok(Math.abs(input[0]! - (1 - 0.485) / 0.229) < 1e-5, 'red');
  t.ok(Math.abs(input[plane]! - (0.5 - 0.456) / 0.224) < 1e-5, 'green');
  t.ok(Math.abs(input[2 * plane]! - (0.25 - 0.406) / 0.225) < 1e-5, 'blue');
});

t.test('a dark image is stretched by its own maximum, not by 255', async (t) => {
  const dark = toModelInput(pixels([64, 64, 64]));
  const bright = toModelInput(pixels([255, 255, 255]));
  t.same([dark[0], dark[plane], dark[2 * plane]], [bright[0], bright[plane], bright[2 * plane]]);
});

t.test('an all-black image does not divide by zero', async (t) => {
  const input = toModelInput(pixels([0, 0, 0]));
  t.ok(input.every(Number.isFinite));
  t.ok(Math.abs(input[0]! - -0.485 / 0.229) < 1e-5);
});

t.test('reuses a given buffer and checks sizes', async (t) => {
  const into = new Float32Array(3 * plane);
  t.equal(toModelInput(pixels([1, 2, 3]), into), into);
  t.throws(() => toModelInput(new Uint8Array(10)), RangeError);
  t.throws(() => toModelInput(pixels([1, 2, 3]), new Float32Array(5)), RangeError);
});

t.test('mirrorModelInput mirrors every row of every channel, and twice gives the input back', async (t) => {
  const input = Float32Array.from({ length: 3 * MODEL_SIZE * MODEL_SIZE }, (_, i) => i);
  const mirrored = mirrorModelInput(input);
  t.equal(mirrored[0], input[MODEL_SIZE - 1], 'first pixel of the first row takes the last');
  t.equal(mirrored[2 * plane + 5 * MODEL_SIZE + 7], input[2 * plane + 5 * MODEL_SIZE + MODEL_SIZE - 1 - 7], 'in the last channel too');
  t.same(mirrorModelInput(mirrored), input);
});
