// npm run generate-corpus: writes the hostile and unusual input corpus to
// test/fixtures/generated/corpus/ (git-ignored), one file per case, plus expected.json.
//
// Every case says what the service must answer: 200 for unusual but valid images (every EXIF
// orientation, CMYK, 16-bit, greyscale, palettes, alpha, progressive and interlaced files, each
// format), and the documented status and code for the rest (truncations, bit flips, bombs,
// formats the service does not read). test/corpus.test.ts builds the same list in memory.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { deflateSync } from 'node:zlib';
import sharp, { type Sharp } from 'sharp';
import { projectRoot } from '../src/config.js';
import type { ErrorCode } from '../src/errors.js';
import { seededRandom } from './seeded-random.js';

export interface CorpusCase {
  name: string;
  bytes: Buffer;
  expect: { status: 200 } | { status: number; code: ErrorCode };
  /** What the case is and why it gets that answer. */
  note: string;
}

/** The upright scene: a red disc in the top-left quadrant of a white 400x300 image. */
export const SCENE = { width: 400, height: 300, disc: { x: 110, y: 90, r: 60 } } as const;

const sceneSvg = (fill = '#d02020', background = '#ffffff') =>
  Buffer.from(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${SCENE.width}" height="${SCENE.height}">` +
      `<rect width="100%" height="100%" fill="${background}"/>` +
      `<circle cx="${SCENE.disc.x}" cy="${SCENE.disc.y}" r="${SCENE.disc.r}" fill="${fill}"/></svg>`,
  );
const scene = () => sharp(sceneSvg()).flatten({ background: '#ffffff' });

