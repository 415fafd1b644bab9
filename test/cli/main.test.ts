// The command as users run it: `node dist/src/cli/main.js` (the package's bin), spawned on generated
// images. (`npm test` compiles to dist/ first.)
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import t, { type Test } from 'tap';
import { optionFlags } from '../../src/cli/args.js';
import type { Report } from '../../src/cli/report.js';
import { projectRoot, RUNTIME_ENV } from '../../src/config.js';
import { ServiceError } from '../../src/errors.js';
import { formOptions } from '../../src/options.js';
import { blankImage, discImage } from '../helpers/images.js';
import { startSourceServer } from '../helpers/source-server.js';

const MAIN = path.join(projectRoot, 'dist', 'src', 'cli', 'main.js');

// About twenty runs of the command, each loading the model: more than the default 120 s on a busy machine.
t.setTimeout(600_000);

interface Ran {
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

/** Runs bg-remove in `cwd`; RUNTIME_ENV is set unless `reexec` (then it runs itself again to set it). */
function bgRemove(cwd: string, args: string[], options: { stdin?: Buffer; env?: Record<string, string>; reexec?: boolean } = {}): Promise<Ran> {
  const env: NodeJS.ProcessEnv = { ...process.env, ...(options.reexec ? {} : RUNTIME_ENV), ...options.env };
  if (options.reexec) for (const name of Object.keys(RUNTIME_ENV)) delete env[name];
  delete env.BG_REMOVE_CHILD;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN, ...args], { cwd, env, stdio: ['pipe', 'pipe', 'pipe'] });
    const stdout: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: Buffer.concat(stdout), stderr });
    });
    child.stdin.end(options.stdin);
  });
}

function tempFolder(t: { teardown(fn: () => void): void }): string {
  const folder = mkdtempSync(path.join(os.tmpdir(), 'bg-remove-'));
  t.teardown(() => rmSync(folder, { recursive: true, force: true }));
  return folder;
}

const jpeg = () => discImage(320, 240, 'jpeg');

async function expectCutout(t: Test, bytes: Buffer, format: 'png' | 'webp' | 'jpeg', what: string): Promise<void> {
  const meta = await sharp(bytes).metadata();
  t.equal(meta.format, format, `${what} is ${format}`);
  if (format !== 'jpeg') {
    const { data, info } = await sharp(bytes).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
    t.equal(data[info.channels - 1], 0, `${what}: its corner is transparent`);
  }
}

t.test('a folder with bad files among good ones: each image done, each failure counted with its code, exit 1', async (t) => {
  const dir = tempFolder(t);
  const photos = path.join(dir, 'photos');
  mkdirSync(path.join(photos, 'sub'), { recursive: true });
  writeFileSync(path.join(photos, 'a.jpg'), await jpeg());
  writeFileSync(path.join(photos, 'b.png'), await discImage(300, 300));
  writeFileSync(path.join(photos, 'sub', 'c.jpg'), await jpeg());
  writeFileSync(path.join(photos, 'bad.jpg'), 'this is not an image');
  writeFileSync(path.join(photos, 'broken.jpg'), Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(64, 7)]));
  writeFileSync(path.join(photos, 'blank.png'), await blankImage(200, 150));
  writeFileSync(path.join(photos, 'notes.txt'), 'not an image, and not meant to be one');

  const ran = await bgRemove(dir, ['photos', '-o', 'cutouts', '--recursive', '--json', 'report.json']);
  t.equal(ran.code, 1, `exit 1 when any failed\n${ran.stderr}`);
  for (const name of ['a.png', 'b.png', path.join('sub', 'c.png')]) await expectCutout(t, readFileSync(path.join(dir, 'cutouts', name)), 'png', name);
  t.notOk(existsSync(path.join(dir, 'cutouts', 'bad.png')), 'no result for a failure');

  const report = JSON.parse(readFileSync(path.join(dir, 'report.json'), 'utf8')) as Report;
  t.match(report.summary, { done: 3, skipped: 1, failed: 3 });
  t.equal(report.entries.length, 7, 'one entry per input');
  const entry = (name: string) => report.entries.find((e) => e.input === path.join('photos', name))!;
  t.match(entry('a.jpg'), {
    status: 'done',
    output: path.join('cutouts', 'a.png'),
    width: 320,
    height: 240,
    box: { left: Number, top: Number, width: Number, height: Number },
    stages: { fetch: Number, decode: Number, infer: Number, mask: Number, encode: Number, total: Number },
  });
  t.match(entry(path.join('sub', 'c.jpg')), { status: 'done', output: path.join('cutouts', 'sub', 'c.png') }, 'the layout is kept');
  t.match(entry('bad.jpg'), { status: 'failed', error: { code: 'unsupported_media_type', message: String } });
  t.match(entry('broken.jpg'), { status: 'failed', error: { code: 'image_decode_failed' } });
  t.match(entry('blank.png'), { status: 'failed', error: { code: 'no_foreground' } });
  t.match(entry('notes.txt'), { status: 'skipped', reason: /not an image/ });

  t.match(ran.stderr, /done 3, skipped 1, failed 3/, 'the summary');
  for (const [name, code] of <[string, string][]>[['bad.jpg', 'unsupported_media_type'], ['broken.jpg', 'image_decode_failed'], ['blank.png', 'no_foreground']]) {
    t.match(ran.stderr, new RegExp(`  photos/${name.replace('.', '\\.')}: ${code}`), `the summary lists ${name} with its code`);
  }
  t.match(ran.stderr, /^done photos\/a\.jpg -> cutouts\/a\.png/m, 'one plain line per image when standard error is not a terminal');
});

