// Seeded mutations of image files: the generic ones of any byte fuzzer (bit flips, insertions,
// deletions, truncation, interesting values, spliced files) and structural ones that know where
// each accepted format keeps its dimensions, chunk lengths, EXIF orientation and ICC profile, so a
// case reaches the decoder's deeper paths instead of failing at the first checksum.
import type { ImageFormat } from '../../src/pipeline/decode.js';

export type Random = () => number;

export interface Mutated {
  bytes: Buffer;
  /** What was done, in order (for the report and for a fixture's name). */
  steps: string[];
}

const int = (random: Random, below: number): number => Math.floor(random() * below);
const pick = <T>(random: Random, items: readonly T[]): T => items[int(random, items.length)]!;

/** Values that break arithmetic: zero, one, signed and unsigned edges, for 1, 2 and 4 bytes. */
const INTERESTING = [0, 1, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xffffffff];

/** Writes `value` (truncated to `size` bytes) at `at`, big- or little-endian; out of range does nothing. */
function put(bytes: Buffer, at: number, size: 1 | 2 | 3 | 4, value: number, littleEndian = false): void {
  if (at < 0 || at + size > bytes.length) return;
  for (let i = 0; i < size; i++) {
    const shift = 8 * (littleEndian ? i : size - 1 - i);
    bytes[at + i] = Math.floor(value / 2 ** shift) & 0xff;
  }
}

/** A new value for a size or length field: an interesting one, or the old one nudged. */
function fieldValue(random: Random, old: number, max: number): number {
  const value = random() < 0.5 ? pick(random, INTERESTING) : old + pick(random, [-1, 1, -8, 8, -256, 256]) * (1 + int(random, 4));
  return Math.max(0, Math.min(max, value));
}

const read = (bytes: Buffer, at: number, size: 2 | 4, littleEndian = false): number =>
  at + size > bytes.length ? 0 : size === 2 ? (littleEndian ? bytes.readUInt16LE(at) : bytes.readUInt16BE(at)) : littleEndian ? bytes.readUInt32LE(at) : bytes.readUInt32BE(at);

// ---- Generic mutations ----

type Mutator = (bytes: Buffer, random: Random, others: readonly Buffer[]) => { bytes: Buffer; step: string } | null;

/** Somewhere in the file, half the time in its first 512 bytes, where the headers are. */
const position = (random: Random, length: number): number => (random() < 0.5 ? int(random, Math.min(length, 512)) : int(random, length));

const bitFlips: Mutator = (bytes, random) => {
  if (bytes.length === 0) return null;
  const copy = Buffer.from(bytes);
  const count = 1 + int(random, random() < 0.7 ? 4 : 64);
  for (let i = 0; i < count; i++) copy[position(random, copy.length)]! ^= 1 << int(random, 8);
  return { bytes: copy, step: `flip${count}` };
};

const insertBytes: Mutator = (bytes, random) => {
  const at = position(random, bytes.length + 1);
  const length = 1 + int(random, random() < 0.8 ? 16 : 4096);
  const filler = random() < 0.5 ? Buffer.from(Array.from({ length }, () => int(random, 256))) : Buffer.alloc(length, pick(random, [0, 0xff, 0x41]));
  return { bytes: Buffer.concat([bytes.subarray(0, at), filler, bytes.subarray(at)]), step: `insert${length}@${at}` };
};

const deleteBytes: Mutator = (bytes, random) => {
  if (bytes.length < 2) return null;
  const at = position(random, bytes.length);
  const length = 1 + int(random, Math.min(bytes.length - at, random() < 0.8 ? 16 : 4096));
  return { bytes: Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + length)]), step: `delete${length}@${at}` };
};

const truncate: Mutator = (bytes, random) => {
  if (bytes.length < 2) return null;
  const at = random() < 0.3 ? int(random, Math.min(bytes.length, 64)) : int(random, bytes.length);
  return { bytes: bytes.subarray(0, at), step: `truncate@${at}` };
};