/** A PNG chunk with its CRC. */
function chunk(type: string, data: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([length, body, crc]);
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(bytes: Buffer): number {
  let crc = 0xffffffff;
  for (const byte of bytes) crc = CRC_TABLE[(crc ^ byte) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/** A valid PNG of `width` x `height` 1-bit greyscale zeros: tiny on disk, huge once decoded. */
function pngBomb(width: number, height: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([1, 0, 0, 0, 0], 8); // bit depth 1, greyscale, deflate, no filter, no interlace
  const rows = Buffer.alloc((1 + Math.ceil(width / 8)) * height); // filter byte 0 + zero pixels per row
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(rows, { level: 9 })),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/** A copy of a simple lossy WebP whose VP8 frame header claims `width` x `height` (14 bits each). */
function webpWithSize(webp: Buffer, width: number, height: number): Buffer {
  const copy = Buffer.from(webp);
  // RIFF header (12) + 'VP8 ' chunk header (8) + frame tag (3) + start code (3), then the sizes.
  copy.writeUInt16LE(width & 0x3fff, 26);
  copy.writeUInt16LE(height & 0x3fff, 28);
  return copy;
}

/** Offset of the first byte after a JPEG marker `marker` (e.g. 0xc0 for SOF0), or -1. */
function jpegSegment(jpeg: Buffer, marker: number): number {
  for (let i = 2; i < jpeg.length - 1; i++) if (jpeg[i] === 0xff && jpeg[i + 1] === marker) return i + 2;
  return -1;
}

/** A copy of a JPEG whose frame header claims another size. */
function jpegWithSize(jpeg: Buffer, width: number, height: number): Buffer {
  const copy = Buffer.from(jpeg);
  const sof = [0xc0, 0xc1, 0xc2].map((m) => jpegSegment(copy, m)).find((at) => at > 0)!;
  copy.writeUInt16BE(height, sof + 3);
  copy.writeUInt16BE(width, sof + 5);
  return copy;
}

/** A copy of `bytes` with `count` bits flipped between `from` and `to` (fractions of the length). */
function flipBits(bytes: Buffer, count: number, from: number, to: number, seed: number): Buffer {
  const copy = Buffer.from(bytes);
  const random = seededRandom(seed);
  for (let i = 0; i < count; i++) {
    const at = Math.floor((from + (to - from) * random()) * copy.length);
    copy[at]! ^= 1 << Math.floor(random() * 8);
  }
  return copy;
}

const ok = { status: 200 } as const;
const refused = (status: number, code: ErrorCode) => ({ status, code });

/** The whole corpus, built in memory. */
export async function buildCorpus(): Promise<CorpusCase[]> {
  const cases: CorpusCase[] = [];
  const add = (name: string, bytes: Buffer, expect: CorpusCase['expect'], note: string) => cases.push({ name, bytes, expect, note });

  const jpeg = await scene().jpeg({ quality: 90 }).toBuffer();
  const png = await scene().png().toBuffer();

  // Every EXIF orientation. The pixels are stored turned so that, once the tag is applied, the
  // scene is upright again: the disc must come out in the top-left quadrant of a 400x300 image.
  const storedAs: Record<number, (image: Sharp) => Sharp> = {
    1: (image) => image,
    2: (image) => image.flop(),
    3: (image) => image.rotate(180),
    4: (image) => image.flip(),
    5: (image) => image.rotate(90).flip(),
    6: (image) => image.rotate(270),
    7: (image) => image.rotate(90).flop(),
    8: (image) => image.rotate(90),
  };
  for (const [orientation, store] of Object.entries(storedAs)) {
    const stored = await store(sharp(await scene().png().toBuffer())).png().toBuffer();
    const bytes = await sharp(stored).jpeg({ quality: 90 }).withMetadata({ orientation: Number(orientation) }).toBuffer();
    add(`orientation-${orientation}.jpg`, bytes, ok, `EXIF orientation ${orientation}: upright once the tag is applied`);
  }

  // Colour models, bit depths, alpha and encodings.
  add('cmyk.jpg', await scene().toColourspace('cmyk').jpeg().toBuffer(), ok, 'CMYK JPEG, converted to sRGB');
  add('progressive.jpg', await scene().jpeg({ progressive: true }).toBuffer(), ok, 'progressive JPEG');
  add('greyscale.jpg', await scene().greyscale().jpeg().toBuffer(), ok, 'single-channel JPEG');
  add('low-quality.jpg', await scene().jpeg({ quality: 5 }).toBuffer(), ok, 'heavy compression artefacts');
  add('rgb16.png', await scene().toColourspace('rgb16').png().toBuffer(), ok, '16-bit PNG, brought to 8-bit');
  add('grey.png', await scene().greyscale().png().toBuffer(), ok, 'greyscale PNG');
  add('grey-alpha.png', await scene().greyscale().ensureAlpha(1).png().toBuffer(), ok, 'greyscale with an alpha channel');
  add('palette.png', await scene().png({ palette: true, colours: 16 }).toBuffer(), ok, 'palette PNG');
  const hiddenRight = Buffer.from(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${SCENE.width}" height="${SCENE.height}"><rect width="${SCENE.disc.x}" height="100%" fill="#000"/></svg>`,
  );
  const leftOnly = await sharp(sceneSvg()).flatten({ background: '#ffffff' }).ensureAlpha()
    .composite([{ input: hiddenRight, blend: 'dest-in' }]).png().toBuffer();
  add('rgba-half-hidden.png', leftOnly, ok, 'RGBA: the right half of the image (and of the disc) is fully transparent');
  add('palette-alpha.png', await sharp(leftOnly).png({ palette: true, colours: 16 }).toBuffer(), ok, 'palette PNG with transparency (tRNS)');
  add('interlaced.png', await scene().png({ progressive: true }).toBuffer(), ok, 'Adam7-interlaced PNG');
  add('lossy.webp', await scene().webp({ quality: 80 }).toBuffer(), ok, 'lossy WebP');
  add('lossless-alpha.webp', await sharp(leftOnly).webp({ lossless: true }).toBuffer(), ok, 'lossless WebP with alpha');
  add('still.gif', await scene().gif().toBuffer(), ok, 'GIF');
  const blankFrame = await sharp({ create: { width: SCENE.width, height: SCENE.height, channels: 3, background: '#ffffff' } }).png().toBuffer();
  add('animated.gif', await sharp([png, blankFrame], { join: { animated: true } }).gif().toBuffer(), ok, 'animated GIF: the first frame (with the disc) is used');
  add('animated.webp', await sharp([png, blankFrame], { join: { animated: true } }).webp().toBuffer(), ok, 'animated WebP: the first frame is used');
  add('image.avif', await scene().avif({ quality: 60 }).toBuffer(), ok, 'AVIF');
  add('lzw.tiff', await scene().tiff({ compression: 'lzw' }).toBuffer(), ok, 'TIFF, LZW-compressed');
  add('wide.png', await sharp({ create: { width: 3000, height: 60, channels: 3, background: '#ffffff' } })
    .composite([{ input: Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="400" height="60"><rect x="100" y="10" width="200" height="40" fill="#d02020"/></svg>'), left: 1300, top: 0 }])
    .png().toBuffer(), ok, 'extreme aspect ratio (50:1) with a subject in the middle');
  add('one-pixel.png', await sharp({ create: { width: 1, height: 1, channels: 3, background: '#d02020' } }).png().toBuffer(),
    refused(422, 'no_foreground'), 'a 1x1 image: one flat colour, nothing stands out');
  add('tall-blank.png', await sharp({ create: { width: 1, height: 4000, channels: 3, background: '#808080' } }).png().toBuffer(),
    refused(422, 'no_foreground'), '1x4000, flat: an extreme aspect ratio with nothing in it');

  // Truncations and corruption: the decoder must refuse, not guess.
  for (const fraction of [0.1, 0.5, 0.9]) {
    add(`truncated-${fraction * 100}.jpg`, jpeg.subarray(0, Math.floor(jpeg.length * fraction)), refused(422, 'image_decode_failed'), `JPEG cut at ${fraction * 100} %`);
  }
  add('truncated-50.png', png.subarray(0, Math.floor(png.length / 2)), refused(422, 'image_decode_failed'), 'PNG cut in half');
  add('truncated.webp', (await scene().webp().toBuffer()).subarray(0, 200), refused(422, 'image_decode_failed'), 'WebP cut after its first bytes');
  add('header-only.gif', Buffer.from('GIF89a\x01\x00\x01\x00', 'latin1'), refused(422, 'image_decode_failed'), 'a GIF header and nothing else');
  add('bad-crc.png', flipBits(png, 1, 0.5, 0.6, 7), refused(422, 'image_decode_failed'), 'one flipped bit inside compressed PNG data (checksum fails)');
  add('bit-flips-header.jpg', flipBits(jpeg, 8, 0.0, 0.05, 11), refused(422, 'image_decode_failed'), 'bits flipped in the JPEG headers');
  add('bit-flips-data.jpg', flipBits(jpeg, 100, 0.3, 0.9, 13), refused(422, 'image_decode_failed'), '100 bits flipped in the entropy-coded data (a few flips can go unnoticed: see the README)');
  add('zero-width.jpg', jpegWithSize(jpeg, 0, 300), refused(422, 'image_decode_failed'), 'a frame header with width 0');
  add('png-signature-then-html.png', Buffer.concat([png.subarray(0, 8), Buffer.from('<html><body>hi</body></html>')]), refused(422, 'image_decode_failed'), 'a PNG signature followed by HTML');
  add('empty-idat.png', Buffer.concat([png.subarray(0, 33), chunk('IDAT', Buffer.alloc(0)), chunk('IEND', Buffer.alloc(0))]), refused(422, 'image_decode_failed'), 'a PNG with an empty image-data chunk');

  // Bombs: small files that claim (or decode to) far more pixels than allowed. Refused from the header.
  add('bomb-1bit-10000x10000.png', pngBomb(10_000, 10_000), refused(413, 'too_many_pixels'), '100 megapixels of 1-bit zeros in a few kB');
  add('bomb-header-100000.png', Buffer.concat([pngBomb(1, 1).subarray(0, 16), (() => {
    const rest = Buffer.from(pngBomb(1, 1).subarray(16));
    rest.writeUInt32BE(100_000, 0);
    rest.writeUInt32BE(100_000, 4);
    rest.writeUInt32BE(crc32(Buffer.concat([Buffer.from('IHDR'), rest.subarray(0, 13)])), 13);
    return rest;
  })()]), refused(413, 'too_many_pixels'), 'a PNG header claiming 100000x100000 (10 gigapixels)');
  add('bomb-header-60000.jpg', jpegWithSize(jpeg, 60_000, 60_000), refused(413, 'too_many_pixels'), 'a JPEG frame header claiming 60000x60000');
  const gif = await scene().gif().toBuffer();
  const gifHuge = Buffer.from(gif);
  gifHuge.writeUInt16LE(65_535, 6);
  gifHuge.writeUInt16LE(65_535, 8);
  add('screen-65535.gif', gifHuge, ok, 'a GIF whose logical screen claims 65535x65535: libvips sizes the image from its frame (400x300), so nothing huge is allocated');
  const webp = await sharp({ create: { width: 20, height: 10, channels: 3, background: '#d02020' } }).webp().toBuffer();
  add('bomb-header-16383.webp', webpWithSize(webp, 16_383, 16_383), refused(413, 'too_many_pixels'), 'a WebP frame header claiming 16383x16383 (268 megapixels)');

  // Not images the service reads: refused from the bytes, whatever the Content-Type would say.
  const notImages: [string, string | Buffer, string][] = [
    ['drawing.svg', '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><circle r="5"/></svg>', 'SVG (scripts and external references; never rasterised)'],
    ['page.html', '<!doctype html><html><body><img src="x.png"></body></html>', 'HTML'],
    ['document.pdf', '%PDF-1.7\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n', 'PDF'],
    ['notes.txt', 'just some text', 'plain text'],
    ['empty.bin', Buffer.alloc(0), 'an empty body'],
    ['data.json', '{"image": "no"}', 'JSON'],
    ['archive.zip', Buffer.from('504b0304140000000000', 'hex'), 'a ZIP archive'],
    ['photo.heic', Buffer.concat([Buffer.from([0, 0, 0, 24]), Buffer.from('ftypheic'), Buffer.alloc(4), Buffer.from('mif1heic')]), 'HEIC (HEVC; not decodable here)'],
    ['bitmap.bmp', Buffer.concat([Buffer.from('BM'), Buffer.alloc(60)]), 'BMP'],
    ['icon.ico', Buffer.from('00000100010010100000010020006804000016000000', 'hex'), 'ICO'],
    ['layers.psd', Buffer.concat([Buffer.from('8BPS'), Buffer.alloc(40)]), 'Photoshop'],
    ['feed.xml', '<?xml version="1.0"?><rss></rss>', 'XML'],
    ['random.bin', Buffer.from(Array.from({ length: 4096 }, (() => { const r = seededRandom(3); return () => Math.floor(r() * 256); })())), 'random bytes'],
  ];
  for (const [name, content, note] of notImages) add(name, Buffer.isBuffer(content) ? content : Buffer.from(content), refused(415, 'unsupported_media_type'), note);

  return cases;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const folder = path.join(projectRoot, 'test', 'fixtures', 'generated', 'corpus');
  rmSync(folder, { recursive: true, force: true });
  mkdirSync(folder, { recursive: true });
  const cases = await buildCorpus();
  for (const item of cases) writeFileSync(path.join(folder, item.name), item.bytes);
  writeFileSync(
    path.join(folder, 'expected.json'),
    `${JSON.stringify(cases.map(({ name, expect, note }) => ({ name, ...expect, note })), null, 2)}\n`,
  );
  console.log(`wrote ${cases.length} files to ${folder}`);
}
