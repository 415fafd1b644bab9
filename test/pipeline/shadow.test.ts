import t from 'tap';
import { makeShadow, scalePeak, shadowOverlay } from '../../src/pipeline/shadow.js';

/** A width x height RGBA subject: an opaque rectangle of `w` x `h` at the bottom middle. */
function subject(width: number, height: number, w: number, h: number): Buffer {
  const pixels = Buffer.alloc(width * height * 4);
  for (let y = height - h; y < height; y++) {
    for (let x = (width - w) >> 1; x < ((width - w) >> 1) + w; x++) pixels.set([50, 60, 70, 255], (y * width + x) * 4);
  }
  return pixels;
}
const peak = (alpha: Uint8Array) => alpha.reduce((high, value) => Math.max(high, value), 0);
/** The rows (in subject coordinates) where the shadow has any alpha. */
function rows(shadow: { alpha: Buffer; width: number; height: number; top: number }): [number, number] {
  let first = Infinity;
  let last = -Infinity;
  for (let y = 0; y < shadow.height; y++) {
    if (shadow.alpha.subarray(y * shadow.width, (y + 1) * shadow.width).some((v) => v > 2)) {
      first = Math.min(first, y + shadow.top);
      last = Math.max(last, y + shadow.top);
    }
  }
  return [first, last];
}

t.test('a drop shadow is the silhouette moved down and blurred, its darkest point at the opacity', async (t) => {
  const shadow = await makeShadow(subject(100, 200, 100, 200), 100, 200, { kind: 'drop', opacity: 40 });
  t.equal(shadow.alpha.length, shadow.width * shadow.height, 'one band');
  t.equal(peak(shadow.alpha), 102, '40 % of 255');
  t.ok(shadow.width > 100 && shadow.height > 200, 'room for the blur');
  const [first, last] = rows(shadow);
  t.ok(last > 200 && first > -10, `offset down (rows ${first} to ${last})`);
  t.equal(shadow.left, -(shadow.width - 100) / 2, 'centred across');
});

t.test('a contact shadow is a thin band at the base, made at the subject size', async (t) => {
  const shadow = await makeShadow(subject(200, 300, 160, 300), 200, 300, { kind: 'contact', opacity: 100 });
  t.equal(peak(shadow.alpha), 255);
  const [first, last] = rows(shadow);
  t.ok(first > 250 && last < 330, `around the bottom edge only (rows ${first} to ${last})`);
  t.ok(shadow.height < 300 * 0.3, 'nowhere near the full image');
  const none = await makeShadow(subject(50, 50, 10, 10), 50, 50, { kind: 'contact', opacity: 0 });
  t.equal(peak(none.alpha), 0, 'opacity 0: no shadow');
});

t.test('scalePeak maps the highest value to the peak', async (t) => {
  const alpha = Uint8Array.from([0, 50, 100]);
  scalePeak(alpha, 200);
  t.same([...alpha], [0, 100, 200]);
  const zero = new Uint8Array(3);
  scalePeak(zero, 200);
  t.same([...zero], [0, 0, 0]);
});

t.test('shadowOverlay clips the shadow to the result as translucent black', async (t) => {
  const shadow = { alpha: Buffer.from([10, 20, 30, 40, 50, 60]), width: 3, height: 2, left: -1, top: 1 };
  const overlay = shadowOverlay(shadow, { left: 0, top: 0, width: 2, height: 2 }, 2, 2);
  t.same(overlay?.box, { left: 0, top: 1, width: 2, height: 1 });
  t.same([...overlay!.pixels], [0, 0, 0, 20, 0, 0, 0, 30]);
  t.equal(shadowOverlay(shadow, { left: 5, top: 5, width: 1, height: 1 }, 2, 2), null, 'wholly outside');
});
