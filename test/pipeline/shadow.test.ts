import t from 'tap';
import { makeShadow, scalePeak, shadowGeometry } from '../../src/pipeline/shadow.js';

/** A width x height RGBA subject: an opaque rectangle of `w` x `h` at the bottom middle. */
function subject(width: number, height: number, w: number, h: number): Buffer {
  const pixels = Buffer.alloc(width * height * 4);
  for (let y = height - h; y < height; y++) {
    for (let x = (width - w) >> 1; x < ((width - w) >> 1) + w; x++) pixels.set([50, 60, 70, 255], (y * width + x) * 4);
  }
  return pixels;
}
const peak = (alpha: Uint8Array) => alpha.reduce((high, value) => Math.max(high, value), 0);
/** The rows (relative to the subject's top) where a shadow of `box` has any alpha. */
function rows(alpha: Buffer, box: { width: number; height: number; top: number }): [number, number] {
  let first = Infinity;
  let last = -Infinity;
  for (let y = 0; y < box.height; y++) {
    if (alpha.subarray(y * box.width, (y + 1) * box.width).some((v) => v > 2)) {
      first = Math.min(first, y + box.top);
      last = Math.max(last, y + box.top);
    }
  }
  return [first, last];
}
const whole = (width: number, height: number) => ({ left: 0, top: 0, width, height });

t.test('a drop shadow is the silhouette moved down and blurred, its darkest point at the opacity', async (t) => {
  const { box } = shadowGeometry(100, 200, 'drop');
  const alpha = await makeShadow(subject(100, 200, 100, 200), 100, 200, whole(100, 200), { kind: 'drop', opacity: 40 });
  t.equal(alpha.length, box.width * box.height, 'one band, the size its geometry says');
  t.equal(peak(alpha), 102, '40 % of 255');
  t.ok(box.width > 100 && box.height > 200, 'room for the blur');
  const [first, last] = rows(alpha, box);
  t.ok(last > 200 && first > -10, `offset down (rows ${first} to ${last})`);
  t.equal(box.left, -(box.width - 100) / 2, 'centred across');
});

t.test('a contact shadow is a thin band at the base, made at the subject size', async (t) => {
  // The subject lies inside a larger buffer, as the placement passes it.
  const pixels = Buffer.alloc(260 * 340 * 4);
  const inner = subject(200, 300, 160, 300);
  for (let y = 0; y < 300; y++) inner.copy(pixels, ((y + 20) * 260 + 30) * 4, y * 200 * 4, (y + 1) * 200 * 4);
  const { box } = shadowGeometry(200, 300, 'contact');
  const alpha = await makeShadow(pixels, 260, 340, { left: 30, top: 20, width: 200, height: 300 }, { kind: 'contact', opacity: 100 });
  t.equal(alpha.length, box.width * box.height);
  t.equal(peak(alpha), 255);
  const [first, last] = rows(alpha, box);
  t.ok(first > 250 && last < 330, `around the bottom edge only (rows ${first} to ${last})`);
  t.ok(box.height < 300 * 0.3, 'nowhere near the full image');
  const none = await makeShadow(subject(50, 50, 10, 10), 50, 50, whole(50, 50), { kind: 'contact', opacity: 0 });
  t.equal(peak(none), 0, 'opacity 0: no shadow');
});

t.test('scalePeak maps the highest value to the peak', async (t) => {
  const alpha = Uint8Array.from([0, 50, 100]);
  scalePeak(alpha, 200);
  t.same([...alpha], [0, 100, 200]);
  const zero = new Uint8Array(3);
  scalePeak(zero, 200);
  t.same([...zero], [0, 0, 0]);
});
