import sharp from 'sharp';
import t from 'tap';
import { ACCEPTED_FORMATS, decodeImage, decodesSmall, modelPixels, pixelWords, modelPixelsFromBytes, readHeader, sniffFormat } from '../../src/pipeline/decode.js';
import { MODEL_SIZE } from '../../src/pipeline/preprocess.js';

const limits = { maxPixels: 50_000_000 };
const base = () => sharp({ create: { width: 40, height: 20, channels: 3, background: '#3080c0' } });

t.test('sniffFormat recognises each accepted format from its bytes', async (t) => {
  const encoded = {
    jpeg: await base().jpeg().toBuffer(),
    png: await base().png().toBuffer(),
    webp: await base().webp().toBuffer(),
    gif: await base().gif().toBuffer(),
    avif: await base().avif().toBuffer(),
    tiff: await base().tiff().toBuffer(),
  };
  for (const format of ACCEPTED_FORMATS) t.equal(sniffFormat(encoded[format]), format, format);
  t.equal(sniffFormat(await base().tiff({ bigtiff: false }).toBuffer()), 'tiff');
});

t.test('sniffFormat refuses what is not an accepted image', async (t) => {
  const texts = ['<svg xmlns="http://www.w3.org/2000/svg"/>', '<!doctype html><html>', '%PDF-1.7', 'hello', ''];
  for (const text of texts) t.equal(sniffFormat(Buffer.from(text)), null, JSON.stringify(text.slice(0, 10)));
  const heic = Buffer.concat([Buffer.from([0, 0, 0, 24]), Buffer.from('ftypheic'), Buffer.alloc(4), Buffer.from('mif1heic')]);
  t.equal(sniffFormat(heic), null, 'HEIC is not AVIF');
  const avifMinor = Buffer.concat([Buffer.from([0, 0, 0, 20]), Buffer.from('ftypmif1'), Buffer.from('avif'), Buffer.from('miaf')]);
  t.equal(sniffFormat(avifMinor), null, 'the minor-version field is not a brand');
  const avifCompatible = Buffer.concat([Buffer.from([0, 0, 0, 24]), Buffer.from('ftypmif1'), Buffer.alloc(4), Buffer.from('miafavif')]);
  t.equal(sniffFormat(avifCompatible), 'avif', 'a compatible brand counts');
});

t.test("decodes to 8-bit sRGB RGBA: the input's own alpha, or opaque", async (t) => {
  const jpeg = await decodeImage(await base().jpeg().toBuffer(), limits);
  t.match(jpeg, { format: 'jpeg', width: 40, height: 20, hasAlpha: false });
  t.equal(jpeg.pixels.length, 40 * 20 * 4);
  t.equal(jpeg.pixels[3], 255, 'opaque');

  const rgba = await decodeImage(await base().ensureAlpha(0.5).png().toBuffer(), limits);
  t.equal(rgba.hasAlpha, true);
  t.ok(Math.abs(rgba.pixels[3]! - 127.5) <= 0.5, 'alpha kept');

  const grey = await decodeImage(await base().greyscale().png().toBuffer(), limits);
  t.equal(grey.pixels.length, 40 * 20 * 4, 'greyscale widened to RGBA');
  t.equal(grey.pixels[0], grey.pixels[1]);

  const sixteen = await decodeImage(await base().toColourspace('rgb16').png().toBuffer(), limits);
  t.equal(sixteen.pixels.length, 40 * 20 * 4, '16-bit brought to 8-bit');
  t.ok(Math.abs(sixteen.pixels[2]! - jpeg.pixels[2]!) < 8, 'same colour');
});

t.test('EXIF orientation is applied', async (t) => {
  const rotated = await base().jpeg().withMetadata({ orientation: 6 }).toBuffer();
  const image = await decodeImage(rotated, limits);
  t.equal(image.width, 20);
  t.equal(image.height, 40);
});

t.test('too many pixels is refused from the header', async (t) => {
  const big = await sharp({ create: { width: 2000, height: 1000, channels: 3, background: '#fff' } }).png().toBuffer();
  await t.rejects(decodeImage(big, { maxPixels: 1_999_999 }), { code: 'too_many_pixels', statusCode: 413 });
  t.ok(await decodeImage(big, { maxPixels: 2_000_000 }));
});

t.test('non-images and corrupt images get their codes', async (t) => {
  await t.rejects(decodeImage(Buffer.from('<svg/>'), limits), { code: 'unsupported_media_type', statusCode: 415 });
  await t.rejects(decodeImage(Buffer.alloc(0), limits), { code: 'unsupported_media_type' });
  const jpeg = await sharp({ create: { width: 400, height: 300, channels: 3, background: '#abc' } }).jpeg().toBuffer();
  const truncated = jpeg.subarray(0, jpeg.length / 2);
  await t.rejects(decodeImage(truncated, limits), { code: 'image_decode_failed', statusCode: 422 }, 'truncated');
  const header = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3]);
  await t.rejects(decodeImage(header, limits), { code: 'image_decode_failed', statusCode: 422 });
});

