// The transparent PNG of a cutout, encoded here rather than by libvips: rows filtered 'up' (each
// byte minus the one above it), then deflated with a Huffman code fitted to each block of about a
// megabyte, and runs of zero bytes (the cleared background, flat colour) as matches one byte back.
// Hidden pixels (alpha 0) are written as zeros whatever colour they hold, so the pipeline clears
// only what lies outside the subject's region before it (compose.ts clearOutside): at 12 MP the
// clearing and the encode took 110 against 132 ms on one thread, the same bytes (measured).
//
// Why: libvips' zlib at level 1, with no filtering (adaptive filtering doubles its time), spends
// its effort on string matching that finds little in a photo. Photos compress through their
// filtered differences, which are small numbers: entropy coding alone gets most of the way. On
// cutouts of bike.jpg (README, Performance) the files are about 40 % smaller than libvips' level 1
// (close to its level 6 with adaptive filtering, which takes eight times as long), for 1.1 to 1.3
// times its time on one thread (12 MP: 103 against 91 ms; 1 MP: 13 against 10 ms). And the rows
// split: the row worker (row-pool.ts) deflates the bottom half while this thread does the top (12
// MP: 72 ms), each half a run of whole blocks ending on a byte boundary, so the two are joined as
// they are.
//
// What a part of the stream holds, so that parts can be joined in any number: complete deflate
// blocks ending with an empty stored block (zlib's sync flush), whose matches never reach back
// before the part's own first byte. The final empty block and the Adler-32 of the whole are added
// by the assembly.
import zlib from 'node:zlib';
import type { Box } from './compose.js';
import { pixelWords } from './decode.js';

/** One part of the zlib stream: byte-aligned deflate blocks, and what the checksum needs of them. */
export interface DeflatedRows {
  blocks: Uint8Array[];
  /** Adler-32 of the filtered bytes the part encodes. */
  adler: number;
  /** How many filtered bytes (one filter byte and four bytes a pixel, a row) it encodes. */
  length: number;
}

/** Raw bytes a block covers, about: big enough that the code tables cost nothing, small enough to fit a cache. */
const BLOCK_BYTES = 1 << 20;
const FILTER_UP = 2;
const END_OF_BLOCK = 256;
const MAX_CODE_BITS = 15;
const ADLER_BASE = 65521;
/** Zero runs shorter than this are literals: a match costs its code, extra bits and a distance code. */
const MIN_RUN = 3;
const MAX_RUN = 258;

// Deflate's length symbols (RFC 1951, 3.2.5): for each length 3..258, its symbol and extra bits.
const LENGTH_SYMBOL = new Uint16Array(MAX_RUN + 1);
const LENGTH_EXTRA_BITS = new Uint8Array(MAX_RUN + 1);
const LENGTH_EXTRA_VALUE = new Uint16Array(MAX_RUN + 1);
{
  const base = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258];
  const extra = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0];
  for (let code = 0; code < base.length; code++) {
    const last = code === base.length - 1 ? MAX_RUN : base[code + 1]! - 1;
    for (let length = base[code]!; length <= last; length++) {
      LENGTH_SYMBOL[length] = 257 + code;
      LENGTH_EXTRA_BITS[length] = extra[code]!;
      LENGTH_EXTRA_VALUE[length] = length - base[code]!;
    }
  }
}
/** The order in which the code-length code's lengths are sent (RFC 1951, 3.2.7). */
const CODE_LENGTH_ORDER = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15];
const HIGH_BITS = 0x80808080 | 0;

/**
 * Huffman code lengths of at most `limit` bits for these symbol counts. When the plain code is too
 * deep, the counts are halved (keeping every used symbol) and the code built again: a little longer
 * than optimal in that rare case, never wrong.
 */
