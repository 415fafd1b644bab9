import { readdirSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import t from 'tap';
import { pairImages } from '../../scripts/eval.js';
import { generateProducts } from '../../scripts/generate-products.js';

t.test('generateProducts writes photos with exact, binary masks of the same size, as eval reads them', async (t) => {
  const folder = t.testdir();
  const names = await generateProducts(folder, 300);
  t.equal(names.length, 6);
  t.same(pairImages(folder).pairs.map((p) => p.name), names.map((n) => `${n}.jpg`).sort());
  t.same(pairImages(folder).unmatched, []);
  for (const name of names) {
    const photo = await sharp(path.join(folder, 'images', `${name}.jpg`)).metadata();
    const mask = path.join(folder, 'masks', `${name}.png`);
    const { data, info } = await sharp(mask).extractChannel(0).raw().toBuffer({ resolveWithObject: true });
    t.same([photo.width, photo.height, info.width, info.height], [300, 200, 300, 200], `${name} is 300x200, mask too`);
    t.equal((await sharp(mask).metadata()).channels, 1, 'the mask is stored as one channel');
    const levels = new Set(data);
    const subject = data.filter((v) => v > 127).length / data.length;
    t.ok(levels.has(0) && levels.has(255), `${name}: mask holds background and subject`);
    t.ok(subject > 0.01 && subject < 0.6, `${name}: subject covers ${(subject * 100).toFixed(0)} %`);
  }
  t.same(readdirSync(folder).sort(), ['images', 'masks']);
});
