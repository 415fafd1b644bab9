import t from 'tap';
import { ALPHA_FLOOR, applyOwnAlpha, clearFaintAndBound, cutoutPixels, maskPixels, padBox } from '../../src/pipeline/compose.js';
import type { DecodedImage } from '../../src/pipeline/decode.js';

function image(width: number, height: number, channels: 3 | 4, fill: number[]): DecodedImage {
  const pixels = Buffer.alloc(width * height * channels);
  for (let i = 0; i < width * height; i++) pixels.set(fill, i * channels);
  return { format: 'png', width, height, channels, pixels };
}

t.test('clearFaintAndBound clears faint alpha and bounds the rest', async (t) => {
  const alpha = new Uint8Array(5 * 4);
  alpha[1 * 5 + 1] = 200;
  alpha[2 * 5 + 3] = ALPHA_FLOOR + 1;
  alpha[3 * 5 + 4] = ALPHA_FLOOR; // faint: cleared, outside the box
  t.same(clearFaintAndBound(alpha, 5, 4), { left: 1, top: 1, width: 3, height: 2 });
  t.equal(alpha[3 * 5 + 4], 0);
  t.equal(clearFaintAndBound(new Uint8Array(6).fill(ALPHA_FLOOR), 3, 2), null);
});

t.test('padBox grows the box and clamps it to the image', async (t) => {
  const box = { left: 10, top: 5, width: 20, height: 10 };
  t.same(padBox(box, 0, 100, 50), box);
  t.same(padBox(box, 3, 100, 50), { left: 7, top: 2, width: 26, height: 16 });
  t.same(padBox(box, 8, 100, 50), { left: 2, top: 0, width: 36, height: 23 }, 'top clamped at 0');
  t.same(padBox(box, 1000, 100, 50), { left: 0, top: 0, width: 100, height: 50 });
  t.same(padBox({ left: 0, top: 0, width: 1, height: 1 }, 2, 1, 1), { left: 0, top: 0, width: 1, height: 1 });
});

t.test('cutoutPixels keeps straight colour whatever the alpha', async (t) => {
  const img = image(3, 2, 3, [10, 20, 30]);
  const alpha = Uint8Array.from([0, 128, 255, 1, 2, 3]);
  const out = cutoutPixels(img, alpha, { left: 1, top: 0, width: 2, height: 2 });
  t.same([...out], [10, 20, 30, 128, 10, 20, 30, 255, 10, 20, 30, 2, 10, 20, 30, 3]);
});

t.test('applyOwnAlpha multiplies in the input alpha; RGB inputs are untouched', async (t) => {
  const rgba = image(2, 1, 4, [1, 2, 3, 0]);
  rgba.pixels[7] = 128;
  const alpha = Uint8Array.from([255, 255]);
  applyOwnAlpha(rgba, alpha);
  t.same([...alpha], [0, 128], 'what the input hid stays hidden');
  const rgb = Uint8Array.from([7, 9]);
  applyOwnAlpha(image(2, 1, 3, [1, 2, 3]), rgb);
  t.same([...rgb], [7, 9]);
});

t.test('maskPixels copies the box rows', async (t) => {
  const alpha = Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9]);
  t.same([...maskPixels(alpha, 3, { left: 1, top: 1, width: 2, height: 2 })], [5, 6, 8, 9]);
});
