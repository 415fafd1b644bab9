// The PNG encoder: every result inflates with zlib (which checks the deflate stream and the
// Adler-32) to exactly the box's pixels, and decodes the same in libvips; parts join in any number.
import zlib from 'node:zlib';
import sharp from 'sharp';
import t from 'tap';
import type { Box } from '../../src/pipeline/compose.js';
import { assemblePng, canonicalCodes, codeLengths, combineAdler, deflateRows, encodePng } from '../../src/pipeline/png.js';
import { seededRandom } from '../../scripts/seeded-random.js';

/** An RGBA image: a cutout-like scene (transparent zeros around a textured, soft-edged disc), or noise. */
function image(width: number, height: number, kind: 'cutout' | 'noise' | 'empty', seed = 1): Uint8Array {
  const next = seededRandom(seed);
  const pixels = new Uint8Array(width * height * 4);
  if (kind === 'empty') return pixels;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const p = (y * width + x) * 4;
      if (kind === 'noise') {
        for (let c = 0; c < 4; c++) pixels[p + c] = Math.floor(next() * 256);
        continue;
      }
      const d = Math.hypot((x - width / 2) / (width / 2), (y - height / 2) / (height / 2));
      if (d > 0.9) continue; // cleared background
      pixels[p] = 120 + Math.round(60 * Math.sin(x / 7)) + Math.floor(next() * 8);
      pixels[p + 1] = 80 + Math.round(40 * Math.cos(y / 5));
      pixels[p + 2] = Math.floor(next() * 30);
      pixels[p + 3] = d > 0.8 ? Math.round(255 * (0.9 - d) * 10) : 255;
    }
  }
  return pixels;
}

/** The box's pixels, row after row, as the encoder writes them: hidden ones (alpha 0) as zeros. */
function crop(pixels: Uint8Array, width: number, box: Box): Buffer {
  const out = Buffer.alloc(box.width * box.height * 4);
  for (let y = 0; y < box.height; y++) {
    const from = ((box.top + y) * width + box.left) * 4;
    out.set(pixels.subarray(from, from + box.width * 4), y * box.width * 4);
  }
  for (let p = 0; p < out.length; p += 4) if (out[p + 3] === 0) out.fill(0, p, p + 4);
  return out;
}

/** The PNG's chunks, each checked against its CRC. */
function chunks(png: Buffer): { type: string; data: Buffer }[] {
  const out: { type: string; data: Buffer }[] = [];
  for (let at = 8; at < png.length; ) {
    const length = png.readUInt32BE(at);
    const type = png.toString('latin1', at + 4, at + 8);
    const data = png.subarray(at + 8, at + 8 + length);
    if ((zlib.crc32(png.subarray(at + 4, at + 8 + length)) >>> 0) !== png.readUInt32BE(at + 8 + length)) throw new Error(`bad CRC in ${type}`);
    out.push({ type, data });
    at += 12 + length;
  }
  return out;
}

/** Inflates the PNG with zlib (checking the stream and its Adler-32) and undoes the filters; RGBA 8-bit only. */
function unfilter(png: Buffer): { width: number; height: number; pixels: Buffer } {
  const all = chunks(png);
  const header = all[0]!.data;
  const width = header.readUInt32BE(0);
  const height = header.readUInt32BE(4);
  const raw = zlib.inflateSync(Buffer.concat(all.filter((c) => c.type === 'IDAT').map((c) => c.data)));
  const rowBytes = width * 4;
  if (raw.length !== height * (rowBytes + 1)) throw new Error(`inflated to ${raw.length} bytes`);
  const pixels = Buffer.alloc(width * height * 4);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (rowBytes + 1)]!;
    for (let i = 0; i < rowBytes; i++) {
      const value = raw[y * (rowBytes + 1) + 1 + i]!;
      const above = y > 0 ? pixels[(y - 1) * rowBytes + i]! : 0;
      if (filter === 0) pixels[y * rowBytes + i] = value;
      else if (filter === 2) pixels[y * rowBytes + i] = (value + above) & 0xff;
      else throw new Error(`filter ${filter}`);
    }
  }
  return { width, height, pixels };
}

t.test('a hidden pixel (alpha 0) is encoded as zeros whatever its colour; a visible one keeps its colour, however faint', async (t) => {
  // Row 0: hidden red, faint green (alpha 1), opaque blue; row 1 the same, so the 'up' filter sees both.
  const row = [255, 0, 0, 0, 0, 255, 0, 1, 0, 0, 255, 255];
  const pixels = Uint8Array.from([...row, ...row]);
  const box = { left: 0, top: 0, width: 3, height: 2 };
  const { pixels: decoded } = unfilter(encodePng(pixels, 3, box));
  t.same([...decoded], [0, 0, 0, 0, 0, 255, 0, 1, 0, 0, 255, 255, 0, 0, 0, 0, 0, 255, 0, 1, 0, 0, 255, 255]);
  t.same([...pixels.subarray(0, 4)], [255, 0, 0, 0], 'the source is not written');
});