export function codeLengths(counts: ArrayLike<number>, limit: number): Uint8Array {
  const lengths = new Uint8Array(counts.length);
  const used: number[] = [];
  for (let symbol = 0; symbol < counts.length; symbol++) if (counts[symbol]! > 0) used.push(symbol);
  if (used.length === 1) lengths[used[0]!] = 1;
  if (used.length <= 1) return lengths;
  const weights = Float64Array.from(counts);
  for (;;) {
    // Two queues: the leaves by weight, and the joined nodes, which come out in order of weight.
    const leaves = [...used].sort((a, b) => weights[a]! - weights[b]! || a - b);
    const nodeWeight: number[] = [];
    const children: [number, number][] = []; // node ids: a leaf is -1 - symbol, a node its index
    let leaf = 0;
    let node = 0;
    const take = (): [number, number] => {
      if (node < nodeWeight.length && (leaf >= leaves.length || nodeWeight[node]! < weights[leaves[leaf]!]!)) return [node, nodeWeight[node++]!];
      const symbol = leaves[leaf++]!;
      return [-1 - symbol, weights[symbol]!];
    };
    while (leaves.length - leaf + nodeWeight.length - node > 1) {
      const [a, wa] = take();
      const [b, wb] = take();
      nodeWeight.push(wa + wb);
      children.push([a, b]);
    }
    let deepest = 0;
    const stack: [number, number][] = [[children.length - 1, 0]];
    while (stack.length > 0) {
      const [id, depth] = stack.pop()!;
      if (id < 0) {
        lengths[-1 - id] = depth;
        deepest = Math.max(deepest, depth);
      } else {
        stack.push([children[id]![0], depth + 1], [children[id]![1], depth + 1]);
      }
    }
    if (deepest <= limit) return lengths;
    for (const symbol of used) weights[symbol] = Math.ceil(weights[symbol]! / 2);
  }
}

/** The canonical codes for these lengths, bit-reversed: deflate sends codes from their high bit, into a stream read from the low bit. */
export function canonicalCodes(lengths: Uint8Array): Uint16Array {
  const perLength = new Uint16Array(MAX_CODE_BITS + 1);
  for (const length of lengths) if (length > 0) perLength[length]!++;
  const next = new Uint16Array(MAX_CODE_BITS + 1);
  for (let bits = 1, code = 0; bits <= MAX_CODE_BITS; bits++) {
    code = (code + perLength[bits - 1]!) << 1;
    next[bits] = code;
  }
  const codes = new Uint16Array(lengths.length);
  for (let symbol = 0; symbol < lengths.length; symbol++) {
    const length = lengths[symbol]!;
    if (length === 0) continue;
    let code = next[length]!++;
    let reversed = 0;
    for (let k = 0; k < length; k++) {
      reversed = (reversed << 1) | (code & 1);
      code >>>= 1;
    }
    codes[symbol] = reversed;
  }
  return codes;
}

/** Where the bits go: whole bytes into `out` at `pos`, fewer than 16 pending in `buffer`. */
interface BitState {
  out: Uint8Array;
  pos: number;
  buffer: number;
  bits: number;
}

function putBits(state: BitState, value: number, count: number): void {
  state.buffer |= value << state.bits;
  state.bits += count;
  while (state.bits >= 8) {
    state.out[state.pos++] = state.buffer & 0xff;
    state.buffer >>>= 8;
    state.bits -= 8;
  }
}

/**
 * A pixel as it is encoded: a hidden one (alpha 0) as four zeros, whatever colour it holds, so
 * the caller need not clear hidden pixels first (compose.ts clearOutside is all it needs) and the
 * background's runs cost almost nothing.
 */
const visible = (pixel: number): number => (pixel < 0x1000000 ? 0 : pixel);

/** The 'up' difference of two RGBA words, byte by byte (mod 256), in one 32-bit operation. */
const upDifference = (pixel: number, above: number): number => ((pixel | HIGH_BITS) - (above & ~HIGH_BITS)) ^ ((pixel ^ ~above) & HIGH_BITS);

