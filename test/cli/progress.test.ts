import t from 'tap';
import { describe, formatDuration, Progress, progressMode, summaryLine } from '../../src/cli/progress.js';
import type { ReportEntry } from '../../src/cli/report.js';

const done = (input: string): ReportEntry => ({
  input,
  status: 'done',
  output: `out/${input}.png`,
  width: 1000,
  height: 800,
  outputWidth: 400,
  outputHeight: 300,
  stages: { total: 250 },
});
const failed = (input: string): ReportEntry => ({ input, status: 'failed', error: { code: 'image_decode_failed', message: 'the image is truncated' } });
const skipped = (input: string): ReportEntry => ({ input, status: 'skipped', reason: 'not an image, by its extension' });

/** A stream that keeps what is written, and a clock moved by hand. */
function setup(mode: 'bar' | 'lines' | 'quiet', columns = 80) {
  const written: string[] = [];
  let now = 0;
  const stream = { write: (text: string) => written.push(text), isTTY: mode === 'bar', columns };
  const progress = new Progress(stream, mode, () => now);
  return { written, progress, tick: (ms: number) => (now += ms) };
}

t.test('the mode follows the stream and --quiet', async (t) => {
  t.equal(progressMode({ write: () => true, isTTY: true }, false), 'bar');
  t.equal(progressMode({ write: () => true }, false), 'lines');
  t.equal(progressMode({ write: () => true, isTTY: true }, true), 'quiet');
});

t.test('durations', async (t) => {
  t.equal(formatDuration(0), '0:00');
  t.equal(formatDuration(75), '1:15');
  t.equal(formatDuration(3725), '1:02:05');
});

t.test('the bar: done and total, images per second, time left, the current file; redrawn in place', async (t) => {
  const { written, progress, tick } = setup('bar');
  t.teardown(() => progress.end([], 0));
  progress.planned(10);
  progress.started('photos/a.jpg');
  tick(500);
  progress.finished(done('photos/a.jpg'));
  t.match(progress.barLine(200), / -- img\/s {2}--:-- left /, 'no rate from the first half second');
  progress.started('photos/b.jpg');
  tick(500);
  progress.finished(done('photos/b.jpg'));
  progress.started('photos/c.jpg');
  const line = progress.barLine(200);
  t.match(line, /^\[####-{16}\] 2\/10 {2}2\.0 img\/s {2}0:04 left {2}photos\/c\.jpg$/);
  t.ok(written.at(-1)!.startsWith('\r\x1b[2K'), 'each draw returns to the start of the line and clears it');
  t.notOk(written.join('').includes('\n'), 'no new lines while all goes well');
  t.ok(progress.barLine(30).length <= 30, 'a narrow terminal gets a shortened bar');
  progress.finished(failed('photos/c.jpg'));
  t.match(written.join(''), /\r\x1b\[2Kfailed photos\/c\.jpg: image_decode_failed: the image is truncated\n/, 'a failure is printed above the bar');
});

t.test('lines: one per image, then the summary with each failure', async (t) => {
  const { written, progress } = setup('lines');
  progress.planned(3);
  for (const entry of [done('a.jpg'), skipped('notes.txt'), failed('bad.jpg')]) {
    progress.started(entry.input);
    progress.finished(entry);
  }
  progress.end([done('a.jpg'), skipped('notes.txt'), failed('bad.jpg')], 2);
  t.same(written, [
    'done a.jpg -> out/a.jpg.png (1000x800 -> 400x300, 250 ms)\n',
    'skipped notes.txt (not an image, by its extension)\n',
    'failed bad.jpg: image_decode_failed: the image is truncated\n',
    'done 1, skipped 1, failed 1 (2.0 s, 1.00 images/s)\n',
    '  bad.jpg: image_decode_failed: the image is truncated\n',
  ]);
});

t.test('quiet: only the failures, at the end', async (t) => {
  const { written, progress } = setup('quiet');
  progress.planned(2);
  progress.finished(done('a.jpg'));
  progress.finished(failed('bad.jpg'));
  t.same(written, []);
  progress.end([done('a.jpg'), failed('bad.jpg')], 1);
  t.same(written, [`${describe(failed('bad.jpg'))}\n`]);
});

t.test('the summary line', async (t) => {
  t.equal(summaryLine({ done: 98, skipped: 1, failed: 1 }, 50), 'done 98, skipped 1, failed 1 (50.0 s, 1.98 images/s)');
  t.equal(summaryLine({ done: 0, skipped: 3, failed: 0 }, 0.1), 'done 0, skipped 3, failed 0 (0.1 s)');
});
