// The fuzzer (scripts/fuzz.ts) as part of the suite: a short seeded run through the pipeline and
// over HTTP with the real model must find nothing and keep memory flat, and every input that ever
// failed (test/fixtures/fuzz/) is replayed. `npm run fuzz -- --cases N --seed S` runs a long one.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { keptCases, minimise, runHttpCase, runPipelineCase, startHttpTarget, type FuzzReport } from '../../scripts/fuzz.js';
import { mutate } from '../../scripts/fuzz/mutate.js';
import { seededRandom } from '../../scripts/seeded-random.js';
import { projectRoot, RUNTIME_ENV } from '../../src/config.js';
import { ACCEPTED_FORMATS } from '../../src/pipeline/decode.js';

// A few thousand cases and a few hundred inferences, on a machine that may be busy.
t.setTimeout(600_000);

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

t.test('a short run: no crash, no hang, no 5xx, only documented refusals, memory flat', async (t) => {
  // The built script in its own process, as `npm run fuzz` runs it: its memory is the fuzzer's
  // alone, and the cases run at the speed of plain node (no test loader, no coverage).
  const fixtures = t.testdir({});
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [path.join(projectRoot, 'dist', 'scripts', 'fuzz.js'), '--cases', '2500', '--http', '200', '--seed', '17', '--json', '--fixtures', fixtures],
    { env: { ...process.env, ...RUNTIME_ENV }, maxBuffer: 64 * 1024 * 1024 },
  );
  const report = JSON.parse(stdout) as FuzzReport;
  t.comment(`${report.cases} pipeline + ${report.httpCases} HTTP cases in ${report.ms} ms; pipeline ${JSON.stringify(report.outcomes.pipeline)}; http ${JSON.stringify(report.outcomes.http)}`);
  t.comment(`slowest case: ${JSON.stringify(report.slowest[0])}`);
  t.same(report.findings, [], 'no findings (a new one: `npm run fuzz -- --cases 2500 --http 200 --seed 17` keeps its minimised input in test/fixtures/fuzz/)');
  t.equal(report.cases, 2500);
  t.equal(report.httpCases, 200);
  t.same(Object.keys(report.formats).sort(), [...ACCEPTED_FORMATS].sort(), 'every accepted format was mutated');
  for (const kind of ['flip', 'insert', 'delete', 'truncate', 'png-ihdr-width', 'jpeg-frame-height', 'jpeg-exif-orientation', 'jpeg-icc-size']) {
    t.ok(Object.keys(report.mutations).some((name) => name.startsWith(kind)), `mutations of kind ${kind}`);
  }
  // Both paths saw images accepted and refused, so the cases reach past the first check.
  for (const outcomes of [report.outcomes.pipeline, report.outcomes.http]) {
    t.ok((outcomes.ok ?? 0) > 0 && (outcomes.image_decode_failed ?? 0) > 0, 'some accepted, some refused as corrupt');
  }
  // Flat, in each part: after its first quarter (warm-up: libvips' and the model's first buffers),
  // the median of the last quarter's samples is within 100 MB of the second quarter's.
  for (const [part, samples] of Object.entries(report.rssMb)) {
    const quarter = Math.max(1, Math.floor(samples.length / 4));
    const early = median(samples.slice(quarter, 2 * quarter));
    const late = median(samples.slice(-quarter));
    t.ok(late - early < 100, `${part}: resident memory ${early} MB early, ${late} MB late (samples: ${samples.join(' ')})`);
  }
});

t.test('every input that ever failed is kept and now gets a documented answer', async (t) => {
  const kept = keptCases();
  t.comment(`${kept.length} kept inputs`);
  const limits = { maxPixels: 4_000_000, deadlineMs: 60_000 };
  const target = kept.length > 0 ? await startHttpTarget({ MAX_INPUT_PIXELS: String(limits.maxPixels) }) : undefined;
  t.teardown(() => target?.close());
  for (const { name, bytes } of kept) {
    for (const whole of [false, true]) {
      const outcome = await runPipelineCase(bytes, limits, whole, seededRandom(1));
      t.ok(outcome.ok, `${name} through the pipeline${whole ? ', whole' : ''}: ${JSON.stringify(outcome)}`);
    }
    const outcome = await runHttpCase(target!, bytes, 65_000, seededRandom(1));
    t.ok(outcome.ok, `${name} over HTTP: ${JSON.stringify(outcome)}`);
  }
});

t.test('mutations are seeded: the same seed gives the same bytes', async (t) => {
  const bytes = Buffer.from('\x89PNG\r\n\x1a\n' + 'x'.repeat(200), 'latin1');
  const first = mutate(bytes, 'png', seededRandom(5));
  const again = mutate(bytes, 'png', seededRandom(5));
  t.same(again, first);
  t.notSame(mutate(bytes, 'png', seededRandom(6)).bytes, first.bytes);
});

t.test('minimise keeps the failure and drops the rest', async (t) => {
  const bytes = Buffer.from('aaaaaaaaaaXbbbbbbbbbbYcccccccccc');
  // "Fails" while it has an X before a Y.
  const small = await minimise(bytes, async (candidate) => /X.*Y/.test(candidate.toString()));
  t.equal(small.toString(), 'XY');
});