/** The symbols of a run of `zeros` zero bytes: one literal 0, then matches one byte back, then literals. */
function countZeros(zeros: number, counts: Uint32Array): void {
  counts[0]!++;
  let rest = zeros - 1;
  while (rest >= MIN_RUN) {
    const length = rest > MAX_RUN ? MAX_RUN : rest;
    counts[LENGTH_SYMBOL[length]!]!++;
    rest -= length;
  }
  counts[0]! += rest;
}

/**
 * Counts the symbols of every `every`th row of [y0, y1) of the box, as writeRows will send them: a
 * sample is enough to fit a code to (rows of a photo are alike), and counting is a third of the work.
 */
function countSymbols(words: Uint32Array, width: number, box: Box, y0: number, y1: number, every: number, counts: Uint32Array): void {
  const { left, top } = box;
  const boxWidth = box.width;
  for (let y = y0; y < y1; y += every) {
    counts[FILTER_UP]!++;
    const row = (top + y) * width + left;
    const above = row - width;
    let zeros = 0;
    for (let x = 0; x < boxWidth; x++) {
      const r = y === 0 ? visible(words[row + x]!) : upDifference(visible(words[row + x]!), visible(words[above + x]!));
      if (r === 0) {
        zeros += 4;
        continue;
      }
      if (zeros > 0) {
        countZeros(zeros, counts);
        zeros = 0;
      }
      counts[r & 0xff]!++;
      counts[(r >>> 8) & 0xff]!++;
      counts[(r >>> 16) & 0xff]!++;
      counts[r >>> 24]!++;
    }
    if (zeros > 0) countZeros(zeros, counts);
  }
}

/**
 * Writes rows [y0, y1) with the codes `lengths`/`codes` (the distance code is one bit, for distance
 * 1), and returns the Adler-32 sums (a, b) carried on. This is the encoder's hot loop: the bit
 * writer lives in locals (a closure over them would put them in memory), and a row's end is the
 * pixel past its last, so that a zero run is sent by one piece of code.
 */
