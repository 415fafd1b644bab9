import sharp from 'sharp';
import t from 'tap';
import { parseColour, prepareBackdrop, type Background, type Backdrop } from '../../src/pipeline/background.js';
import { modelPixels, type DecodedImage } from '../../src/pipeline/decode.js';
import { encodeImage, outputSize, ownsPng, type EncodeOptions } from '../../src/pipeline/encode.js';
import { decodeImageBytes } from '../helpers/images.js';

// A 200x100 cutout as the pipeline leaves it: a red square (x 50-149, y 25-74) opaque, with a soft
// (alpha 128) column at x = 150, on a blue background the mask made transparent.
function cutout(): DecodedImage {
  const width = 200;
  const height = 100;
  const pixels = Buffer.alloc(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const p = (y * width + x) * 4;
      const inside = x >= 50 && x < 150 && y >= 25 && y < 75;
      const edge = x === 150 && y >= 25 && y < 75;
      pixels.set(inside || edge ? [220, 30, 30] : [20, 40, 200], p);
      pixels[p + 3] = inside ? 255 : edge ? 128 : 0;
    }
  }
  return { format: 'png', width, height, hasAlpha: false, pixels };
}
const whole = { left: 0, top: 0, width: 200, height: 100 };
const options = (backdrop: Backdrop, more: Partial<EncodeOptions> = {}): EncodeOptions => ({
  format: 'png',
  quality: 90,
  pngCompressionLevel: 1,
  width: 200,
  height: 100,
  backdrop,
  ...more,
});
const backdrop = async (background: Background, opaque = false) => {
  const image = cutout();
  return prepareBackdrop(background, image, { opaque, maxPixels: 1e8, modelView: await modelPixels(image) });
};
const pixel = (image: { data: Buffer; width: number; channels: number }, x: number, y: number) =>
  [...image.data.subarray((y * image.width + x) * image.channels, (y * image.width + x + 1) * image.channels)];
const near = (actual: number[], expected: number[], tolerance: number) => actual.every((v, i) => Math.abs(v - expected[i]!) <= tolerance);

t.test('outputSize scales the longer side down to maxDimension, never up', async (t) => {
  t.same(outputSize({ left: 5, top: 5, width: 400, height: 100 }), { width: 400, height: 100 });
  t.same(outputSize({ left: 5, top: 5, width: 400, height: 100 }, 200), { width: 200, height: 50 });
  t.same(outputSize({ left: 0, top: 0, width: 100, height: 400 }, 150), { width: 38, height: 150 });
  t.same(outputSize({ left: 0, top: 0, width: 100, height: 40 }, 1000), { width: 100, height: 40 });
  t.same(outputSize({ left: 0, top: 0, width: 1000, height: 1 }, 10), { width: 10, height: 1 }, 'at least one pixel');
});

t.test('the default: a transparent RGBA PNG of the box, visible colours untouched', async (t) => {
  const box = { left: 40, top: 20, width: 120, height: 60 };
  const png = await decodeImageBytes(await encodeImage(cutout(), box, 'rgba', options({ kind: 'none' }, { width: 120, height: 60 })));
  t.match(png, { format: 'png', width: 120, height: 60, channels: 4 });
  t.same(pixel(png, 0, 0), [0, 0, 0, 0], 'hidden pixels are written as zeros (png.ts; the pipeline clears them anyway)');
  t.same(pixel(png, 50, 30), [220, 30, 30, 255]);
  t.same(pixel(png, 110, 30), [220, 30, 30, 128], 'the soft edge stays soft');
});

t.test('each format decodes as itself, with alpha where the format has it', async (t) => {
  for (const format of ['png', 'webp', 'jpeg'] as const) {
    const encoded = await encodeImage(cutout(), whole, 'rgba', options(await backdrop({ kind: 'transparent' }, format === 'jpeg'), { format }));
    const image = await decodeImageBytes(encoded);
    t.equal(image.format, format);
    t.equal(image.channels, format === 'jpeg' ? 3 : 4, `${format} channels`);
    t.same([image.width, image.height], [200, 100]);
  }
});

