import t from 'tap';
import { overWhite, parseColour, prepareBackdrop } from '../../src/pipeline/background.js';
import { modelPixels, type DecodedImage } from '../../src/pipeline/decode.js';
import { MODEL_SIZE } from '../../src/pipeline/preprocess.js';

t.test('parseColour reads #rgb, #rrggbb and #rrggbbaa', async (t) => {
  t.same(parseColour('#f80'), { r: 255, g: 136, b: 0, alpha: 1 });
  t.same(parseColour('#FF8800'), { r: 255, g: 136, b: 0, alpha: 1 });
  t.same(parseColour('#ff880080'), { r: 255, g: 136, b: 0, alpha: 128 / 255 });
  for (const text of ['f80', '#ff88', '#ff88001', '#ggg', 'red', '']) t.throws(() => parseColour(text), RangeError, text);
});

t.test('overWhite makes a colour opaque as it looks on white', async (t) => {
  t.same(overWhite(parseColour('#000000ff')), { r: 0, g: 0, b: 0, alpha: 1 });
  t.same(overWhite(parseColour('#00000000')), { r: 255, g: 255, b: 255, alpha: 1 });
  t.same(overWhite(parseColour('#ff000080')), { r: 255, g: 127, b: 127, alpha: 1 });
});

t.test('prepareBackdrop: JPEG output (opaque) turns transparency into white', async (t) => {
  const image: DecodedImage = { format: 'png', width: 2, height: 2, hasAlpha: false, pixels: Buffer.alloc(16, 255) };
  const modelView = await modelPixels(image);
  const prepare = (opaque: boolean, background: Parameters<typeof prepareBackdrop>[0]) => prepareBackdrop(background, image, { opaque, maxPixels: 100, modelView });
  t.same(await prepare(false, { kind: 'transparent' }), { kind: 'none' });
  t.same(await prepare(true, { kind: 'transparent' }), { kind: 'colour', colour: { r: 255, g: 255, b: 255, alpha: 1 } });
  t.same(await prepare(true, { kind: 'colour', colour: parseColour('#00000000') }), { kind: 'colour', colour: { r: 255, g: 255, b: 255, alpha: 1 } });
  t.same(await prepare(false, { kind: 'colour', colour: parseColour('#00000080') }), { kind: 'colour', colour: parseColour('#00000080') });
});

t.test("the blurred backdrop is made from the model's view, in the image's proportions; what the input hid stays hidden", async (t) => {
  const width = 1000;
  const height = 500;
  const image: DecodedImage = { format: 'png', width, height, hasAlpha: true, pixels: Buffer.alloc(width * height * 4) }; // black, fully transparent
  const backdrop = await prepareBackdrop({ kind: 'blur' }, image, { opaque: false, maxPixels: 1e8, modelView: await modelPixels(image) });
  if (backdrop.kind !== 'blurred') throw new Error(backdrop.kind);
  t.same([backdrop.width, backdrop.height, backdrop.imageWidth, backdrop.imageHeight], [MODEL_SIZE, MODEL_SIZE / 2, width, height]);
  t.equal(backdrop.pixels.length, MODEL_SIZE * (MODEL_SIZE / 2) * 3);
  t.ok(backdrop.pixels.every((value) => value === 255), 'hidden black shows as white');
});
