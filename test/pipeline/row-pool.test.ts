// The two-thread versions of the edge filter and the colour step give the serial functions' result
// byte for byte; a worker that dies is replaced, and a pool whose worker has gone for good leaves
// the pipeline on one thread.
import { once } from 'node:events';
import type { Worker } from 'node:worker_threads';
import sharp from 'sharp';
import t from 'tap';
import type { Box } from '../../src/pipeline/compose.js';
import { decodePixels, readHeader, type DecodedImage } from '../../src/pipeline/decode.js';
import { estimateForeground } from '../../src/pipeline/foreground.js';
import { calibrateGrid, edgeGeometry, refineEdges } from '../../src/pipeline/refine.js';
import { encodePng } from '../../src/pipeline/png.js';
import { clearHidden } from '../../src/pipeline/compose.js';
import { bothHalves, clearHiddenShared, encodePngShared, estimateForegroundShared, MAX_SHARED_PIXELS, MAX_WORKER_RESTARTS, MIN_SHARED_COLOUR_PIXELS, MIN_SHARED_PIXELS, refineEdgesShared, RowPool, worthSharing } from '../../src/pipeline/row-pool.js';
import { seededRandom } from '../../scripts/seeded-random.js';

const SIZE = 320;

/** A textured photo-like image (noise on two colours split by a wavy edge) and a soft grid for it. */
function scene(width: number, height: number): { image: DecodedImage; grid: Uint8Array } {
  const next = seededRandom(7);
  const pixels = Buffer.alloc(width * height * 4);
  const edge = (x: number) => height * (0.5 + 0.15 * Math.sin((x / width) * 9));
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const p = (y * width + x) * 4;
      const inside = y > edge(x);
      const noise = Math.floor(next() * 40);
      pixels[p] = (inside ? 180 : 30) + noise;
      pixels[p + 1] = (inside ? 60 : 200) + noise;
      pixels[p + 2] = (inside ? 40 : 60) + noise;
      pixels[p + 3] = 255;
    }
  }
  const grid = new Uint8Array(SIZE * SIZE);
  for (let gy = 0; gy < SIZE; gy++) {
    for (let gx = 0; gx < SIZE; gx++) {
      const y = ((gy + 0.5) / SIZE) * height;
      const distance = (y - edge(((gx + 0.5) / SIZE) * width)) / (height / SIZE); // in grid cells
      grid[gy * SIZE + gx] = Math.round(255 * Math.min(1, Math.max(0, 0.5 + distance / 4)));
    }
  }
  return { image: { format: 'jpeg', width, height, hasAlpha: false, pixels }, grid: calibrateGrid(grid) };
}

t.test('refineEdgesShared and estimateForegroundShared: the serial results, byte for byte', async (t) => {
  const pool = RowPool.start();
  t.teardown(() => pool.close());
  const region: Box = { left: 17, top: 9, width: 1180, height: 851 };
  const { image, grid } = scene(1200, 900);
  const serial = { ...image, pixels: Buffer.from(image.pixels) };
  const serialBox = refineEdges(serial, grid, region);
  const serialCount = estimateForeground(serial, region);

  const lease = pool.lend(image)!;
  t.teardown(() => lease.release());
  const shared = { ...image, pixels: lease.pixels };
  t.ok(shared.pixels.buffer instanceof SharedArrayBuffer, 'the copy is in shared memory');
  t.same(shared.pixels, image.pixels, 'and holds the same pixels');
  t.ok(worthSharing(pool, region), `a region of ${MIN_SHARED_PIXELS} pixels or more is shared`);
  t.notOk(worthSharing(pool, { width: 700, height: 700 }), 'a smaller one stays on one thread (the functions work on any)');
  t.notOk(worthSharing(pool, region, MIN_SHARED_COLOUR_PIXELS), `under ${MIN_SHARED_COLOUR_PIXELS} pixels the colour step stays on one thread`);
  t.ok(worthSharing(pool, region, region.width * region.height), 'one of the minimum size is shared');
  t.same(await refineEdgesShared(pool, shared, grid, region), serialBox, 'the same subject box');
  t.equal(await estimateForegroundShared(pool, shared, region), serialCount, 'as many pixels rewritten');
  t.ok(serialCount > 0, 'and there were some');
  t.ok(Buffer.compare(shared.pixels, serial.pixels) === 0, 'the same pixels, alpha and colour');
});

