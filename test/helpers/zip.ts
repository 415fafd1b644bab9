// A small ZIP reader for the tests, written from the format's description and independent of the
// page's writer: it finds the end record, walks the central directory, checks each local header
// against it and each entry's CRC-32 with zlib's. Stored (uncompressed) entries only, as the page writes.
import { crc32 } from 'node:zlib';

export interface ReadEntry {
  name: string;
  data: Buffer;
  /** General-purpose flags (bit 11: UTF-8 names). */
  flags: number;
  /** The Unix mode from the external attributes, when "made by" says Unix. */
  mode: number | null;
}

function fail(message: string): never {
  throw new Error(`not a valid ZIP: ${message}`);
}

export function readZip(zip: Buffer): ReadEntry[] {
  const endAt = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  if (endAt < 0 || endAt + 22 > zip.length) fail('no end of central directory record');
  const count = zip.readUInt16LE(endAt + 10);
  if (zip.readUInt16LE(endAt + 8) !== count) fail('entries on this disk differ from the total');
  const directorySize = zip.readUInt32LE(endAt + 12);
  let at = zip.readUInt32LE(endAt + 16);
  if (at + directorySize !== endAt) fail('the central directory does not end where the end record starts');
  const entries: ReadEntry[] = [];
  for (let i = 0; i < count; i++) {
    if (zip.readUInt32LE(at) !== 0x02014b50) fail(`central header ${i} has a wrong signature`);
    const madeBy = zip.readUInt16LE(at + 4);
    const flags = zip.readUInt16LE(at + 8);
    const method = zip.readUInt16LE(at + 10);
    const crc = zip.readUInt32LE(at + 16);
    const compressed = zip.readUInt32LE(at + 20);
    const size = zip.readUInt32LE(at + 24);
    const nameLength = zip.readUInt16LE(at + 28);
    const extraLength = zip.readUInt16LE(at + 30);
    const commentLength = zip.readUInt16LE(at + 32);
    const attributes = zip.readUInt32LE(at + 38);
    const localAt = zip.readUInt32LE(at + 42);
    const name = zip.subarray(at + 46, at + 46 + nameLength).toString('utf8');
    if (method !== 0) fail(`${name} is not stored (method ${method})`);
    if (compressed !== size) fail(`${name}: a stored entry's sizes differ`);

    if (zip.readUInt32LE(localAt) !== 0x04034b50) fail(`${name}: local header has a wrong signature`);
    const localName = zip.subarray(localAt + 30, localAt + 30 + zip.readUInt16LE(localAt + 26)).toString('utf8');
    if (localName !== name) fail(`${name}: the local header names ${localName}`);
    if (zip.readUInt32LE(localAt + 14) !== crc || zip.readUInt32LE(localAt + 22) !== size) fail(`${name}: local and central headers disagree`);
    const dataAt = localAt + 30 + zip.readUInt16LE(localAt + 26) + zip.readUInt16LE(localAt + 28);
    const data = zip.subarray(dataAt, dataAt + size);
    if (data.length !== size) fail(`${name} runs past the end`);
    if (crc32(data) !== crc) fail(`${name}: CRC-32 mismatch`);
    entries.push({ name, data, flags, mode: madeBy >> 8 === 3 ? attributes >>> 16 : null });
    at += 46 + nameLength + extraLength + commentLength;
  }
  return entries;
}