const interesting: Mutator = (bytes, random) => {
  if (bytes.length < 4) return null;
  const copy = Buffer.from(bytes);
  const size = pick(random, [1, 2, 4] as const);
  const at = position(random, copy.length - size + 1);
  put(copy, at, size, pick(random, INTERESTING), random() < 0.5);
  return { bytes: copy, step: `value${size}@${at}` };
};

const duplicate: Mutator = (bytes, random) => {
  if (bytes.length < 8) return null;
  const from = int(random, bytes.length);
  const length = 1 + int(random, Math.min(bytes.length - from, 1024));
  const to = position(random, bytes.length);
  return { bytes: Buffer.concat([bytes.subarray(0, to), bytes.subarray(from, from + length), bytes.subarray(to)]), step: `duplicate${length}` };
};

/** The head of this file and the tail of another (of any format). */
const splice: Mutator = (bytes, random, others) => {
  if (others.length === 0 || bytes.length < 2) return null;
  const other = pick(random, others);
  const cut = int(random, bytes.length);
  return { bytes: Buffer.concat([bytes.subarray(0, cut), other.subarray(int(random, other.length))]), step: 'splice' };
};

// ---- Structural mutations, per format ----

/** A chunk's four-letter type, or "junk" when the bytes there are not letters (a broken file). */
const fourCC = (bytes: Buffer, at: number): string => {
  const type = bytes.toString('latin1', at, at + 4);
  return /^[A-Za-z0-9 ]{4}$/.test(type) ? type : 'junk';
};

