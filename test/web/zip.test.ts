import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { crc32, dosDateTime, uniqueNames, zipStore } from '../../web/src/zip.js';
import { readZip } from '../helpers/zip.js';

const bytes = (text: string): Uint8Array<ArrayBuffer> => new Uint8Array(Buffer.from(text));
const join = (parts: Uint8Array[]): Buffer => Buffer.concat(parts);

t.test('crc32 is the IEEE CRC-32', async (t) => {
  t.equal(crc32(bytes('123456789')), 0xcbf43926, 'the standard check value');
  t.equal(crc32(new Uint8Array(0)), 0);
  const random = new Uint8Array(10_000).map((_, i) => (i * 7919) % 251);
  const { crc32: zlibCrc32 } = await import('node:zlib');
  t.equal(crc32(random), zlibCrc32(random), "the same as zlib's");
});

t.test('dosDateTime packs local time with 2-second steps, clamped to the DOS range', async (t) => {
  t.same(dosDateTime(new Date(2024, 4, 17, 13, 45, 31)), { time: (13 << 11) | (45 << 5) | 15, date: (44 << 9) | (5 << 5) | 17 });
  t.equal(dosDateTime(new Date(1970, 0, 1)).date >> 9, 0, 'before 1980 is 1980');
});

t.test('a store-only archive: every entry readable, byte for byte, with its CRC', async (t) => {
  const modified = new Date(2025, 0, 2, 3, 4, 6);
  const entries = [
    { name: 'a-cutout.png', data: new Uint8Array(4096).map((_, i) => i % 256), modified },
    { name: 'b-cutout.webp', data: bytes('RIFF....WEBP'), modified },
    { name: 'größe ✓.jpg', data: bytes(''), modified },
  ];
  const zip = join(zipStore(entries));
  const read = readZip(zip);
  t.same(read.map((entry) => entry.name), entries.map((entry) => entry.name), 'names in order, UTF-8 kept');
  for (const [index, entry] of read.entries()) {
    t.same([...entry.data], [...entries[index]!.data], `${entry.name}: the bytes as given`);
    t.equal(entry.flags & 0x0800, 0x0800, `${entry.name}: flagged as a UTF-8 name`);
    t.equal(entry.mode, 0o100644, `${entry.name}: a plain file, rw-r--r--`);
  }
  const expected = 3 * (30 + 46) + 2 * entries.reduce((sum, entry) => sum + Buffer.byteLength(entry.name), 0) + 4096 + 12 + 22;
  t.equal(zip.length, expected, 'headers, names and data, nothing else (stored, no data descriptors)');
});

t.test('no entries is an empty archive (just the end record)', async (t) => {
  const zip = join(zipStore([]));
  t.equal(zip.length, 22);
  t.same(readZip(zip), []);
});

t.test('the parts reuse the entries\' bytes rather than copying them', async (t) => {
  const data = new Uint8Array(1000);
  t.ok(zipStore([{ name: 'x.png', data }]).includes(data));
});

const python = spawnSync('python3', ['--version'], { encoding: 'utf8', timeout: 10_000 }).status === 0;
const noPython = python ? false : 'python3 is not installed: the archive is checked by the test reader only';

t.test("python3's zipfile reads the archive and finds every CRC right", { skip: noPython }, async (t) => {
  const folder = mkdtempSync(path.join(os.tmpdir(), 'zip-test-'));
  t.teardown(() => rmSync(folder, { recursive: true, force: true }));
  const file = path.join(folder, 'cutouts.zip');
  writeFileSync(
    file,
    join(zipStore([
      { name: 'one.png', data: new Uint8Array(70_000).map((_, i) => (i * 31) % 256) },
      { name: 'two.png', data: bytes('two') },
      { name: 'dreí.jpg', data: bytes('three') },
    ])),
  );
  const script = [
    'import sys, zipfile, json',
    'z = zipfile.ZipFile(sys.argv[1])',
    'print(json.dumps({"bad": z.testzip(), "names": z.namelist(), "sizes": [i.file_size for i in z.infolist()], "types": [i.compress_type for i in z.infolist()]}))',
  ].join('\n');
  const run = spawnSync('python3', ['-c', script, file], { encoding: 'utf8', timeout: 20_000 });
  t.equal(run.status, 0, run.stderr);
  const report = JSON.parse(run.stdout) as { bad: string | null; names: string[]; sizes: number[]; types: number[] };
  t.equal(report.bad, null, 'testzip finds no bad entry');
  t.same(report.names, ['one.png', 'two.png', 'dreí.jpg']);
  t.same(report.sizes, [70_000, 3, 5]);
  t.same(report.types, [0, 0, 0], 'all stored');
});

t.test('uniqueNames numbers repeats before the extension, ignoring case', async (t) => {
  t.same(uniqueNames(['a.png', 'b.png', 'a.png', 'A.png', 'a-2.png']), ['a.png', 'b.png', 'a-2.png', 'A-3.png', 'a-2-2.png']);
  t.same(uniqueNames(['noext', 'noext', '.hidden', '.hidden']), ['noext', 'noext-2', '.hidden', '.hidden-2']);
});