t.test('JPEG without a background is put on white; a translucent colour is mixed with white', async (t) => {
  const jpeg = await decodeImageBytes(await encodeImage(cutout(), whole, 'rgba', options(await backdrop({ kind: 'transparent' }, true), { format: 'jpeg' })));
  t.ok(near(pixel(jpeg, 5, 5), [255, 255, 255], 3), `white background ${pixel(jpeg, 5, 5)}`);
  t.ok(near(pixel(jpeg, 100, 50), [220, 30, 30], 8), 'the subject keeps its colour');
  const translucent = await backdrop({ kind: 'colour', colour: parseColour('#00000080') }, true);
  const mixed = await decodeImageBytes(await encodeImage(cutout(), whole, 'rgba', options(translucent, { format: 'jpeg' })));
  t.ok(near(pixel(mixed, 5, 5), [127, 127, 127], 3), `half black over white is grey ${pixel(mixed, 5, 5)}`);
});

t.test('quality changes the size of lossy formats', async (t) => {
  const noisy = cutout();
  for (let i = 0; i < noisy.pixels.length; i += 4) noisy.pixels[i] = (i * 7919) % 251;
  for (const format of ['webp', 'jpeg'] as const) {
    const opaque = await backdrop({ kind: 'transparent' }, format === 'jpeg');
    const low = await encodeImage(noisy, whole, 'rgba', options(opaque, { format, quality: 20 }));
    const high = await encodeImage(noisy, whole, 'rgba', options(opaque, { format, quality: 95 }));
    t.ok(low.length < high.length, `${format}: q20 ${low.length} B < q95 ${high.length} B`);
  }
});

t.test('an opaque colour flattens: no alpha left, the background has exactly that colour', async (t) => {
  for (const format of ['png', 'webp'] as const) {
    const encoded = await encodeImage(cutout(), whole, 'rgba', options(await backdrop({ kind: 'colour', colour: parseColour('#0f0') }), { format }));
    const image = await decodeImageBytes(encoded);
    t.equal(image.channels, 3, `${format}: no alpha channel`);
    const tolerance = format === 'png' ? 0 : 6;
    t.ok(near(pixel(image, 5, 5), [0, 255, 0], tolerance), `${format} background ${pixel(image, 5, 5)}`);
    t.ok(near(pixel(image, 100, 50), [220, 30, 30], tolerance * 3), `${format} subject ${pixel(image, 100, 50)}`);
    if (format === 'png') t.ok(near(pixel(image, 150, 50), [110, 143, 15], 1), `the soft edge is blended half and half ${pixel(image, 150, 50)}`);
  }
});

t.test('a translucent colour keeps alpha: the background is that colour at that alpha', async (t) => {
  const image = await decodeImageBytes(
    await encodeImage(cutout(), whole, 'rgba', options(await backdrop({ kind: 'colour', colour: parseColour('#ffcc0080') }))),
  );
  t.equal(image.channels, 4);
  t.ok(near(pixel(image, 5, 5), [255, 204, 0, 128], 1), `${pixel(image, 5, 5)}`);
  t.same(pixel(image, 100, 50), [220, 30, 30, 255], 'the subject stays opaque');
});

t.test('a background image is cover-fitted behind the subject, flattened', async (t) => {
  // A 100x100 image, left half yellow and right half green: cover-fitting to 200x100 keeps its middle band.
  const halves = await sharp({ create: { width: 100, height: 100, channels: 4, background: '#00ff0080' } })
    .composite([{ input: { create: { width: 50, height: 100, channels: 3, background: '#ffff00' } }, left: 0, top: 0 }])
    .png()
    .toBuffer();
  const layer = await backdrop({ kind: 'image', bytes: halves });
  const image = await decodeImageBytes(await encodeImage(cutout(), whole, 'rgba', options(layer)));
  t.equal(image.channels, 3, 'no alpha left');
  t.same([image.width, image.height], [200, 100]);
  t.ok(near(pixel(image, 10, 5), [255, 255, 0], 2), `left: yellow ${pixel(image, 10, 5)}`);
  t.ok(near(pixel(image, 190, 5), [128, 255, 128], 2), `right: half-transparent green put on white first ${pixel(image, 190, 5)}`);
  t.same(pixel(image, 100, 50), [220, 30, 30], 'the subject on top');
});

t.test('a broken background image is refused before any work, naming the background', async (t) => {
  await t.rejects(backdrop({ kind: 'image', bytes: Buffer.from('<html>') }), { code: 'unsupported_media_type', message: /^background image: / });
});