function writeRows(words: Uint32Array, width: number, box: Box, y0: number, y1: number, lengths: Uint8Array, codes: Uint16Array, state: BitState, a: number, b: number): [number, number] {
  const { out } = state;
  const zeroRow = new Uint32Array(y0 === 0 ? box.width : 0);
  let { pos, buffer, bits } = state;
  const { left, top } = box;
  const boxWidth = box.width;
  const zeroCode = codes[0]!;
  const zeroLength = lengths[0]!;
  for (let y = y0; y < y1; y++) {
    buffer |= codes[FILTER_UP]! << bits;
    bits += lengths[FILTER_UP]!;
    if (bits >= 16) {
      out[pos++] = buffer & 0xff;
      out[pos++] = (buffer >>> 8) & 0xff;
      buffer >>>= 16;
      bits -= 16;
    }
    a += FILTER_UP;
    b += a;
    const row = (top + y) * width + left;
    // The first row has none above it: PNG's decoder takes zeros, and so does this.
    const upper = y === 0 ? zeroRow : words;
    const above = y === 0 ? 0 : row - width;
    let zeros = 0;
    for (let x = 0; x <= boxWidth; x++) {
      let r = 0;
      if (x < boxWidth) {
        r = upDifference(visible(words[row + x]!), visible(upper[above + x]!));
        if (r === 0) {
          zeros += 4;
          continue;
        }
      }
      if (zeros > 0) {
        // A zero run (see countZeros); Adler-32's a is unchanged by zeros, b gains a for each.
        b += zeros * a;
        buffer |= zeroCode << bits;
        bits += zeroLength;
        let rest = zeros - 1;
        zeros = 0;
        while (rest > 0) {
          if (bits >= 16) {
            out[pos++] = buffer & 0xff;
            out[pos++] = (buffer >>> 8) & 0xff;
            buffer >>>= 16;
            bits -= 16;
          }
          if (rest < MIN_RUN) {
            buffer |= zeroCode << bits;
            bits += zeroLength;
            rest--;
            continue;
          }
          const length = rest > MAX_RUN ? MAX_RUN : rest;
          const symbol = LENGTH_SYMBOL[length]!;
          buffer |= codes[symbol]! << bits;
          bits += lengths[symbol]!;
          if (bits >= 16) {
            out[pos++] = buffer & 0xff;
            out[pos++] = (buffer >>> 8) & 0xff;
            buffer >>>= 16;
            bits -= 16;
          }
          // The extra bits, then the one-bit distance code, 0 (distance 1).
          buffer |= LENGTH_EXTRA_VALUE[length]! << bits;
          bits += LENGTH_EXTRA_BITS[length]! + 1;
          rest -= length;
        }
        if (bits >= 16) {
          out[pos++] = buffer & 0xff;
          out[pos++] = (buffer >>> 8) & 0xff;
          buffer >>>= 16;
          bits -= 16;
        }
      }
      if (x === boxWidth) break;
      const b0 = r & 0xff;
      const b1 = (r >>> 8) & 0xff;
      const b2 = (r >>> 16) & 0xff;
      const b3 = r >>> 24;
      // Adler-32 over the four bytes at once: b gains a four times and each byte as often as it is followed.
      b += 4 * a + 4 * b0 + 3 * b1 + 2 * b2 + b3;
      a += b0 + b1 + b2 + b3;
      buffer |= codes[b0]! << bits;
      bits += lengths[b0]!;
      if (bits >= 16) {
        out[pos++] = buffer & 0xff;
        out[pos++] = (buffer >>> 8) & 0xff;
        buffer >>>= 16;
        bits -= 16;
      }
      buffer |= codes[b1]! << bits;
      bits += lengths[b1]!;
      if (bits >= 16) {
        out[pos++] = buffer & 0xff;
        out[pos++] = (buffer >>> 8) & 0xff;
        buffer >>>= 16;
        bits -= 16;
      }
      buffer |= codes[b2]! << bits;
      bits += lengths[b2]!;
      if (bits >= 16) {
        out[pos++] = buffer & 0xff;
        out[pos++] = (buffer >>> 8) & 0xff;
        buffer >>>= 16;
        bits -= 16;
      }
      buffer |= codes[b3]! << bits;
      bits += lengths[b3]!;
      if (bits >= 16) {
        out[pos++] = buffer & 0xff;
        out[pos++] = (buffer >>> 8) & 0xff;
        buffer >>>= 16;
        bits -= 16;
      }
    }
    // Both sums stay exact in doubles over a row of up to a few million pixels.
    a %= ADLER_BASE;
    b %= ADLER_BASE;
  }
  state.pos = pos;
  state.buffer = buffer;
  state.bits = bits;
  return [a, b];
}

/** Rows [y0, y1) of the box, filtered, as plain bytes (for stored blocks). */
function filteredBytes(words: Uint32Array, width: number, box: Box, y0: number, y1: number): Uint8Array {
  const rowBytes = box.width * 4 + 1;
  const bytes = new Uint8Array((y1 - y0) * rowBytes);
  const view = new DataView(bytes.buffer);
  for (let y = y0; y < y1; y++) {
    const at = (y - y0) * rowBytes;
    bytes[at] = FILTER_UP;
    const row = (box.top + y) * width + box.left;
    for (let x = 0; x < box.width; x++) {
      view.setUint32(at + 1 + x * 4, y === 0 ? visible(words[row + x]!) : upDifference(visible(words[row + x]!), visible(words[row - width + x]!)), true);
    }
  }
  return bytes;
}