t.test('encodePngShared: the worker deflates half the rows; the file decodes to the same pixels', async (t) => {
  const pool = RowPool.start();
  t.teardown(() => pool.close());
  const { image } = scene(900, 700);
  const box: Box = { left: 31, top: 12, width: 800, height: 655 };
  const lease = pool.lend(image)!;
  t.teardown(() => lease.release());
  const two = await encodePngShared(pool, { ...image, pixels: lease.pixels }, box);
  const one = encodePng(image.pixels, image.width, box);
  const [a, b] = await Promise.all([two, one].map((png) => sharp(png).raw().toBuffer()));
  t.ok(a!.equals(b!), 'the same pixels');
  const expected = await sharp(image.pixels, { raw: { width: image.width, height: image.height, channels: 4 } }).extract(box).raw().toBuffer();
  t.ok(a!.equals(expected), "and they are the box's");
  t.ok(Math.abs(two.length - one.length) < 64, `about the same size (${two.length} and ${one.length} bytes)`);
});

t.test('clearHiddenShared: each thread clears half the rows; the serial pixels', async (t) => {
  const pool = RowPool.start();
  t.teardown(() => pool.close());
  const { image } = scene(600, 500);
  // Some transparent pixels inside the region, whose colour must go.
  for (let p = 3; p < image.pixels.length; p += 4 * 7) image.pixels[p] = 0;
  const region: Box = { left: 50, top: 40, width: 400, height: 300 };
  const box: Box = { left: 30, top: 20, width: 520, height: 451 };
  const serial = { ...image, pixels: Buffer.from(image.pixels) };
  clearHidden(serial, region, box);
  const lease = pool.lend(image)!;
  t.teardown(() => lease.release());
  await clearHiddenShared(pool, { ...image, pixels: lease.pixels }, region, box);
  t.ok(Buffer.compare(lease.pixels, serial.pixels) === 0, 'the same pixels');
  t.not(Buffer.compare(serial.pixels, image.pixels), 0, 'and there was something to clear');
});

t.test('a pool whose worker has gone is no longer used, and says why', async (t) => {
  const pool = RowPool.start();
  await pool.close();
  t.equal(pool.usable, false);
  const { image } = scene(800, 700);
  t.notOk(worthSharing(pool, { width: 4000, height: 3000 }), `not even for a region of ${MIN_SHARED_PIXELS} pixels or more`);
  await t.rejects(pool.run({ kind: 'colour', pixels: new Uint8Array(4), width: 1, top: 0, bottom: 0 } as never), /closed/);
});

t.test('a worker that dies fails its tasks and is replaced, up to MAX_WORKER_RESTARTS times', async (t) => {
  const pool = RowPool.start();
  t.teardown(() => pool.close());
  // The worker is private: reached here only to kill it, as a crash would.
  const worker = () => (pool as unknown as { worker: Worker }).worker;
  const { image, grid } = scene(400, 300);
  const region: Box = { left: 0, top: 0, width: 400, height: 300 };
  const expected = refineEdges({ ...image, pixels: Buffer.from(image.pixels) }, grid, region);
  // A task long enough (the guide's sums over 12 MP) to be running when the worker is killed.
  const large = { width: 4000, height: 3000 };
  const whole: Box = { left: 0, top: 0, ...large };
  const pixels = new Uint8Array(new SharedArrayBuffer(large.width * large.height * 4));
  for (let death = 1; death <= MAX_WORKER_RESTARTS + 1; death++) {
    const dying = worker();
    const exited = once(dying, 'exit');
    const held = pool.run({ kind: 'guide', pixels, width: large.width, region: whole, geometry: edgeGeometry(large, whole), top: 0, bottom: large.height });
    held.catch(() => {});
    await dying.terminate();
    await exited;
    await t.rejects(held, /row worker exited/, `death ${death}: the task it held fails`);
    if (death <= MAX_WORKER_RESTARTS) {
      t.ok(pool.usable, `death ${death}: the pool is still usable`);
      t.not(worker(), dying, 'with a new worker');
      const lease = pool.lend(image)!;
      t.same(await refineEdgesShared(pool, { ...image, pixels: lease.pixels }, grid, region), expected, 'which does the work');
      lease.release();
    } else {
      t.notOk(pool.usable, 'one that keeps dying is given up: requests run on one thread');
      await t.rejects(pool.run({ kind: 'colour', pixels: new Uint8Array(4), width: 1, top: 0, bottom: 0 } as never), /exited/);
    }
  }
});