t.test('results that exist are skipped unless --overwrite; every image done is exit 0', async (t) => {
  const dir = tempFolder(t);
  mkdirSync(path.join(dir, 'photos'));
  writeFileSync(path.join(dir, 'photos', 'a.jpg'), await jpeg());
  writeFileSync(path.join(dir, 'photos', 'b.jpg'), await jpeg());
  mkdirSync(path.join(dir, 'out'));
  writeFileSync(path.join(dir, 'out', 'a.png'), 'an older result');

  const first = await bgRemove(dir, ['photos', '-o', 'out', '--json', 'first.json']);
  t.equal(first.code, 0, first.stderr);
  t.equal(readFileSync(path.join(dir, 'out', 'a.png'), 'utf8'), 'an older result', 'an existing result is left alone');
  await expectCutout(t, readFileSync(path.join(dir, 'out', 'b.png')), 'png', 'b.png');
  const report = JSON.parse(readFileSync(path.join(dir, 'first.json'), 'utf8')) as Report;
  t.match(report.entries, [{ input: path.join('photos', 'a.jpg'), status: 'skipped', reason: /exists/ }, { status: 'done' }]);
  t.match(first.stderr, /done 1, skipped 1, failed 0/);

  const again = await bgRemove(dir, ['photos', '-o', 'out', '--overwrite', '--quiet']);
  t.equal(again.code, 0);
  t.equal(again.stderr, '', '--quiet prints nothing when nothing failed');
  await expectCutout(t, readFileSync(path.join(dir, 'out', 'a.png')), 'png', 'a.png, overwritten');
});

t.test('standard input to standard output, through the re-run that sets the runtime settings', async (t) => {
  const dir = tempFolder(t);
  const ran = await bgRemove(dir, ['-', '-o', '-', '--format', 'webp'], { stdin: await jpeg(), reexec: true });
  t.equal(ran.code, 0, ran.stderr);
  await expectCutout(t, ran.stdout, 'webp', 'standard output');
  t.match(ran.stderr, /^done - -> -/m, 'progress goes to standard error');
  const bad = await bgRemove(dir, ['-'], { stdin: Buffer.from('not an image') });
  t.equal(bad.code, 1);
  t.equal(bad.stdout.length, 0, 'nothing on standard output for a failure');
  t.match(bad.stderr, /failed -: unsupported_media_type/);
});

t.test('one file: beside it by default, or the format of the name given; never over an input', async (t) => {
  const dir = tempFolder(t);
  writeFileSync(path.join(dir, 'photo.jpg'), await jpeg());
  const beside = await bgRemove(dir, ['photo.jpg', '--background', '#00ff00']);
  t.equal(beside.code, 0, beside.stderr);
  const { data, info } = await sharp(path.join(dir, 'photo.png')).raw().toBuffer({ resolveWithObject: true });
  t.equal(info.channels, 3, 'an opaque background leaves no alpha');
  t.same([data[0], data[1], data[2]], [0, 255, 0], '--background is applied');

  const named = await bgRemove(dir, ['photo.jpg', '-o', 'cut.webp', '--max-dimension', '50']);
  t.equal(named.code, 0, named.stderr);
  const meta = await sharp(path.join(dir, 'cut.webp')).metadata();
  t.equal(meta.format, 'webp', 'the format from the extension');
  t.ok(Math.max(meta.width!, meta.height!) <= 50, '--max-dimension is applied');

  // photo.png is now an input: photo.jpg's result would replace it; its own result gets another name.
  const inputBytes = readFileSync(path.join(dir, 'photo.png'));
  const both = await bgRemove(dir, ['photo.jpg', 'photo.png', '--overwrite', '--json', '-']);
  t.equal(both.code, 1, both.stderr);
  t.same(readFileSync(path.join(dir, 'photo.png')), inputBytes, 'the input photo.png is untouched');
  const report = JSON.parse(both.stdout.toString()) as Report;
  t.match(report.entries, [
    { input: 'photo.jpg', status: 'failed', error: { code: 'output_conflict' } },
    { input: 'photo.png', status: 'done', output: 'photo-cutout.png' },
  ], '--json - writes the report to standard output');
  await expectCutout(t, readFileSync(path.join(dir, 'photo-cutout.png')), 'png', 'photo.png beside itself');
});