t.test('a box of an image comes back exactly, through zlib and through libvips', async (t) => {
  const cases: [string, number, number, Box, 'cutout' | 'noise' | 'empty'][] = [
    ['one pixel', 1, 1, { left: 0, top: 0, width: 1, height: 1 }, 'cutout'],
    ['a box inside a larger image (its first row has no row above)', 40, 30, { left: 7, top: 5, width: 21, height: 13 }, 'cutout'],
    ['several blocks', 700, 1200, { left: 0, top: 0, width: 700, height: 1200 }, 'cutout'],
    ['all transparent', 300, 200, { left: 0, top: 0, width: 300, height: 200 }, 'empty'],
    ['noise (stored blocks)', 500, 600, { left: 3, top: 2, width: 490, height: 590 }, 'noise'],
  ];
  for (const [name, width, height, box, kind] of cases) {
    const pixels = image(width, height, kind);
    const png = encodePng(pixels, width, box);
    const expected = crop(pixels, width, box);
    const inflated = unfilter(png);
    t.same([inflated.width, inflated.height], [box.width, box.height], `${name}: size`);
    t.ok(inflated.pixels.equals(expected), `${name}: zlib's inflate gives the pixels`);
    const decoded = await sharp(png).raw().toBuffer({ resolveWithObject: true });
    t.equal(decoded.info.channels, 4);
    t.ok(decoded.data.equals(expected), `${name}: libvips decodes the pixels`);
    if (kind === 'noise') t.ok(png.length < expected.length * 1.01 + 200, `${name}: no larger than the data (${png.length} bytes)`);
    if (kind === 'empty') t.ok(png.length < 1000, `${name}: runs of zeros cost almost nothing (${png.length} bytes)`);
  }
});

t.test('parts made separately join into one stream, in any number', async (t) => {
  const width = 640;
  const height = 900;
  const pixels = image(width, height, 'cutout', 3);
  const box = { left: 10, top: 20, width: 600, height: 850 };
  const cuts = [0, 1, 300, 301, 849, 850];
  const parts = cuts.slice(1).map((bottom, i) => deflateRows(pixels, width, box, cuts[i]!, bottom));
  const png = assemblePng(box.width, box.height, parts);
  t.ok(unfilter(png).pixels.equals(crop(pixels, width, box)));
  const empty = deflateRows(pixels, width, box, 5, 5);
  t.same(empty.blocks, [], 'a part of no rows holds nothing');
  t.ok(unfilter(assemblePng(box.width, box.height, [deflateRows(pixels, width, box, 0, 5), empty, deflateRows(pixels, width, box, 5, 850)])).pixels.equals(crop(pixels, width, box)));
});

t.test('compresses a cutout better than libvips at level 1', async (t) => {
  const width = 800;
  const height = 600;
  const pixels = image(width, height, 'cutout', 5);
  const box = { left: 0, top: 0, width, height };
  const own = encodePng(pixels, width, box);
  const libvips = await sharp(pixels, { raw: { width, height, channels: 4 } }).png({ compressionLevel: 1, adaptiveFiltering: false }).toBuffer();
  t.ok(own.length < libvips.length, `${own.length} bytes against ${libvips.length}`);
});

t.test('combineAdler gives the Adler-32 of the joined bytes', async (t) => {
  const next = seededRandom(9);
  const adler = (bytes: Uint8Array): number => {
    let a = 1;
    let b = 0;
    for (const byte of bytes) {
      a = (a + byte) % 65521;
      b = (b + a) % 65521;
    }
    return ((b << 16) | a) >>> 0;
  };
  for (const [first, second] of [[0, 0], [1, 0], [0, 7], [100, 70_000], [65_521, 3], [5, 200_000]] as const) {
    const bytes = Uint8Array.from({ length: first + second }, () => Math.floor(next() * 256));
    t.equal(combineAdler(adler(bytes.subarray(0, first)), adler(bytes.subarray(first)), second), adler(bytes), `${first} + ${second} bytes`);
  }
});

t.test('code lengths stay within the limit and make a complete code', async (t) => {
  // Fibonacci counts make the deepest plain Huffman tree: 30 symbols would need 29 bits.
  const counts = [1, 1];
  while (counts.length < 30) counts.push(counts.at(-1)! + counts.at(-2)!);
  for (const limit of [7, 15]) {
    const lengths = codeLengths(counts, limit);
    t.ok(Math.max(...lengths) <= limit, `at most ${limit} bits`);
    t.equal([...lengths].reduce((sum, length) => sum + 2 ** -length, 0), 1, 'Kraft sum 1');
  }
  t.same([...codeLengths([0, 5, 0], 15)], [0, 1, 0], 'one symbol: one bit');
  t.same([...codeLengths([0, 0], 15)], [0, 0]);
  // Canonical codes of lengths 2, 1, 3, 3 (RFC 1951's example order), bit-reversed.
  const codes = canonicalCodes(Uint8Array.from([2, 1, 3, 3]));
  const reverse = (code: number, length: number): number => parseInt(code.toString(2).padStart(length, '0').split('').reverse().join(''), 2);
  t.same([...codes], [reverse(0b10, 2), reverse(0b0, 1), reverse(0b110, 3), reverse(0b111, 3)]);
});
