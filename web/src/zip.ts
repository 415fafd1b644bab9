// A store-only ZIP writer for the page's "download all". The results are PNG, WebP or JPEG, which
// are compressed already, so entries are stored as they are: no deflate, no library, and the
// archive is assembled from the results' own bytes without copying them. No DOM here: the page
// turns the parts into a Blob, and the tests read them in Node.

export interface ZipEntry {
  /** The name inside the archive (UTF-8; "/" separates folders). */
  name: string;
  data: Uint8Array<ArrayBuffer>;
  /** Modification time, stored as DOS local time (2-second resolution, 1980 to 2107). */
  modified?: Date;
}

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32 (IEEE 802.3, as ZIP and PNG use it). */
export function crc32(data: Uint8Array): number {
  let crc = 0xffffffff;
  for (let i = 0; i < data.length; i++) crc = CRC_TABLE[(crc ^ data[i]!) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/** A date as the DOS time and date fields ZIP stores. */
export function dosDateTime(date: Date): { time: number; date: number } {
  const year = Math.min(Math.max(date.getFullYear(), 1980), 2107);
  return {
    time: (date.getHours() << 11) | (date.getMinutes() << 5) | (date.getSeconds() >> 1),
    date: ((year - 1980) << 9) | ((date.getMonth() + 1) << 5) | date.getDate(),
  };
}

const LOCAL_HEADER = 30;
const CENTRAL_HEADER = 46;
const END_RECORD = 22;
/** Bit 11 of the flags: names are UTF-8. */
const UTF8_NAMES = 0x0800;
/** "Made by" UNIX (3), spec version 2.0, so the external attributes carry a file mode. */
const MADE_BY_UNIX = (3 << 8) | 20;
const FILE_MODE = 0o100644;

/**
 * The archive, as parts to concatenate (headers and the entries' own bytes). Without ZIP64, so at
 * most 65535 entries and 4 GiB in all; more throws.
 */
export function zipStore(entries: readonly ZipEntry[]): Uint8Array<ArrayBuffer>[] {
  if (entries.length > 0xffff) throw new RangeError('a ZIP without ZIP64 holds at most 65535 entries');
  const encoder = new TextEncoder();
  const parts: Uint8Array<ArrayBuffer>[] = [];
  const central: Uint8Array<ArrayBuffer>[] = [];
  let offset = 0;
  for (const entry of entries) {
    const name = encoder.encode(entry.name);
    if (name.length > 0xffff) throw new RangeError(`the name ${entry.name.slice(0, 40)}... is too long for a ZIP`);
    const size = entry.data.length;
    if (offset + LOCAL_HEADER + name.length + size > 0xffffffff) throw new RangeError('a ZIP without ZIP64 holds at most 4 GiB');
    const crc = crc32(entry.data);
    const { time, date } = dosDateTime(entry.modified ?? new Date());

    const local = new Uint8Array(LOCAL_HEADER + name.length);
    const l = new DataView(local.buffer);
    l.setUint32(0, 0x04034b50, true);
    l.setUint16(4, 20, true); // version needed: 2.0
    l.setUint16(6, UTF8_NAMES, true);
    l.setUint16(8, 0, true); // stored
    l.setUint16(10, time, true);
    l.setUint16(12, date, true);
    l.setUint32(14, crc, true);
    l.setUint32(18, size, true); // compressed size: the same, stored
    l.setUint32(22, size, true);
    l.setUint16(26, name.length, true);
    l.setUint16(28, 0, true); // no extra field
    local.set(name, LOCAL_HEADER);
    parts.push(local, entry.data);

    const header = new Uint8Array(CENTRAL_HEADER + name.length);
    const c = new DataView(header.buffer);
    c.setUint32(0, 0x02014b50, true);
    c.setUint16(4, MADE_BY_UNIX, true);
    c.setUint16(6, 20, true);
    c.setUint16(8, UTF8_NAMES, true);
    c.setUint16(10, 0, true);
    c.setUint16(12, time, true);
    c.setUint16(14, date, true);
    c.setUint32(16, crc, true);
    c.setUint32(20, size, true);
    c.setUint32(24, size, true);
    c.setUint16(28, name.length, true);
    // 30: extra length, 32: comment length, 34: disk, 36: internal attributes: all 0
    c.setUint32(38, (FILE_MODE << 16) >>> 0, true);
    c.setUint32(42, offset, true);
    header.set(name, CENTRAL_HEADER);
    central.push(header);

    offset += local.length + size;
  }
  const centralSize = central.reduce((sum, header) => sum + header.length, 0);
  if (offset + centralSize > 0xffffffff) throw new RangeError('a ZIP without ZIP64 holds at most 4 GiB');
  const end = new Uint8Array(END_RECORD);
  const e = new DataView(end.buffer);
  e.setUint32(0, 0x06054b50, true);
  // 4: this disk, 6: the disk where the directory starts: both 0
  e.setUint16(8, entries.length, true);
  e.setUint16(10, entries.length, true);
  e.setUint32(12, centralSize, true);
  e.setUint32(16, offset, true);
  // 20: comment length 0
  return [...parts, ...central, end];
}

/**
 * Names made unique by a counter before the extension ("a.png", "a-2.png", "a-3.png"), so no
 * entry of an archive hides another when it is unpacked. Case-insensitively, for the file systems
 * that ignore case.
 */
export function uniqueNames(names: readonly string[]): string[] {
  const taken = new Set<string>();
  return names.map((name) => {
    const dot = name.lastIndexOf('.');
    const [stem, extension] = dot > 0 ? [name.slice(0, dot), name.slice(dot)] : [name, ''];
    let candidate = name;
    for (let n = 2; taken.has(candidate.toLowerCase()); n++) candidate = `${stem}-${n}${extension}`;
    taken.add(candidate.toLowerCase());
    return candidate;
  });
}
