import sharp from 'sharp';
import t from 'tap';
import { ServiceError } from '../../src/errors.js';
import type { DecodedImage } from '../../src/pipeline/decode.js';
import { canvasSize, checkCanvasSize, composeResult, flattenLayers, layoutInResult, layoutResult, placeOnCanvas } from '../../src/pipeline/placement.js';

const image = { width: 1000, height: 500 };
// 100 wide, 200 tall, 300 from the left and 100 from the top: 600 px of room across, 200 down.
const subject = { left: 300, top: 100, width: 100, height: 200 };

t.test('the subject fills its share of the binding side, up or down', async (t) => {
  const tall = placeOnCanvas(subject, image, { width: 1000, height: 1000 }, 0.5, 'center');
  t.same(tall.subject, { left: 375, top: 250, width: 250, height: 500 });
  t.equal(tall.scale, 2.5);
  const wide = placeOnCanvas(subject, image, { width: 100, height: 1000 }, 1, 'center');
  t.same(wide.subject, { left: 0, top: 400, width: 100, height: 200 }, 'width binds');
  t.equal(wide.scale, 1);
});

t.test('"bottom" rests it on the bottom with the binding gap under it', async (t) => {
  t.same(placeOnCanvas(subject, image, { width: 1000, height: 1000 }, 0.8, 'bottom').subject, { left: 300, top: 100, width: 400, height: 800 }, 'height binds: the gap of 100 above and below becomes 100 below');
  t.same(placeOnCanvas(subject, image, { width: 200, height: 1000 }, 0.9, 'bottom').subject, { left: 10, top: 630, width: 180, height: 360 }, 'width binds: 10 on either side, 10 below');
});

t.test('"original" keeps the proportions of the room around it', async (t) => {
  const placed = placeOnCanvas(subject, image, { width: 1000, height: 1000 }, 0.5, 'original');
  // Across: 300 of the 900 px of room lay left of it (a third). Down: 100 of 300 (a third).
  t.same(placed.subject, { left: 250, top: 167, width: 250, height: 500 });
  const corner = placeOnCanvas({ left: 0, top: 300, width: 100, height: 200 }, image, { width: 400, height: 400 }, 0.5, 'original');
  t.same([corner.subject.left, corner.subject.top], [0, 200], 'at the left edge and the bottom, as in the input');
  const spanning = placeOnCanvas({ left: 0, top: 0, width: 1000, height: 500 }, image, { width: 400, height: 400 }, 0.5, 'original');
  t.same([spanning.subject.left, spanning.subject.top], [100, 150], 'centred where it spans the input');
});

t.test('canvas sizes and their limit', async (t) => {
  t.same(canvasSize('square', { width: 300, height: 120 }), { width: 300, height: 300 });
  t.same(canvasSize({ width: 5, height: 6 }, { width: 300, height: 120 }), { width: 5, height: 6 });
  t.doesNotThrow(() => checkCanvasSize({ width: 100, height: 100 }, 10_000));
  t.throws(() => checkCanvasSize({ width: 101, height: 100 }, 10_000), new ServiceError('invalid_request', 'the field canvas would make a 101x100 result (0.0 megapixels); the limit is 0.0 megapixels (MAX_CANVAS_PIXELS)'));
  t.throws(() => layoutResult(subject, subject, { width: 400, height: 100 }, image, { canvas: 'square', fill: 0.9, position: 'center' }, 10_000), { code: 'invalid_request', message: /400x400 result .* "square"/ });
});

t.test('without a canvas the layout is the crop box at its output size', async (t) => {
  const layout = layoutInResult(subject, { left: 280, top: 90, width: 140, height: 220 }, { width: 70, height: 110 });
  t.same(layout, { width: 70, height: 110, subject: { left: 10, top: 5, width: 50, height: 100 }, scale: 0.5 });
});

t.test('composeResult places the subject, its shadow under it, on an exact colour', async (t) => {
  // A 40x40 image whose middle 20x20 is an opaque red subject, the rest transparent.
  const pixels = Buffer.alloc(40 * 40 * 4);
  for (let y = 10; y < 30; y++) for (let x = 10; x < 30; x++) pixels.set([200, 0, 0, 255], (y * 40 + x) * 4);
  const decoded: DecodedImage = { format: 'png', width: 40, height: 40, hasAlpha: true, pixels };
  const box = { left: 10, top: 10, width: 20, height: 20 };
  const layout = placeOnCanvas(box, decoded, { width: 200, height: 100 }, 0.5, 'bottom');
  const encode = { format: 'png', quality: 90, pngCompressionLevel: 1, channels: 'rgba' } as const;
  const white = await composeResult(decoded, box, layout, { ...encode, backdrop: { kind: 'colour', colour: { r: 255, g: 255, b: 255, alpha: 1 } }, shadow: { kind: 'drop', opacity: 50 } });
  const { data, info } = await sharp(white).raw().toBuffer({ resolveWithObject: true });
  t.same([info.width, info.height, info.channels], [200, 100, 3]);
  const at = (x: number, y: number) => [...data.subarray((y * 200 + x) * 3, (y * 200 + x) * 3 + 3)];
  const { left, top, width, height } = layout.subject;
  t.same(at(left + width / 2, top + height / 2), [200, 0, 0], 'the subject, enlarged');
  t.ok(at(left + width / 2, top + height + 1)[0]! < 250, 'its shadow below it');
  t.same(at(5, 5), [255, 255, 255], 'white elsewhere');
  const alpha = await composeResult(decoded, box, layout, { ...encode, channels: 'alpha', backdrop: { kind: 'none' } });
  t.equal((await sharp(alpha).metadata()).channels, 1, 'the mask alone, placed');
  const mask = await sharp(alpha).extractChannel(0).raw().toBuffer({ resolveWithObject: true });
  t.equal(mask.data[(top + 5) * 200 + left + 5], 255);
  t.equal(mask.data[5 * 200 + 5], 0);
});

t.test('flattenLayers: subject over shadow over a colour, exact where neither covers it', async (t) => {
  // Three pixels: nothing, a half-transparent white subject, an opaque red one; a shadow of alpha 128 under the first two.
  const pixels = Buffer.from([9, 9, 9, 0, 255, 255, 255, 128, 255, 0, 0, 255]);
  const shadow = { alpha: Buffer.from([128, 128]), box: { left: 0, top: 0, width: 2, height: 1 } };
  const opaque = Buffer.from(pixels);
  t.equal(flattenLayers(opaque, 3, 1, shadow, { r: 40, g: 80, b: 200, alpha: 1 }), 3);
  t.same([...opaque.subarray(0, 9)], [20, 40, 100, 138, 148, 178, 255, 0, 0], 'RGB, packed');
  const plain = Buffer.from(pixels);
  flattenLayers(plain, 3, 1, undefined, { r: 40, g: 80, b: 200, alpha: 1 });
  t.same([...plain.subarray(0, 3)], [40, 80, 200], 'the colour itself where nothing covers it');
  const clear = Buffer.from(pixels);
  t.equal(flattenLayers(clear, 3, 1, shadow), 4);
  t.same([...clear], [0, 0, 0, 128, 170, 170, 170, 192, 255, 0, 0, 255], 'on transparency the shadow is translucent black');
});