t.test('bad usage is exit 2 with a message, before any work', async (t) => {
  const dir = tempFolder(t);
  writeFileSync(path.join(dir, 'a.jpg'), await jpeg());
  const unknown = await bgRemove(dir, ['a.jpg', '--colour', 'red']);
  t.equal(unknown.code, 2);
  t.match(unknown.stderr, /Unknown option '--colour'/);

  let apiMessage = '';
  try {
    formOptions({ max_dimension: '0' });
  } catch (error) {
    apiMessage = (error as ServiceError).message;
  }
  const badValue = await bgRemove(dir, ['a.jpg', '--max-dimension', '0']);
  t.equal(badValue.code, 2);
  t.ok(badValue.stderr.includes(`bg-remove: ${apiMessage} (--max-dimension)`), `the API's message: ${badValue.stderr}`);

  const missing = await bgRemove(dir, ['nothing.jpg']);
  t.equal(missing.code, 2);
  t.match(missing.stderr, /no such file or folder: nothing\.jpg/);
  const folderWithoutOutput = await bgRemove(dir, ['.']);
  t.equal(folderWithoutOutput.code, 2);
  t.match(folderWithoutOutput.stderr, /give -o FOLDER/);
  const badSetting = await bgRemove(dir, ['a.jpg'], { env: { MASK_THRESHOLD: '2' } });
  t.equal(badSetting.code, 2);
  t.match(badSetting.stderr, /MASK_THRESHOLD/);
  t.notOk(existsSync(path.join(dir, 'a.png')), 'nothing was written');
});

t.test('--help documents every option of the API as a flag', async (t) => {
  const help = await bgRemove(tempFolder(t), ['--help']);
  t.equal(help.code, 0);
  const text = help.stdout.toString();
  for (const { flag, boolean } of optionFlags()) t.ok(text.includes(boolean ? `--${flag} [true|false], --no-${flag}` : `--${flag} `), `--${flag}`);
  for (const flag of ['--output', '--recursive', '--overwrite', '--watch', '--quiet', '--json', '--background-image', 'Exit status']) t.ok(text.includes(flag), flag);
});

t.test('URLs go through the service downloader and its address guard', async (t) => {
  const dir = tempFolder(t);
  const source = await startSourceServer(t, { '/shoe.jpg': await jpeg() });
  const guarded = await bgRemove(dir, [source.url('/shoe.jpg')]);
  t.equal(guarded.code, 1);
  t.match(guarded.stderr, /forbidden_address/, 'loopback is refused as the service refuses it');
  const allowed = await bgRemove(dir, [source.url('/shoe.jpg')], { env: { ALLOW_PRIVATE_NETWORKS: 'true' } });
  t.equal(allowed.code, 0, allowed.stderr);
  await expectCutout(t, readFileSync(path.join(dir, 'shoe.png')), 'png', "the URL's result, named after it");
});

t.test('--watch does the images that arrive, and stops at Ctrl+C with a summary', async (t) => {
  const dir = tempFolder(t);
  mkdirSync(path.join(dir, 'inbox'));
  const child = spawn(process.execPath, [MAIN, 'inbox', '-o', 'done', '--watch'], { cwd: dir, env: { ...process.env, ...RUNTIME_ENV }, stdio: ['ignore', 'ignore', 'pipe'] });
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  let stderr = '';
  const waitFor = (pattern: RegExp) =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${pattern} in ${stderr}`)), 90_000);
      const check = () => {
        if (!pattern.test(stderr)) return;
        clearTimeout(timer);
        resolve();
      };
      child.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
        check();
      });
      check();
    });
  await waitFor(/watching inbox/);
  const image = path.join(dir, 'arriving.jpg');
  writeFileSync(image, await jpeg());
  copyFileSync(image, path.join(dir, 'inbox', 'a.jpg'));
  await waitFor(/^done inbox\/a\.jpg -> done\/a\.png/m);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  child.kill('SIGINT');
  t.equal(await exited, 0, 'Ctrl+C ends a watch with every image done: exit 0');
  t.match(stderr, /done 1, skipped 0, failed 0/);
  await expectCutout(t, readFileSync(path.join(dir, 'done', 'a.png')), 'png', 'the arrived image');
});
