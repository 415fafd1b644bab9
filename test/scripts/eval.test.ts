import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import t from 'tap';
import { loadConfig } from '../../src/config.js';
import { Segmenter } from '../../src/pipeline/segment.js';
import { evaluateFolder, formatSummary, formatTable, pairImages, parseEvalArgs, UsageError } from '../../scripts/eval.js';
import { blankImage, discImage, svgScene } from '../helpers/images.js';

t.test('parseEvalArgs: defaults, options and mistakes', async (t) => {
  t.same(parseEvalArgs(['set'], 0.5), {
    folders: ['set'], edges: true, subject: 'largest', refine: true, accuracy: 'standard', threshold: 0.5, tolerance: 3, json: undefined,
  });
  t.same(
    parseEvalArgs(['set', '--subject', 'group', '--refine', 'off', '--accuracy', 'high', '--threshold', '0.3', '--tolerance', '5', '--edges', 'off', '--json', 'out.json'], 0.5),
    { folders: ['set'], edges: false, subject: 'group', refine: false, accuracy: 'high', threshold: 0.3, tolerance: 5, json: 'out.json' },
  );
  t.equal(parseEvalArgs(['set'], 0.4).threshold, 0.4, 'the threshold defaults to the service setting');
  t.throws(() => parseEvalArgs([], 0.5), UsageError, 'no folder');
  t.same(parseEvalArgs(['a', 'b', '--subject', 'all'], 0.5).folders, ['a', 'b'], 'several folders, scored in one run');
  t.throws(() => parseEvalArgs(['set', '--subject', 'biggest'], 0.5), UsageError);
  t.throws(() => parseEvalArgs(['set', '--refine', 'yes'], 0.5), UsageError);
  t.throws(() => parseEvalArgs(['set', '--edges', 'yes'], 0.5), UsageError);
  t.throws(() => parseEvalArgs(['set', '--accuracy', 'best'], 0.5), UsageError);
  t.throws(() => parseEvalArgs(['set', '--threshold', '1'], 0.5), UsageError);
  t.throws(() => parseEvalArgs(['set', '--threshold', 'half'], 0.5), UsageError);
  t.throws(() => parseEvalArgs(['set', '--tolerance', '-1'], 0.5), UsageError);
  t.throws(() => parseEvalArgs(['set', '--colour', 'red'], 0.5), UsageError, 'unknown option');
});

t.test('evaluateFolder scores a found subject, a refusal and skips what has no mask', async (t) => {
  const folder = t.testdir({ images: {}, masks: {} });
  const [width, height] = [480, 360];
  writeFileSync(path.join(folder, 'images', 'disc.png'), await discImage(width, height));
  // The ground truth: the same disc, white on black, stored as RGB as the dev set's masks are.
  const truth = sharp(svgScene(width, height, [{ kind: 'circle', x: width / 2, y: height / 2, r: height / 4, fill: '#ffffff' }], '#000000'));
  writeFileSync(path.join(folder, 'masks', 'disc.png'), await truth.png().toBuffer());
  writeFileSync(path.join(folder, 'images', 'blank.png'), await blankImage(width, height));
  writeFileSync(path.join(folder, 'masks', 'blank.png'), await truth.png().toBuffer());
  writeFileSync(path.join(folder, 'images', 'lonely.png'), await blankImage(64, 64));
  mkdirSync(path.join(folder, 'images', '.hidden'));

  t.same(pairImages(folder).pairs.map((p) => p.name), ['blank.png', 'disc.png']);
  t.throws(() => pairImages(path.join(folder, 'images')), UsageError, 'a folder without images/ and masks/');

  const config = loadConfig({});
  const segmenter = await Segmenter.load({ modelPath: config.MODEL_PATH, threads: config.INFERENCE_THREADS });
  t.teardown(() => segmenter.release());
  const seen: string[] = [];
  let inferences = 0;
  const counting = { predict: (input: Float32Array) => (inferences++, segmenter.predict(input)) };
  const report = await evaluateFolder(folder, { subject: 'largest', refine: true, accuracy: 'standard', threshold: 0.5, tolerance: 3 }, {
    segmenter: counting,
    maxPixels: config.MAX_INPUT_PIXELS,
    pngCompressionLevel: config.PNG_COMPRESSION_LEVEL,
    progress: (_done, _total, name) => seen.push(name),
  });

  t.same(seen, ['blank.png', 'disc.png']);
  t.same(report.unmatched, ['lonely.png']);
  const [blank, disc] = report.results;
  t.equal(blank!.refused, 'no_foreground', 'the blank image is refused');
  t.equal(blank!.iou, 0, 'and scored as an empty mask');
  t.equal(blank!.boundaryF, 0);
  t.ok(blank!.mae > 0.1, `its MAE is the subject's share (${blank!.mae.toFixed(3)})`);
  t.equal(disc!.refused, null);
  t.ok(disc!.iou > 0.9, `the disc is found (IoU ${disc!.iou.toFixed(3)})`);
  t.ok(disc!.boundaryF > 0.9, `with its edge (F ${disc!.boundaryF.toFixed(3)})`);
  t.ok(disc!.mae < 0.05, `MAE ${disc!.mae.toFixed(3)}`);
  t.ok(disc!.ms > 0 && disc!.stages.infer! > 0, 'timed, with stages');
  t.same(report.summary.refusals, [{ name: 'blank.png', code: 'no_foreground' }]);
  t.ok(Math.abs(report.summary.iou - (blank!.iou + disc!.iou) / 2) < 1e-12, 'the refusal counts in the mean');

  const table = formatTable(report);
  t.match(table, /disc\.png\s+480x360\s+0\.9\d\d/);
  t.match(table, /blank\.png.*refused: no_foreground/);
  t.match(table, /mean \(2\)/);
  t.match(table, /refusals: 1 \(blank\.png no_foreground\)/);
  t.match(table, /left out \(no mask\): lonely\.png/);

  // The plain pipeline ran on the same images from the same inferences.
  t.equal(inferences, 2, 'one inference per image, shared with the plain run');
  t.same(report.plain!.results.map((r) => r.name), ['blank.png', 'disc.png']);
  t.equal(report.plain!.results[0]!.refused, 'no_foreground');
  t.ok(report.plain!.summary.iou > 0.4, 'the plain run is scored too');
  t.match(table, /plain pipeline\s+0\.\d{3}\s+0\.\d{3}/);
  t.match(table, /change\s+[+-]\d\.\d{3}/);
  const plainOnly = await evaluateFolder(folder, { subject: 'all', refine: false, accuracy: 'standard', threshold: 0.5, tolerance: 3 }, {
    segmenter,
    maxPixels: config.MAX_INPUT_PIXELS,
    pngCompressionLevel: config.PNG_COMPRESSION_LEVEL,
  });
  t.equal(plainOnly.plain, null, 'asking for the plain pipeline itself runs it once');
  t.notMatch(formatTable(plainOnly), /plain pipeline/);

  const summary = formatSummary([report, plainOnly]).split('\n');
  t.equal(summary.length, 5, 'a title, a header, a rule and a row per set');
  const name = path.basename(folder);
  t.match(summary[3], new RegExp(`^${name}\\s+2\\s+${report.summary.iou.toFixed(3)}\\s+${report.summary.mae.toFixed(3)}\\s+${report.summary.boundaryF.toFixed(3)}\\s+1\\s+\\|\\s+${report.plain!.summary.iou.toFixed(3)}`), 'the options and the plain pipeline side by side, with refusals');
  t.match(summary[4], new RegExp(`\\|\\s+${plainOnly.summary.iou.toFixed(3)}`), 'a plain run is its own plain column');
});