t.test('blur: the original, blurred, behind a sharp subject, at the crop and the scale of the output', async (t) => {
  // Stripes behind the subject: a blur evens them out. The backdrop is made as the pipeline makes
  // it, from the decoded image (opaque), before the mask's alpha is written.
  const striped = cutout();
  const alpha = Buffer.alloc(200 * 100);
  for (let p = 0; p < 200 * 100; p++) {
    alpha[p] = striped.pixels[p * 4 + 3]!;
    if (alpha[p] === 0) striped.pixels.set((p % 200) % 4 < 2 ? [0, 0, 0] : [250, 250, 250], p * 4);
    striped.pixels[p * 4 + 3] = 255;
  }
  const blurred = await prepareBackdrop({ kind: 'blur' }, striped, { opaque: false, maxPixels: 1e8, modelView: await modelPixels(striped) });
  t.equal(blurred.kind, 'blurred');
  for (let p = 0; p < 200 * 100; p++) striped.pixels[p * 4 + 3] = alpha[p]!;
  const box = { left: 30, top: 10, width: 140, height: 80 };
  for (const [width, height] of [[140, 80], [70, 40]] as const) {
    const image = await decodeImageBytes(await encodeImage(striped, box, 'rgba', options(blurred, { width, height })));
    t.equal(image.channels, 3, 'no alpha left');
    t.same([image.width, image.height], [width, height]);
    const row = [...Array(8).keys()].map((x) => pixel(image, x, 2)[0]!);
    t.ok(Math.max(...row) - Math.min(...row) < 30 && Math.abs(row[0]! - 125) < 30, `stripes are smoothed to grey: ${row}`);
    const centre = pixel(image, Math.round(width / 2), Math.round(height / 2));
    if (width === 140) t.same(centre, [220, 30, 30], 'the subject stays sharp, its own colour');
    else t.ok(near(centre, [220, 30, 30], 2), `scaled subject ${centre}`);
  }
});

t.test('channels "alpha": the mask alone, scaled like the rest', async (t) => {
  const png = await decodeImageBytes(await encodeImage(cutout(), whole, 'alpha', options({ kind: 'none' }, { width: 100, height: 50 })));
  t.match(png, { channels: 1, width: 100, height: 50 });
  t.equal(pixel(png, 50, 25)[0], 255);
  t.equal(pixel(png, 5, 5)[0], 0);
  const jpeg = await decodeImageBytes(await encodeImage(cutout(), whole, 'alpha', options({ kind: 'colour', colour: parseColour('#fff') }, { format: 'jpeg' })));
  t.match(jpeg, { format: 'jpeg', channels: 1 });
});

t.test('a WebP wider than the format allows is refused with a way out', async (t) => {
  await t.rejects(encodeImage(cutout(), whole, 'rgba', options({ kind: 'none' }, { format: 'webp', width: 20_000, height: 10 })), {
    code: 'invalid_request',
    message: /max_dimension/,
  });
});

t.test('a transparent PNG of the box at its own size, at level 1, comes from png.ts; the rest from libvips', async (t) => {
  const image = cutout();
  const box = { left: 40, top: 20, width: 120, height: 60 };
  const none: Backdrop = { kind: 'none' };
  const at = (more: Partial<EncodeOptions>) => options(none, { width: box.width, height: box.height, ...more });
  t.ok(ownsPng(box, 'rgba', at({})));
  t.notOk(ownsPng(box, 'alpha', at({})), 'the mask alone');
  t.notOk(ownsPng(box, 'rgba', at({ pngCompressionLevel: 6 })), 'another level');
  t.notOk(ownsPng(box, 'rgba', at({ width: 60, height: 30 })), 'a resize');
  t.notOk(ownsPng(box, 'rgba', at({ format: 'webp' })), 'another format');
  t.notOk(ownsPng(box, 'rgba', { ...at({}), backdrop: await backdrop({ kind: 'colour', colour: parseColour('#fff') }) }), 'a background');

  const own = await encodeImage(image, box, 'rgba', at({}));
  const libvips = await encodeImage(image, box, 'rgba', at({ pngCompressionLevel: 6 }));
  t.notOk(own.includes(Buffer.from('pHYs')), "png.ts's file has no pHYs chunk");
  t.ok(libvips.includes(Buffer.from('pHYs')), "libvips' has");
  const [a, b] = await Promise.all([own, libvips].map((png) => sharp(png).raw().toBuffer({ resolveWithObject: true })));
  t.same([a!.info.width, a!.info.height, a!.info.channels], [box.width, box.height, 4]);
  const hidden = (data: Buffer) => data.map((value, i) => (data[i - (i % 4) + 3] === 0 ? 0 : value));
  t.ok(a!.data.equals(hidden(b!.data)), 'both hold the same pixels, the hidden ones as zeros in png.ts\'s');
});
