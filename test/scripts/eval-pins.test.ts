// The defaults' cutout quality on the three development sets, pinned: a change that lowers a set's
// IoU by more than PIN_TOLERANCE below the recorded figure, or that refuses any photo of them, fails
// here. The folders come from the environment (.ci/run sets them from ../shared); a set whose
// variable is unset is skipped, saying so. Quality is scored, never time.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { evaluateFolder, type EvalOptions } from '../../scripts/eval.js';
import { loadConfig, projectRoot } from '../../src/config.js';
import { Segmenter } from '../../src/pipeline/segment.js';

t.setTimeout(900_000);

/** How far a set's mean IoU may fall below its recorded figure before the test fails. */
const PIN_TOLERANCE = 0.005;

interface Pin {
  /** The environment variable that names the set's folder. */
  env: string;
  iou: number;
  boundaryF: number;
}

const pins = JSON.parse(readFileSync(path.join(projectRoot, 'test', 'fixtures', 'quality-pins.json'), 'utf8')) as Record<string, Pin>;
const config = loadConfig({});
const defaults: EvalOptions = { subject: 'largest', refine: true, accuracy: 'standard', threshold: config.MASK_THRESHOLD, tolerance: 3 };

const present = Object.entries(pins).filter(([, pin]) => process.env[pin.env]);
const segmenter = present.length > 0 ? await Segmenter.load({ modelPath: config.MODEL_PATH, threads: config.INFERENCE_THREADS }) : undefined;
t.teardown(() => segmenter?.release());

for (const [set, pin] of Object.entries(pins)) {
  const folder = process.env[pin.env];
  t.test(`${set}: the defaults hold their recorded quality`, { skip: folder ? false : `${pin.env} is not set` }, async (t) => {
    const report = await evaluateFolder(path.resolve(folder!), defaults, {
      segmenter: segmenter!,
      maxPixels: config.MAX_INPUT_PIXELS,
      pngCompressionLevel: config.PNG_COMPRESSION_LEVEL,
    });
    const { summary } = report;
    t.ok(summary.images > 0, `${summary.images} photos scored`);
    t.same(summary.refusals, [], 'no photo is refused');
    t.ok(summary.iou >= pin.iou - PIN_TOLERANCE, `IoU ${summary.iou.toFixed(4)} (recorded ${pin.iou}, tolerance ${PIN_TOLERANCE})`);
    t.comment(`bF ${summary.boundaryF.toFixed(4)} (recorded ${pin.boundaryF}); plain pipeline IoU ${report.plain!.summary.iou.toFixed(4)}, bF ${report.plain!.summary.boundaryF.toFixed(4)}`);
  });
}
