// The benchmark's pure helpers. The benchmark itself is never run by the tests.
import t from 'tap';
import { formatTable, median, parseArgs, parseProcStatus, parseServerTiming, percentile, planFor } from '../../scripts/bench.js';
import { dimensionsFor, imageName } from '../../scripts/bench/images.js';

t.test('percentile interpolates between the closest ranks', async (t) => {
  t.equal(median([3, 1, 2]), 2);
  t.equal(median([4, 1, 3, 2]), 2.5);
  t.equal(percentile([10, 20, 30, 40, 50], 0), 10);
  t.equal(percentile([10, 20, 30, 40, 50], 100), 50);
  // 20 samples 1..20: rank 0.95 * 19 = 18.05, between 19 and 20
  t.equal(percentile(Array.from({ length: 20 }, (_, i) => i + 1), 95).toFixed(2), '19.05');
  t.equal(percentile([7], 95), 7);
  t.ok(Number.isNaN(percentile([], 50)), 'no samples, no figure');
});

t.test('parseServerTiming reads the service header', async (t) => {
  t.same(parseServerTiming('fetch;dur=1.9, decode;dur=20.7, infer;dur=689, mask;dur=69.1, encode;dur=56.4, total;dur=835.2'), {
    fetch: 1.9,
    decode: 20.7,
    infer: 689,
    mask: 69.1,
    encode: 56.4,
    total: 835.2,
  });
  t.same(parseServerTiming('cache;desc="hit", total;dur=3'), { total: 3 }, 'entries without dur are skipped');
  t.same(parseServerTiming(undefined), {});
});

t.test('parseProcStatus reads VmRSS and VmHWM in MiB', async (t) => {
  const status = ['Name:\tnode', 'VmPeak:\t 1234567 kB', 'VmHWM:\t  434688 kB', 'VmRSS:\t  425984 kB', 'Threads:\t11'].join('\n');
  t.same(parseProcStatus(status), { rssMiB: 416, hwmMiB: 424.5 });
  t.throws(() => parseProcStatus('Name:\tkthreadd\n'), /no VmRSS/, 'kernel threads have no memory lines');
});

t.test('formatTable aligns values, shows ratios and n/a, and keeps sections on their own line', async (t) => {
  const text = formatTable([
    'floor',
    { figure: 'floor median', value: 180.04, unit: 'ms', ratio: 1 },
    { figure: '24MP.png e2e median', value: undefined, unit: 'ms', note: 'not measured' },
    { figure: 'c=2', value: 3.5, unit: 'req/s', ratio: 0.63 },
    { figure: 'idle VmRSS', value: 424.49, unit: 'MiB' },
    { figure: 'ratio', value: 1.014, unit: 'x' },
    { figure: 'fetch', value: 1.94, unit: 'ms', ratio: 0.0107 },
  ]);
  const lines = text.split('\n');
  t.match(lines[0], /^figure\s+value\s+x floor\s+note$/);
  t.equal(lines[2], '[floor]');
  t.match(lines[3], /^floor median\s+180 ms\s+1\.00$/);
  t.match(lines[4], /n\/a\s+not measured$/);
  t.match(lines[5], /3\.50 req\/s\s+0\.63$/);
  t.match(lines[6], /424\.5 MiB$/);
  t.match(lines[7], /1\.01x$/);
  t.match(lines[8], /1\.9 ms\s+0\.01$/);
  const end = (line: string | undefined, value: string): number => (line ?? '').indexOf(value) + value.length;
  t.equal(end(lines[3], '180 ms'), end(lines[5], '3.50 req/s'), 'values are right-aligned');
  t.equal(end(lines[5], '3.50 req/s'), end(lines[6], '424.5 MiB'));
});

t.test('parseArgs reads the options, repeatable --env, and refuses what it does not know', async (t) => {
  const options = parseArgs(['--quick', '--sizes', '1,4', '--env', 'INFERENCE_THREADS=1', '--env=MALLOC_ARENA_MAX=2', '--max-minutes=5']);
  t.equal(options.quick, true);
  t.same(options.sizes, [1, 4]);
  t.same(options.env, { INFERENCE_THREADS: '1', MALLOC_ARENA_MAX: '2' });
  t.equal(planFor(options).maxMinutes, 5);
  t.same(planFor(parseArgs([])).sizes, [0.3, 1, 4, 12, 24]);
  t.same(parseArgs(['--env', 'NODE_OPTIONS=--max-old-space-size=512']).env, { NODE_OPTIONS: '--max-old-space-size=512' });
  t.throws(() => parseArgs(['--fast']), /unknown argument/);
  t.throws(() => parseArgs(['--env', 'NOEQUALS']), /KEY=VALUE/);
  t.throws(() => parseArgs(['--sizes', '1,x']), /positive number/);
  t.throws(() => parseArgs(['--sizes']), /needs a value/);
});

t.test('dimensionsFor keeps the aspect ratio at about the asked megapixels', async (t) => {
  t.same(dimensionsFor(24, 1.5), { width: 6000, height: 4000 });
  const { width, height } = dimensionsFor(0.3, 1.5);
  t.ok(Math.abs((width * height) / 0.3e6 - 1) < 0.01);
  t.ok(Math.abs(width / height - 1.5) < 0.01);
  t.equal(imageName(0.3, 'png'), '0.3MP.png');
});