/** Extra bits of each literal/length symbol. */
const SYMBOL_EXTRA_BITS = new Uint8Array(286);
for (let length = MIN_RUN; length <= MAX_RUN; length++) SYMBOL_EXTRA_BITS[LENGTH_SYMBOL[length]!] = LENGTH_EXTRA_BITS[length]!;

/** Every this many rows of a block are counted to fit its code (countSymbols). */
const SAMPLE_EVERY = 4;

/**
 * Rows [top, bottom) of `box`, in an RGBA image `width` pixels wide, as one part of a PNG's zlib
 * stream (see the header): a dynamic Huffman block per BLOCK_BYTES or so, or stored blocks where
 * the data does not compress (noise), then an empty stored block that ends the part on a byte.
 */
export function deflateRows(pixels: Uint8Array, width: number, box: Box, top: number, bottom: number): DeflatedRows {
  const words = pixelWords(pixels);
  const rowBytes = box.width * 4 + 1;
  const rowsPerBlock = Math.max(1, Math.floor(BLOCK_BYTES / rowBytes));
  // A block is written here, then copied out at its size. The code is fitted to a sample, so any
  // symbol may turn up: every one gets a code (of at most 15 bits, so a byte never costs more), and
  // the scratch holds the worst case.
  const scratch = new Uint8Array(Math.ceil((Math.min(bottom - top, rowsPerBlock) * rowBytes * MAX_CODE_BITS) / 8) + 1024);
  const counts = new Uint32Array(286);
  const blocks: Uint8Array[] = [];
  const state: BitState = { out: scratch, pos: 0, buffer: 0, bits: 0 };
  let a = 1;
  let b = 0;
  for (let y0 = top; y0 < bottom; y0 += rowsPerBlock) {
    const y1 = Math.min(bottom, y0 + rowsPerBlock);
    counts.fill(0);
    countSymbols(words, width, box, y0, y1, SAMPLE_EVERY, counts);
    const sampled = Math.ceil((y1 - y0) / SAMPLE_EVERY);
    for (let symbol = 0; symbol < 286; symbol++) counts[symbol]!++; // every symbol a code, the end of the block among them
    const lengths = codeLengths(counts, MAX_CODE_BITS);
    let dynamicBits = 0; // of the rows, estimated from the sample
    for (let symbol = 0; symbol < 286; symbol++) {
      dynamicBits += (counts[symbol]! - 1) * (lengths[symbol]! + SYMBOL_EXTRA_BITS[symbol]! + (symbol > END_OF_BLOCK ? 1 : 0));
    }
    dynamicBits = (dynamicBits * (y1 - y0)) / sampled;
    const raw = (y1 - y0) * rowBytes;
    if (dynamicBits < 8 * raw) {
      // The code lengths are sent as they are (no run-length codes: a few dozen bytes a megabyte),
      // then the one distance code's, 1.
      const sent = [...lengths, 1];
      const lengthCounts = new Uint32Array(19);
      for (const length of sent) lengthCounts[length]!++;
      // zlib's inflate refuses an incomplete code-length code, which a single used length would make.
      if (lengthCounts.filter((count) => count > 0).length < 2) lengthCounts[lengthCounts[0]! > 0 ? 1 : 0]!++;
      const lengthLengths = codeLengths(lengthCounts, 7);
      const lengthCodes = canonicalCodes(lengthLengths);
      let orderCount = 19;
      while (orderCount > 4 && lengthLengths[CODE_LENGTH_ORDER[orderCount - 1]!] === 0) orderCount--;
      putBits(state, 2 << 1, 3); // not final, dynamic codes
      putBits(state, 286 - 257, 5);
      putBits(state, 0, 5); // one distance code
      putBits(state, orderCount - 4, 4);
      for (let i = 0; i < orderCount; i++) putBits(state, lengthLengths[CODE_LENGTH_ORDER[i]!]!, 3);
      for (const length of sent) putBits(state, lengthCodes[length]!, lengthLengths[length]!);
      const codes = canonicalCodes(lengths);
      [a, b] = writeRows(words, width, box, y0, y1, lengths, codes, state, a, b);
      putBits(state, codes[END_OF_BLOCK]!, lengths[END_OF_BLOCK]!);
    } else {
      // Noise: stored as it is, in blocks of at most 65535 bytes.
      const bytes = filteredBytes(words, width, box, y0, y1);
      for (let at = 0; at < bytes.length; at += 65535) {
        const chunk = bytes.subarray(at, at + 65535);
        putBits(state, 0, 3); // not final, stored
        putBits(state, 0, (8 - state.bits) & 7);
        putBits(state, chunk.length, 16);
        putBits(state, ~chunk.length & 0xffff, 16);
        scratch.set(chunk, state.pos);
        state.pos += chunk.length;
        for (const byte of chunk) {
          a += byte;
          b += a;
        }
        a %= ADLER_BASE;
        b %= ADLER_BASE;
      }
    }
    if (y1 === bottom) {
      // The empty stored block: three bits, then to the byte, then its length 0 and that length's complement.
      putBits(state, 0, 3);
      putBits(state, 0, (8 - state.bits) & 7);
      putBits(state, 0, 16);
      putBits(state, 0xffff, 16);
    }
    // Whole bytes go out; the bits of a byte not yet full start the next block.
    blocks.push(scratch.slice(0, state.pos));
    state.pos = 0;
  }
  return { blocks, adler: ((b << 16) | a) >>> 0, length: (bottom - top) * rowBytes };
}

