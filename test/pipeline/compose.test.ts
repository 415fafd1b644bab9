import t from 'tap';
import { ALPHA_FLOOR, applySubjectAlpha, clearHidden, clearOutside, marginPixels, padBox } from '../../src/pipeline/compose.js';
import { encodePng } from '../../src/pipeline/png.js';
import type { DecodedImage } from '../../src/pipeline/decode.js';

/** A width x height RGBA image of one colour and alpha. */
function image(width: number, height: number, rgba: number[], hasAlpha = rgba[3] !== 255): DecodedImage {
  const pixels = Buffer.alloc(width * height * 4);
  for (let i = 0; i < width * height; i++) pixels.set(rgba, i * 4);
  return { format: 'png', width, height, hasAlpha, pixels };
}
const alphaOf = (img: DecodedImage) => [...img.pixels].filter((_, i) => i % 4 === 3);
const rgbOf = (img: DecodedImage) => [...img.pixels].filter((_, i) => i % 4 !== 3);

/** A size x size grid, zero but for `values` laid out row by row in `region`. */
function grid(size: number, region: { left: number; top: number; width: number }, values: number[]): Uint8Array {
  const cells = new Uint8Array(size * size);
  values.forEach((value, i) => (cells[(region.top + Math.floor(i / region.width)) * size + region.left + (i % region.width)] = value));
  return cells;
}

// The images below are as large as their grid, so resizing the grid is the identity.

t.test('applySubjectAlpha writes the region, clears faint values and bounds what is left', async (t) => {
  const img = image(5, 5, [10, 20, 30, 255]);
  const region = { left: 1, top: 1, width: 3, height: 2 };
  const box = applySubjectAlpha(img, grid(5, region, [0, 200, ALPHA_FLOOR, 0, ALPHA_FLOOR + 1, 0]), region, 5);
  t.same(box, { left: 2, top: 1, width: 1, height: 2 });
  t.same(alphaOf(img), [
    255, 255, 255, 255, 255,
    255, 0, 200, 0, 255,
    255, 0, ALPHA_FLOOR + 1, 0, 255,
    255, 255, 255, 255, 255,
    255, 255, 255, 255, 255,
  ], 'the region is written, the rest untouched');
  t.ok(rgbOf(img).every((v, i) => v === [10, 20, 30][i % 3]), 'colours stay as they were');
  const faint = image(2, 2, [0, 0, 0, 255]);
  t.equal(applySubjectAlpha(faint, new Uint8Array(4).fill(ALPHA_FLOOR), { left: 0, top: 0, width: 2, height: 2 }, 2), null);
});

t.test("applySubjectAlpha multiplies in the input's own alpha, so what it hid stays hidden", async (t) => {
  const img = image(3, 3, [1, 2, 3, 0], true);
  img.pixels[7] = 128;
  img.pixels[11] = 255;
  const region = { left: 0, top: 0, width: 3, height: 1 };
  const box = applySubjectAlpha(img, grid(3, region, [255, 255, 100]), region, 3);
  t.same(alphaOf(img).slice(0, 3), [0, 128, 100]);
  t.same(box, { left: 1, top: 0, width: 2, height: 1 });
});

t.test('applySubjectAlpha enlarges the grid smoothly, the region being part of the whole', async (t) => {
  const cells = grid(4, { left: 1, top: 1, width: 2 }, [255, 255, 255, 255]);
  const whole = image(40, 40, [0, 0, 0, 255]);
  applySubjectAlpha(whole, cells, { left: 0, top: 0, width: 40, height: 40 }, 4);
  const part = image(40, 40, [0, 0, 0, 255]);
  applySubjectAlpha(part, cells, { left: 5, top: 8, width: 20, height: 15 }, 4);
  const a = alphaOf(whole);
  const b = alphaOf(part);
  let same = true;
  for (let y = 8; y < 23; y++) for (let x = 5; x < 25; x++) same &&= a[y * 40 + x] === b[y * 40 + x];
  t.ok(same, 'the region equals that part of the whole');
  t.equal(a[20 * 40 + 20], 255, 'the middle is solid');
  const ramp = a.slice(20 * 40, 20 * 40 + 20);
  t.ok(ramp.every((v, i) => i === 0 || v! >= ramp[i - 1]!), 'the edge rises monotonically');
  t.ok(ramp.some((v) => v! > 0 && v! < 255), 'and softly');
});