/** PNG chunks: where each one's length field is, its type and where its data starts. */
function pngChunks(bytes: Buffer): { at: number; type: string; length: number }[] {
  const chunks = [];
  for (let at = 8; at + 12 <= bytes.length && chunks.length < 64; ) {
    const length = bytes.readUInt32BE(at);
    chunks.push({ at, type: fourCC(bytes, at + 4), length });
    at += 12 + length;
  }
  return chunks;
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) crc = CRC_TABLE[(crc ^ byte) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

function mutatePng(bytes: Buffer, random: Random): { bytes: Buffer; step: string } | null {
  const chunks = pngChunks(bytes);
  if (chunks.length === 0) return null;
  const copy = Buffer.from(bytes);
  const chunk = random() < 0.5 ? chunks[0]! : pick(random, chunks);
  if (chunk.type === 'IHDR' && chunk.length === 13) {
    // Width, height, bit depth, colour type, interlace; the CRC fixed most of the time, so the change is believed.
    const field = pick(random, [[0, 4, 'width'], [4, 4, 'height'], [8, 1, 'depth'], [9, 1, 'colour'], [12, 1, 'interlace']] as const);
    const at = chunk.at + 8 + field[0];
    put(copy, at, field[1], fieldValue(random, read(copy, at, field[1] === 4 ? 4 : 2) >>> (field[1] === 1 ? 8 : 0), field[1] === 4 ? 0xffffffff : 0xff));
    if (random() < 0.8) put(copy, chunk.at + 8 + 13, 4, crc32(copy.subarray(chunk.at + 4, chunk.at + 8 + 13)));
    return { bytes: copy, step: `png-ihdr-${field[2]}` };
  }
  put(copy, chunk.at, 4, fieldValue(random, chunk.length, 0xffffffff));
  return { bytes: copy, step: `png-${chunk.type}-length` };
}

/** JPEG marker segments before the scan: where each length field is, and the marker. */
function jpegSegments(bytes: Buffer): { at: number; marker: number; length: number }[] {
  const segments = [];
  for (let at = 2; at + 4 <= bytes.length && segments.length < 64; ) {
    if (bytes[at] !== 0xff) break;
    const marker = bytes[at + 1]!;
    const length = bytes.readUInt16BE(at + 2);
    segments.push({ at: at + 2, marker, length });
    if (marker === 0xda) break; // start of scan: entropy-coded data follows
    at += 2 + length;
  }
  return segments;
}

/** A TIFF structure's IFD0 entries (also EXIF's, which is a TIFF inside JPEG's APP1), from `base`. */
function tiffEntries(bytes: Buffer, base: number): { little: boolean; entries: { at: number; tag: number }[] } | null {
  const order = bytes.toString('latin1', base, base + 2);
  if (order !== 'II' && order !== 'MM') return null;
  const little = order === 'II';
  const ifd = base + read(bytes, base + 4, 4, little);
  const count = read(bytes, ifd, 2, little);
  const entries = [];
  for (let i = 0; i < Math.min(count, 64); i++) {
    const at = ifd + 2 + 12 * i;
    if (at + 12 > bytes.length) break;
    entries.push({ at, tag: read(bytes, at, 2, little) });
  }
  return { little, entries };
}

/** Breaks one field of an ICC profile's header or tag table, starting at `at`. */
function mutateIcc(copy: Buffer, at: number, random: Random): string {
  // size, preferred CMM, version, class, colour space, PCS, 'acsp' signature, rendering intent, tag count.
  const field = pick(random, [[0, 4, 'size'], [8, 4, 'version'], [12, 4, 'class'], [16, 4, 'space'], [20, 4, 'pcs'], [36, 4, 'acsp'], [64, 4, 'intent'], [128, 4, 'tags'], [132 + 4, 4, 'tag-offset'], [132 + 8, 4, 'tag-size']] as const);
  put(copy, at + field[0], field[1], fieldValue(random, read(copy, at + field[0], 4), 0xffffffff));
  return `icc-${field[2]}`;
}

function mutateJpeg(bytes: Buffer, random: Random): { bytes: Buffer; step: string } | null {
  const segments = jpegSegments(bytes);
  if (segments.length === 0) return null;
  const copy = Buffer.from(bytes);
  const choice = random();
  const exif = segments.find((s) => s.marker === 0xe1 && copy.toString('latin1', s.at + 2, s.at + 8) === 'Exif\0\0');
  const icc = segments.find((s) => s.marker === 0xe2 && copy.toString('latin1', s.at + 2, s.at + 14) === 'ICC_PROFILE\0');
  const frame = segments.find((s) => s.marker >= 0xc0 && s.marker <= 0xcf && ![0xc4, 0xc8, 0xcc].includes(s.marker));
  if (choice < 0.25 && exif) {
    const tiff = tiffEntries(copy, exif.at + 8);
    const orientation = tiff?.entries.find((entry) => entry.tag === 0x0112);
    if (tiff && orientation) {
      put(copy, orientation.at + 8, 2, pick(random, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 255, 0xffff]), tiff.little);
      return { bytes: copy, step: 'jpeg-exif-orientation' };
    }
    if (tiff && tiff.entries.length > 0) {
      const entry = pick(random, tiff.entries);
      put(copy, entry.at + 2 + 2 * int(random, 5), 2, pick(random, INTERESTING), tiff.little); // type, count or value
      return { bytes: copy, step: 'jpeg-exif-entry' };
    }
  }
  if (choice < 0.45 && icc) return { bytes: copy, step: `jpeg-${mutateIcc(copy, icc.at + 16, random)}` };
  if (choice < 0.75 && frame) {
    // Precision, height, width, component count.
    const field = pick(random, [[2, 1, 'precision'], [3, 2, 'height'], [5, 2, 'width'], [7, 1, 'components']] as const);
    put(copy, frame.at + field[0], field[1], fieldValue(random, read(copy, frame.at + field[0], 2) >>> (field[1] === 1 ? 8 : 0), field[1] === 2 ? 0xffff : 0xff));
    return { bytes: copy, step: `jpeg-frame-${field[2]}` };
  }
  const segment = pick(random, segments);
  put(copy, segment.at, 2, fieldValue(random, segment.length, 0xffff));
  return { bytes: copy, step: `jpeg-${segment.marker.toString(16)}-length` };
}