/** The Adler-32 of two byte strings one after the other, from theirs and the second's length (zlib's adler32_combine). */
export function combineAdler(first: number, second: number, secondLength: number): number {
  const remainder = secondLength % ADLER_BASE;
  let a = first & 0xffff;
  let b = (remainder * a) % ADLER_BASE;
  a += (second & 0xffff) + ADLER_BASE - 1;
  b += (first >>> 16) + (second >>> 16) + ADLER_BASE - remainder;
  a %= ADLER_BASE;
  b %= ADLER_BASE;
  return ((b << 16) | a) >>> 0;
}

function chunk(type: string, ...data: Uint8Array[]): Uint8Array[] {
  const length = data.reduce((sum, part) => sum + part.length, 0);
  const head = Buffer.alloc(8);
  head.writeUInt32BE(length, 0);
  head.write(type, 4, 'latin1');
  let crc = zlib.crc32(head.subarray(4));
  for (const part of data) crc = zlib.crc32(part, crc);
  const tail = Buffer.alloc(4);
  tail.writeUInt32BE(crc >>> 0, 0);
  return [head, ...data, tail];
}

const SIGNATURE = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** A width x height RGBA PNG (8 bits a channel) of these parts of its rows, in order. */
export function assemblePng(width: number, height: number, parts: readonly DeflatedRows[]): Buffer {
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8; // bits a channel
  header[9] = 6; // RGBA
  let adler = 1; // of nothing
  for (const part of parts) adler = combineAdler(adler, part.adler, part.length);
  const trailer = Buffer.alloc(6);
  trailer[0] = 0x03; // the final block: fixed codes, holding only the end-of-block code
  trailer[1] = 0x00;
  trailer.writeUInt32BE(adler, 2);
  // zlib's header: deflate with a 32 KiB window (0x78), fastest level, no dictionary (0x01).
  const zlibHeader = Uint8Array.from([0x78, 0x01]);
  return Buffer.concat([SIGNATURE, ...chunk('IHDR', header), ...chunk('IDAT', zlibHeader, ...parts.flatMap((part) => part.blocks), trailer), ...chunk('IEND')]);
}

/** The box of an RGBA image as a PNG, on this thread. */
export function encodePng(pixels: Uint8Array, width: number, box: Box): Buffer {
  return assemblePng(box.width, box.height, [deflateRows(pixels, width, box, 0, box.height)]);
}