t.test('clearHidden: outside the region and wherever alpha is 0, pixels become (0, 0, 0, 0); the rest stays', async (t) => {
  const img = image(6, 4, [9, 8, 7, 255]);
  img.pixels[(1 * 6 + 3) * 4 + 3] = 0; // a transparent pixel inside the region
  img.pixels[(2 * 6 + 2) * 4 + 3] = 100; // a soft one
  clearHidden(img, { left: 2, top: 1, width: 2, height: 2 }, { left: 1, top: 0, width: 4, height: 4 });
  t.same(alphaOf(img), [
    255, 0, 0, 0, 0, 255,
    255, 0, 255, 0, 0, 255,
    255, 0, 100, 255, 0, 255,
    255, 0, 0, 0, 0, 255,
  ]);
  const pixel = (x: number, y: number) => [...img.pixels.subarray((y * 6 + x) * 4, (y * 6 + x) * 4 + 4)];
  t.same(pixel(1, 1), [0, 0, 0, 0], 'outside the region: cleared');
  t.same(pixel(3, 1), [0, 0, 0, 0], 'transparent inside: colour cleared');
  t.same(pixel(2, 2), [9, 8, 7, 100], 'a soft pixel keeps its colour');
  t.same(pixel(0, 0), [9, 8, 7, 255], 'outside the box: untouched');
});

t.test('clearOutside clears only outside the region, and with png.ts it encodes what clearHidden would give', async (t) => {
  const region = { left: 2, top: 1, width: 2, height: 2 };
  const box = { left: 1, top: 0, width: 4, height: 4 };
  const img = image(6, 4, [9, 8, 7, 255]);
  img.pixels[(1 * 6 + 3) * 4 + 3] = 0; // a transparent pixel inside the region
  const cleared = { ...img, pixels: Uint8Array.from(img.pixels) };
  t.same(clearOutside(img, region, box), { from: 2, to: 4 }, 'the box columns inside the region');
  const pixel = (x: number, y: number) => [...img.pixels.subarray((y * 6 + x) * 4, (y * 6 + x) * 4 + 4)];
  t.same(pixel(1, 1), [0, 0, 0, 0], 'outside the region: cleared');
  t.same(pixel(3, 1), [9, 8, 7, 0], 'transparent inside: left for the encoder');
  t.same(pixel(0, 0), [9, 8, 7, 255], 'outside the box: untouched');
  clearHidden(cleared, region, box);
  t.ok(encodePng(img.pixels, 6, box).equals(encodePng(cleared.pixels, 6, box)), 'the same PNG, byte for byte');
});

t.test('padBox grows the box and clamps it to the image', async (t) => {
  const box = { left: 10, top: 5, width: 20, height: 10 };
  t.same(padBox(box, 0, 100, 50), box);
  t.same(padBox(box, 3, 100, 50), { left: 7, top: 2, width: 26, height: 16 });
  t.same(padBox(box, 8, 100, 50), { left: 2, top: 0, width: 36, height: 23 }, 'top clamped at 0');
  t.same(padBox(box, 1000, 100, 50), { left: 0, top: 0, width: 100, height: 50 });
  t.same(padBox({ left: 0, top: 0, width: 1, height: 1 }, 2, 1, 1), { left: 0, top: 0, width: 1, height: 1 });
});

t.test('marginPixels: pixels as given, a percentage of the larger side of the box', async (t) => {
  const box = { left: 10, top: 5, width: 200, height: 50 };
  t.equal(marginPixels(16, box), 16);
  t.equal(marginPixels({ percent: 10 }, box), 20);
  t.equal(marginPixels({ percent: 10 }, { ...box, width: 30, height: 125 }), 13, 'rounded');
  t.equal(marginPixels({ percent: 0 }, box), 0);
});