t.test('modelPixels squashes to the model size, ignoring the aspect ratio, and flattens alpha on white', async (t) => {
  const clear = await sharp({ create: { width: 90, height: 10, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0 } } }).png().toBuffer();
  const pixels = await modelPixels(await decodeImage(clear, limits));
  t.equal(pixels.length, MODEL_SIZE * MODEL_SIZE * 3);
  t.ok(pixels.every((v) => v === 255), 'hidden black pixels are shown to the model as white');
});

t.test('for JPEG, the model input decoded small from the bytes matches the one made from the full decode', async (t) => {
  const scene = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="1600" height="900"><rect width="100%" height="100%" fill="#eee"/><circle cx="400" cy="300" r="200" fill="#c03020"/></svg>');
  const jpeg = await sharp(scene).jpeg({ quality: 92 }).withMetadata({ orientation: 6 }).toBuffer();
  const header = await readHeader(jpeg, limits);
  t.ok(decodesSmall(header), 'JPEG decodes small');
  t.notOk(decodesSmall(await readHeader(await base().png().toBuffer(), limits)), 'PNG does not');
  const small = await modelPixelsFromBytes(jpeg, header, limits);
  const full = await modelPixels(await decodeImage(jpeg, limits));
  t.equal(small.length, full.length);
  let difference = 0;
  for (let i = 0; i < small.length; i++) difference += Math.abs(small[i]! - full[i]!);
  t.ok(difference / small.length < 2, `mean difference ${(difference / small.length).toFixed(2)} grey levels, orientation applied alike`);
});

t.test('for other formats, the model input decoded from the bytes is the one made from the full decode, pixel for pixel', async (t) => {
  const scene = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="900" height="600"><rect width="100%" height="100%" fill="#eee"/><circle cx="300" cy="250" r="180" fill="#c03020" fill-opacity="0.8"/><rect x="500" y="50" width="300" height="400" fill="#2050a0"/></svg>');
  const sources: Record<string, Buffer> = {
    png: await sharp(scene).flatten({ background: '#eee' }).png().toBuffer(),
    'png with alpha': await sharp(scene).png().toBuffer(),
    'palette png': await sharp(scene).flatten({ background: '#eee' }).png({ palette: true }).toBuffer(),
    // WebP's loader can shrink while decoding too; that would be another view, so it is not used.
    webp: await sharp(scene).flatten({ background: '#eee' }).webp({ quality: 90 }).toBuffer(),
    'webp with alpha': await sharp(scene).webp({ quality: 90 }).toBuffer(),
    tiff: await sharp(scene).flatten({ background: '#eee' }).tiff().toBuffer(),
  };
  for (const [name, bytes] of Object.entries(sources)) {
    const header = await readHeader(bytes, limits);
    t.notOk(decodesSmall(header), `${name} does not decode small`);
    const fromBytes = await modelPixelsFromBytes(bytes, header, limits);
    const fromPixels = await modelPixels(await decodeImage(bytes, limits));
    t.ok(fromBytes.equals(fromPixels), `${name}: the same ${fromBytes.length} bytes`);
  }
});

t.test('an AVIF is sized from its own ispe box: a claimed 2^31 - 1 px width is refused, not read as 1 px (found by the fuzzer)', async (t) => {
  const avif = await sharp({ create: { width: 96, height: 64, channels: 3, background: '#d02020' } }).avif({ effort: 0 }).toBuffer();
  t.same(await readHeader(avif, { maxPixels: 50e6 }), { format: 'avif', width: 96, height: 64, hasAlpha: false }, 'a plain AVIF');
  const ispe = avif.indexOf('ispe', 0, 'latin1');
  const claim = (width: number, height: number) => {
    const copy = Buffer.from(avif);
    copy.writeUInt32BE(width, ispe + 8);
    copy.writeUInt32BE(height, ispe + 12);
    return copy;
  };
  // libvips' own metadata of this file says 1x64 (GLib clamps the width).
  await t.rejects(readHeader(claim(0x7fffffff, 64), { maxPixels: 50e6 }), { code: 'too_many_pixels', message: /2147483647x64/ });
  await t.rejects(readHeader(claim(10_000, 10_000), { maxPixels: 50e6 }), { code: 'too_many_pixels', message: /10000x10000/ });
  await t.rejects(readHeader(claim(0xffffffff, 64), { maxPixels: 50e6 }), { code: 'image_decode_failed' });
});

t.test('pixelWords: one little-endian word a pixel, a view of the same memory when aligned, a copy when not', async (t) => {
  const pixels = Buffer.from([1, 2, 3, 4, 250, 251, 252, 253]);
  const words = pixelWords(pixels);
  t.equal(words.length, 2);
  t.equal(words[0], 0x04030201, 'red in the low byte, alpha in the high one');
  t.equal(words[1]! >>> 24, 253);
  pixels[0] = 9;
  t.equal(words[0]! & 255, 9, 'aligned: a view');
  const backing = Buffer.alloc(9);
  const unaligned = backing.subarray(1);
  unaligned.set([5, 6, 7, 8, 1, 1, 1, 1]);
  const copied = pixelWords(unaligned);
  t.equal(copied[0], 0x08070605, 'unaligned: the same words, copied');
});