function mutateWebp(bytes: Buffer, random: Random): { bytes: Buffer; step: string } | null {
  if (bytes.length < 30) return null;
  const copy = Buffer.from(bytes);
  const chunks: { at: number; type: string }[] = [];
  for (let at = 12; at + 8 <= copy.length && chunks.length < 64; ) {
    chunks.push({ at, type: fourCC(copy, at) });
    at += 8 + copy.readUInt32LE(at + 4) + (copy.readUInt32LE(at + 4) & 1);
  }
  const chunk = chunks.length > 0 ? pick(random, chunks) : undefined;
  const choice = random();
  if (choice < 0.15 || !chunk) {
    put(copy, 4, 4, fieldValue(random, copy.readUInt32LE(4), 0xffffffff), true);
    return { bytes: copy, step: 'webp-riff-size' };
  }
  if (choice < 0.6) {
    const data = chunk.at + 8;
    if (chunk.type === 'VP8X') put(copy, data + 4 + 3 * int(random, 2), 3, fieldValue(random, 0, 0xffffff), true); // canvas width or height - 1
    else if (chunk.type === 'VP8 ') put(copy, data + 6 + 2 * int(random, 2), 2, fieldValue(random, read(copy, data + 6, 2, true), 0xffff), true);
    else if (chunk.type === 'VP8L') put(copy, data + 1, 4, fieldValue(random, read(copy, data + 1, 4, true), 0xffffffff), true); // 14-bit sizes, alpha, version
    else if (chunk.type === 'ICCP') return { bytes: copy, step: `webp-${mutateIcc(copy, data, random)}` };
    else if (chunk.type === 'ANMF') put(copy, data + 6 + 3 * int(random, 4), 3, fieldValue(random, 0, 0xffffff), true); // frame x, y, width, height
    else copy[data + int(random, 8)] = int(random, 256);
    return { bytes: copy, step: `webp-${chunk.type.trim()}-fields` };
  }
  put(copy, chunk.at + 4, 4, fieldValue(random, copy.readUInt32LE(chunk.at + 4), 0xffffffff), true);
  return { bytes: copy, step: `webp-${chunk.type.trim()}-length` };
}

function mutateGif(bytes: Buffer, random: Random): { bytes: Buffer; step: string } | null {
  if (bytes.length < 13) return null;
  const copy = Buffer.from(bytes);
  const descriptor = copy.indexOf(0x2c, 13); // the first image descriptor (or a byte that looks like one)
  const choice = random();
  if (choice < 0.3) {
    put(copy, 6 + 2 * int(random, 2), 2, fieldValue(random, copy.readUInt16LE(6), 0xffff), true);
    return { bytes: copy, step: 'gif-screen-size' };
  }
  if (choice < 0.7 && descriptor > 0 && descriptor + 11 <= copy.length) {
    put(copy, descriptor + 1 + 2 * int(random, 4), 2, fieldValue(random, copy.readUInt16LE(descriptor + 5), 0xffff), true); // left, top, width, height
    return { bytes: copy, step: 'gif-frame-box' };
  }
  if (choice < 0.85 && descriptor > 0 && descriptor + 10 < copy.length) {
    const packed = copy[descriptor + 9]!;
    const lzwAt = descriptor + 10 + (packed & 0x80 ? 3 * 2 ** ((packed & 7) + 1) : 0);
    if (lzwAt < copy.length) copy[lzwAt] = pick(random, [0, 1, 2, 8, 11, 12, 13, 255]);
    return { bytes: copy, step: 'gif-lzw-code-size' };
  }
  copy[10] = int(random, 256); // global colour table flag and size
  return { bytes: copy, step: 'gif-colour-table' };
}

