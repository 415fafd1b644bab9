// Parity with the reference u2netp: on the official U^2-Net test images, the service's mask (all
// subjects, uncropped, refinement off) must match the official u2netp outputs. PARITY_FIXTURES names the folder
// (images/ and u2netp_results/); without it this test is skipped, never passed.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import t from 'tap';
import { buildTestApp } from './helpers/app.js';
import { decodeImageBytes } from './helpers/images.js';
import { startSourceServer } from './helpers/source-server.js';

const fixtures = process.env.PARITY_FIXTURES;
const MEAN_LIMIT = 0.02;
const IMAGE_LIMIT = 0.045;

t.test('mask parity with the official u2netp outputs', { skip: fixtures ? false : 'PARITY_FIXTURES is not set' }, async (t) => {
  const folder = path.resolve(fixtures!);
  const names = readdirSync(path.join(folder, 'images')).sort();
  t.equal(names.length, 18, 'the 18 official test images');
  const app = await buildTestApp(t);
  const source = await startSourceServer(
    t,
    Object.fromEntries(names.map((name) => [`/${name}`, readFileSync(path.join(folder, 'images', name))])),
  );

  const errors: number[] = [];
  for (const name of names) {
    const response = await app.inject({
      method: 'POST',
      url: '/remove-background',
      payload: { image_url: source.url(`/${name}`), crop: false, subject: 'all', channels: 'alpha', refine: false },
    });
    t.equal(response.statusCode, 200, name);
    const ours = await decodeImageBytes(response.rawPayload);
    const reference = await sharp(path.join(folder, 'u2netp_results', name.replace(/\.\w+$/, '.png')))
      .extractChannel(0)
      .raw()
      .toBuffer({ resolveWithObject: true });
    t.same([ours.width, ours.height], [reference.info.width, reference.info.height], `${name} size`);
    let sum = 0;
    for (let i = 0; i < reference.data.length; i++) sum += Math.abs(ours.data[i]! - reference.data[i]!);
    const error = sum / reference.data.length / 255;
    errors.push(error);
    t.ok(error <= IMAGE_LIMIT, `${name}: mean absolute error ${error.toFixed(4)} <= ${IMAGE_LIMIT}`);
  }
  const mean = errors.reduce((a, b) => a + b, 0) / errors.length;
  t.ok(mean <= MEAN_LIMIT, `mean absolute error over the set ${mean.toFixed(4)} <= ${MEAN_LIMIT}`);
});
