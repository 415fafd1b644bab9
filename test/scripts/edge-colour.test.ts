import { writeFileSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import t from 'tap';
import { loadConfig } from '../../src/config.js';
import { Segmenter } from '../../src/pipeline/segment.js';
import { compositeOver, evaluateEdgeColour, formatEdgeColour, newSums, scoreBand } from '../../scripts/eval/edge-colour.js';
import { sceneImage, svgScene } from '../helpers/images.js';

const GREEN = [0, 255, 0] as const;

t.test('compositeOver: a F + (1 - a) C, rounded', async (t) => {
  const photo = Uint8Array.from([100, 100, 100, 10, 20, 30]);
  const alpha = Uint8Array.from([255, 51]);
  t.same([...compositeOver(photo, alpha, GREEN)], [100, 100, 100, 2, 208, 6]);
});

t.test('scoreBand: exact figures for a perfect cutout, an empty one and one that keeps the old colour', async (t) => {
  // One band pixel: a grey F of 100 at a fifth subject, and one solid pixel (outside the band).
  const photo = Uint8Array.from([100, 100, 100, 50, 50, 50]);
  const alpha = Uint8Array.from([51, 255]);
  const score = (result: number[] | null) => {
    const sums = newSums();
    const band = scoreBand(result && Uint8Array.from(result), photo, alpha, GREEN, sums);
    t.equal(band, 1, 'only the soft pixel is in the band');
    return sums;
  };
  const perfect = score([100, 100, 100, 51, 50, 50, 50, 255]);
  t.same(perfect, { error: 0, colourError: 0, alphaError: 0, tint: 0, errorTint: 0, tintRight: 0, right: 1 }, 'the subject itself: nothing wrong');

  // Nothing kept: white where the truth is 0.2 x 100 + 0.8 x 255 = 224, 31 lighter in each channel.
  const empty = score([0, 0, 0, 0, 50, 50, 50, 255]);
  t.ok(Math.abs(empty.error - 31 * Math.sqrt(3)) < 1e-9);
  t.ok(Math.abs(empty.alphaError - empty.error) < 1e-9, 'all of it the alpha');
  t.equal(empty.colourError, 0);
  t.equal(empty.tint, 0, 'no colour, no tint');
  t.ok(Math.abs(empty.errorTint + 62 / Math.SQRT2) < 1e-9, 'lighter in red and blue: away from green');
  t.same(score(null), empty, 'a refusal scores as nothing kept');

  // Opaque green: the colours' part is C - F = (-100, 155, -100), 200 / sqrt 2 along white -> green.
  const green = score([0, 255, 0, 255, 50, 50, 50, 255]);
  t.ok(Math.abs(green.tint - 200 / Math.SQRT2) < 1e-9, `tint ${green.tint}`);
  t.ok(Math.abs(green.colourError - Math.hypot(100, 155, 100)) < 1e-9);
  t.equal(green.right, 0, 'an alpha of 1 where the truth is 0.2 is not right');
  t.equal(empty.right, 1, 'one of 0 is (within 0.25)');
});

t.test('evaluateEdgeColour: a disc put on green and on magenta loses most of their tint with the estimate', async (t) => {
  const [width, height] = [480, 360];
  const folder = t.testdir({ images: {}, masks: {} });
  // A yellow disc: distinct from both colours, so the model finds it on each.
  const disc = { kind: 'circle', x: width / 2, y: height / 2, r: height / 4 } as const;
  writeFileSync(path.join(folder, 'images', 'disc.png'), await sceneImage(width, height, [{ ...disc, fill: '#d8b020' }]));
  const mask = sharp(svgScene(width, height, [{ ...disc, fill: '#ffffff' }], '#000000'));
  writeFileSync(path.join(folder, 'masks', 'disc.png'), await mask.png().toBuffer());

  const config = loadConfig({});
  const segmenter = await Segmenter.load({ modelPath: config.MODEL_PATH, threads: config.INFERENCE_THREADS });
  t.teardown(() => segmenter.release());
  let inferences = 0;
  const counting = { predict: (input: Float32Array) => (inferences++, segmenter.predict(input)) };
  const results = await evaluateEdgeColour(
    folder,
    { settings: { subject: 'largest', threshold: config.MASK_THRESHOLD, refine: true, accuracy: 'standard' } },
    { segmenter: counting, maxPixels: config.MAX_INPUT_PIXELS, pngCompressionLevel: config.PNG_COMPRESSION_LEVEL },
  );
  t.same(results.map((r) => r.colour), ['green', 'magenta']);
  t.equal(inferences, 2, 'one inference per colour: the runs with and without the estimate share it');
  for (const r of results) {
    t.same(r.refusals, [], `${r.colour}: the disc is found`);
    t.ok(r.bandPixels > 1000, `${r.colour}: ${r.bandPixels} band pixels`);
    t.ok(r.before.tint > 5, `${r.colour}: the old colour shows without the estimate (tint ${r.before.tint.toFixed(1)})`);
    t.ok(r.after.tint < r.before.tint / 2, `${r.colour}: tint ${r.before.tint.toFixed(1)} -> ${r.after.tint.toFixed(1)}`);
    t.ok(r.after.tintWhereAlphaRight < r.before.tintWhereAlphaRight / 2, `${r.colour}: where the alpha is right, ${r.before.tintWhereAlphaRight.toFixed(1)} -> ${r.after.tintWhereAlphaRight.toFixed(1)}`);
    t.ok(r.after.alphaRightShare > 0.5 && r.after.alphaRightShare <= 1);
    t.ok(r.after.colourError < r.before.colourError, `${r.colour}: colour error ${r.before.colourError.toFixed(1)} -> ${r.after.colourError.toFixed(1)}`);
    t.equal(r.after.alphaError, r.before.alphaError, `${r.colour}: the alpha is the same either way`);
    t.ok(r.boxMegapixels > 0 && r.colourMs > 0 && r.msPerMegapixel > 0, `${r.colour}: the colour stage is timed`);
  }
  const table = formatEdgeColour(folder, results);
  t.match(table, /^green\s+1\s+\d+\s+[\d.]+ -> [\d.]+ \(\d+ %\)/m);
  t.match(table, /^magenta\s+1\s/m);
});