t.test("when this thread's half throws, the worker's half is waited for before the error goes on", async (t) => {
  let settled = false;
  const theirs = new Promise<number>((resolve) => setTimeout(() => {
    settled = true;
    resolve(1);
  }, 50));
  await t.rejects(bothHalves(theirs, () => {
    throw new Error('main half');
  }), /main half/);
  t.ok(settled, "the worker's half had finished (the pixels can be lent again)");
  t.same(await bothHalves(Promise.resolve('theirs'), () => 'mine'), ['mine', 'theirs'], 'otherwise both results');
});

t.test('the shared memory is one buffer, lent to one request at a time and reused', async (t) => {
  const pool = RowPool.start();
  t.teardown(() => pool.close());
  const small = scene(300, 200).image;
  const large = scene(600, 400).image;
  const first = pool.lend(large)!;
  t.same(first.pixels, large.pixels, 'the image is copied in');
  t.equal(pool.lend(small), undefined, 'while it is lent, another request gets none (and runs on one thread)');
  first.release();
  first.release(); // twice is harmless
  const second = pool.lend(small)!;
  t.equal(second.pixels.buffer, first.pixels.buffer, 'given back, the same memory is lent again');
  t.equal(second.pixels.length, small.pixels.length, 'as long as the image');
  t.same(second.pixels, small.pixels);
  second.release();
  const huge = { ...small, width: MAX_SHARED_PIXELS + 1, height: 1, pixels: { length: (MAX_SHARED_PIXELS + 1) * 4 } as Buffer };
  t.equal(pool.lend(huge), undefined, 'an image over MAX_SHARED_PIXELS is not copied');
});

t.test('decodeShared: the worker decodes into the shared memory, the same pixels as a decode here; a bad image is refused as one', async (t) => {
  const pool = RowPool.start();
  t.teardown(() => pool.close());
  const limits = { maxPixels: 50_000_000 };
  const source = await sharp(scene(640, 480).image.pixels, { raw: { width: 640, height: 480, channels: 4 } }).removeAlpha().withMetadata({ orientation: 6 }).jpeg().toBuffer();
  const header = await readHeader(source, limits);
  const here = await decodePixels(source, header, limits);
  const shared = pool.decodeShared(source, header, limits)!;
  t.equal(pool.lend(here), undefined, 'the memory is lent from the start of the decode');
  const image = await shared.decoding;
  t.same([image.width, image.height, image.format, image.hasAlpha], [here.width, here.height, 'jpeg', false], 'turned by its orientation, as here');
  t.equal(image.pixels.buffer, shared.lease.pixels.buffer, 'in the shared memory');
  t.ok(image.pixels.equals(here.pixels), 'the same pixels');
  shared.lease.release();

  const broken = Buffer.concat([source.subarray(0, 2000), Buffer.alloc(source.length - 2000)]);
  const failed = pool.decodeShared(broken, header, limits)!;
  await t.rejects(failed.decoding, { code: 'image_decode_failed', statusCode: 422 }, 'the refusal, not a fault');
  failed.lease.release();
  t.ok(pool.usable, 'and the worker goes on');
});
