import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { UsageError } from '../../src/cli/args.js';
import {
  chooseTarget,
  classifyInputs,
  destinationOf,
  hasImageExtension,
  nameFromUrl,
  scanFolder,
  SETTLE_MS,
  watchFolder,
  type FolderEntry,
} from '../../src/cli/inputs.js';

function tempFolder(t: { teardown(fn: () => void): void }): string {
  const folder = mkdtempSync(path.join(os.tmpdir(), 'bg-remove-inputs-'));
  t.teardown(() => rmSync(folder, { recursive: true, force: true }));
  return folder;
}

const flags = { output: undefined, watch: false, recursive: false };

t.test('inputs are files, folders, URLs or standard input, and must exist', async (t) => {
  const dir = tempFolder(t);
  writeFileSync(path.join(dir, 'a.jpg'), 'x');
  t.same(await classifyInputs([path.join(dir, 'a.jpg'), dir, 'https://example.com/p.jpg', 'HTTP://example.com/q']), [
    { kind: 'file', path: path.join(dir, 'a.jpg') },
    { kind: 'folder', path: dir },
    { kind: 'url', url: 'https://example.com/p.jpg' },
    { kind: 'url', url: 'HTTP://example.com/q' },
  ]);
  t.same(await classifyInputs(['-']), [{ kind: 'stdin' }]);
  await t.rejects(classifyInputs([path.join(dir, 'missing.jpg')]), { name: 'UsageError', message: /no such file or folder/ });
  await t.rejects(classifyInputs([]), UsageError);
  await t.rejects(classifyInputs(['-', path.join(dir, 'a.jpg')]), /only be the one input/);
});

t.test('where results go', async (t) => {
  const dir = tempFolder(t);
  const file = { kind: 'file', path: path.join(dir, 'a.jpg') } as const;
  const folder = { kind: 'folder', path: dir } as const;
  t.same(await chooseTarget([file], flags), { kind: 'beside' });
  t.same(await chooseTarget([file], { ...flags, output: 'cut.webp' }), { kind: 'file', path: 'cut.webp' });
  t.same(await chooseTarget([file], { ...flags, output: '-' }), { kind: 'stdout' });
  t.same(await chooseTarget([file], { ...flags, output: dir }), { kind: 'folder', path: dir }, 'an existing folder');
  t.same(await chooseTarget([file], { ...flags, output: 'new/' }), { kind: 'folder', path: 'new/' }, 'a name ending in /');
  t.same(await chooseTarget([{ kind: 'stdin' }], flags), { kind: 'stdout' }, 'standard input to standard output');
  t.same(await chooseTarget([{ kind: 'url', url: 'https://e.com/a.jpg' }], flags), { kind: 'folder', path: '.' });
  t.same(await chooseTarget([folder], { ...flags, output: path.join(dir, 'out') }), { kind: 'folder', path: path.join(dir, 'out') });
  t.same(await chooseTarget([file, file], flags), { kind: 'beside' }, 'several files: beside each');

  await t.rejects(chooseTarget([folder], flags), /give -o FOLDER/);
  await t.rejects(chooseTarget([folder], { ...flags, output: '-' }), /one image only/);
  await t.rejects(chooseTarget([folder], { ...flags, output: dir }), /input folder itself/);
  writeFileSync(path.join(dir, 'taken'), 'x');
  await t.rejects(chooseTarget([folder], { ...flags, output: path.join(dir, 'taken') }), /is a file/);
  await t.rejects(chooseTarget([file], { ...flags, watch: true }), /--watch watches folders/);
  await t.rejects(chooseTarget([file], { ...flags, recursive: true }), /--recursive is for folders/);
  await t.rejects(chooseTarget([{ kind: 'stdin' }], { ...flags, output: dir }), /standard input has no name/);
});

t.test('destinations: beside, in a folder keeping the layout, never over the input', async (t) => {
  const file = (p: string) => ({ kind: 'file', path: p }) as const;
  t.same(destinationOf(file('photos/a.jpg'), { kind: 'beside' }, '.png'), { kind: 'file', path: 'photos/a.png' });
  t.same(destinationOf(file('photos/a.png'), { kind: 'beside' }, '.png'), { kind: 'file', path: 'photos/a-cutout.png' }, 'not over its input');
  t.same(destinationOf(file('photos/sub/a.jpg'), { kind: 'folder', path: 'out' }, '.webp', path.join('sub', 'a.jpg')), { kind: 'file', path: 'out/sub/a.webp' });
  t.same(destinationOf(file('photos/a.jpg'), { kind: 'folder', path: 'out' }, '.jpg'), { kind: 'file', path: 'out/a.jpg' });
  t.same(destinationOf(file('out/a.png'), { kind: 'folder', path: 'out' }, '.png'), { kind: 'file', path: 'out/a-cutout.png' });
  t.same(destinationOf(file('a.jpg'), { kind: 'file', path: 'cut.webp' }, '.png'), { kind: 'file', path: 'cut.webp' }, 'a named file as it is');
  t.same(destinationOf({ kind: 'url', url: 'https://e.com/img/shoe%20pair.jpg?x=1' }, { kind: 'folder', path: '.' }, '.png'), { kind: 'file', path: 'shoe_pair.png' });
  t.same(destinationOf({ kind: 'stdin' }, { kind: 'stdout' }, '.png'), { kind: 'stdout' });
  t.equal(nameFromUrl('https://e.com/'), 'image');
  t.equal(nameFromUrl('https://e.com/../..%2F.hidden.jpg'), 'hidden', 'no way out of the folder, no hidden file');
});

t.test('scanFolder: images and others, subfolders when recursive, never the output folder', async (t) => {
  const dir = tempFolder(t);
  mkdirSync(path.join(dir, 'sub'));
  mkdirSync(path.join(dir, 'out'));
  for (const name of ['b.JPG', 'a.png', 'notes.txt', 'sub/c.webp', 'out/a.png']) writeFileSync(path.join(dir, name), 'x');
  const flat = await scanFolder(dir, false);
  t.same(flat.images.map((e) => e.relative), ['a.png', 'b.JPG']);
  t.same(flat.others.map((e) => e.relative), ['notes.txt']);
  const deep = await scanFolder(dir, true, path.join(dir, 'out'));
  t.same(deep.images.map((e) => e.relative), ['a.png', 'b.JPG', path.join('sub', 'c.webp')]);
  t.equal(deep.images[2]!.path, path.join(dir, 'sub', 'c.webp'));
  t.ok(hasImageExtension('x.TIFF') && hasImageExtension('x.jpeg') && !hasImageExtension('x.heic'));
});

t.test('watchFolder reports a new file once it has stopped changing, once', async (t) => {
  const dir = tempFolder(t);
  mkdirSync(path.join(dir, 'out'));
  const seen: FolderEntry[] = [];
  let arrived: () => void;
  const first = new Promise<void>((resolve) => (arrived = resolve));
  const watcher = watchFolder(dir, true, path.join(dir, 'out'), (entry) => {
    seen.push(entry);
    arrived();
  });
  t.teardown(() => watcher.close());
  writeFileSync(path.join(dir, 'out', 'ignored.png'), 'x');
  writeFileSync(path.join(dir, 'new.jpg'), 'part');
  writeFileSync(path.join(dir, 'new.jpg'), 'part and the rest');
  await first;
  await new Promise((resolve) => setTimeout(resolve, SETTLE_MS * 3));
  t.same(seen, [{ path: path.join(dir, 'new.jpg'), relative: 'new.jpg' }], 'once, and nothing from the output folder');
});