function mutateTiff(bytes: Buffer, random: Random): { bytes: Buffer; step: string } | null {
  const tiff = tiffEntries(bytes, 0);
  if (!tiff || tiff.entries.length === 0) return null;
  const copy = Buffer.from(bytes);
  const icc = tiff.entries.find((entry) => entry.tag === 34675);
  if (icc && random() < 0.2) return { bytes: copy, step: `tiff-${mutateIcc(copy, read(copy, icc.at + 8, 4, tiff.little), random)}` };
  // Width, height, bits per sample, compression, photometric, strip offsets, samples, rows per strip, strip sizes: or any.
  const wanted = [256, 257, 258, 259, 262, 273, 277, 278, 279];
  const candidates = tiff.entries.filter((entry) => wanted.includes(entry.tag));
  const entry = random() < 0.8 && candidates.length > 0 ? pick(random, candidates) : pick(random, tiff.entries);
  const field = pick(random, [[2, 2, 'type'], [4, 4, 'count'], [8, 4, 'value']] as const);
  put(copy, entry.at + field[0], field[1], fieldValue(random, read(copy, entry.at + field[0], field[1], tiff.little), field[1] === 2 ? 0xffff : 0xffffffff), tiff.little);
  if (random() < 0.1) put(copy, tiff.entries[0]!.at - 2, 2, fieldValue(random, tiff.entries.length, 0xffff), tiff.little); // the entry count
  return { bytes: copy, step: `tiff-${entry.tag}-${field[2]}` };
}

const BOXES = ['ftyp', 'meta', 'hdlr', 'pitm', 'iloc', 'iinf', 'infe', 'iprp', 'ipco', 'ispe', 'colr', 'av1C', 'pixi', 'ipma', 'iref', 'auxC', 'mdat'];

function mutateAvif(bytes: Buffer, random: Random): { bytes: Buffer; step: string } | null {
  const copy = Buffer.from(bytes);
  const boxes: { at: number; type: string }[] = [];
  for (const type of BOXES) {
    for (let at = copy.indexOf(type, 4, 'latin1'); at >= 4 && boxes.length < 64; at = copy.indexOf(type, at + 4, 'latin1')) boxes.push({ at: at - 4, type });
  }
  if (boxes.length === 0) return null;
  const box = pick(random, boxes);
  const data = box.at + 8;
  if (box.type === 'ispe' && random() < 0.7) {
    put(copy, data + 4 + 4 * int(random, 2), 4, fieldValue(random, read(copy, data + 4, 4), 0xffffffff)); // after version/flags: width, height
    return { bytes: copy, step: 'avif-ispe-size' };
  }
  if (box.type === 'colr' && copy.toString('latin1', data, data + 4) === 'prof' && random() < 0.7) return { bytes: copy, step: `avif-${mutateIcc(copy, data + 4, random)}` };
  if (random() < 0.5) {
    put(copy, box.at, 4, fieldValue(random, read(copy, box.at, 4), 0xffffffff));
    return { bytes: copy, step: `avif-${box.type}-size` };
  }
  put(copy, data + int(random, 16), 1, int(random, 256));
  return { bytes: copy, step: `avif-${box.type}-fields` };
}

const STRUCTURAL: Record<ImageFormat, (bytes: Buffer, random: Random) => { bytes: Buffer; step: string } | null> = {
  png: mutatePng,
  jpeg: mutateJpeg,
  webp: mutateWebp,
  gif: mutateGif,
  tiff: mutateTiff,
  avif: mutateAvif,
};

const GENERIC: readonly Mutator[] = [bitFlips, insertBytes, deleteBytes, truncate, interesting, duplicate, splice];

/**
 * One to three mutations of `bytes` (a file in `format`), structural half the time. The same seed
 * of `random` gives the same result.
 */
export function mutate(bytes: Buffer, format: ImageFormat, random: Random, others: readonly Buffer[] = []): Mutated {
  let current = bytes;
  const steps: string[] = [];
  const rounds = 1 + (random() < 0.3 ? int(random, 3) : 0);
  for (let round = 0; round < rounds; round++) {
    // Structural changes are made on what the file still is (a format's parser may no longer find anything).
    const result = random() < 0.5 ? STRUCTURAL[format](current, random) : pick(random, GENERIC)(current, random, others);
    if (!result) continue;
    current = result.bytes;
    steps.push(result.step);
  }
  if (steps.length === 0) {
    const result = bitFlips(current, random, others) ?? { bytes: current, step: 'none' };
    current = result.bytes;
    steps.push(result.step);
  }
  return { bytes: current, steps };
}
