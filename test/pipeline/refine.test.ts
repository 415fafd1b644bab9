import t from 'tap';
import { ALPHA_FLOOR, applySubjectAlpha } from '../../src/pipeline/compose.js';
import type { DecodedImage } from '../../src/pipeline/decode.js';
import { ALPHA_LEVELS, boxMeans, calibrateGrid, refineEdges, wantsEdgeFilter } from '../../src/pipeline/refine.js';

t.test('calibrateGrid: low and below to 0, high and above to 255, linear between', async (t) => {
  const low = Math.floor(ALPHA_LEVELS.low * 255);
  const high = Math.ceil(ALPHA_LEVELS.high * 255);
  const middle = Math.round((low + high) / 2);
  const grid = calibrateGrid(Uint8Array.from([0, low, middle, high, 255]));
  t.same([grid[0], grid[1], grid[3], grid[4]], [0, 0, 255, 255]);
  t.ok(Math.abs(grid[2]! - 128) <= 2, `the middle of the levels lands in the middle (${grid[2]})`);
  t.same([...calibrateGrid(Uint8Array.from([0, 51, 102]), 0, 0.4)], [0, 128, 255], 'levels can be given');
  t.equal(ALPHA_LEVELS.low + ALPHA_LEVELS.high, 1, "the default levels keep the model's half-way line");
  const [below, above] = calibrateGrid(Uint8Array.from([127, 128]));
  t.ok(below! <= 127 && above! >= 128, `the half-way line stays where it is (127 -> ${below}, 128 -> ${above})`);
});

t.test('boxMeans equals the plain windowed mean of both planes, windows cut at the borders', async (t) => {
  // Shapes where the window's growing, sliding and shrinking spans meet, overlap or vanish.
  for (const [w, h, radius] of [[13, 7, 2], [5, 5, 2], [4, 9, 2], [3, 3, 5], [1, 6, 1], [8, 1, 3], [30, 20, 4]] as const) {
    const sources = [Float32Array.from({ length: w * h }, (_, i) => (i * 7919) % 101), Float32Array.from({ length: w * h }, (_, i) => (i * 104729) % 53)] as const;
    const targets = [new Float32Array(w * h), new Float32Array(w * h)] as const;
    boxMeans(sources, targets, [new Float32Array(w * h), new Float32Array(w * h)], w, h, radius);
    for (const plane of [0, 1] as const) {
      const source = sources[plane];
      let worst = 0;
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          let sum = 0;
          let count = 0;
          for (let v = Math.max(0, y - radius); v <= Math.min(h - 1, y + radius); v++) {
            for (let u = Math.max(0, x - radius); u <= Math.min(w - 1, x + radius); u++, count++) sum += source[v * w + u]!;
          }
          worst = Math.max(worst, Math.abs(targets[plane][y * w + x]! - sum / count));
        }
      }
      t.ok(worst < 1e-3, `${w}x${h}, radius ${radius}, plane ${plane + 1}: largest difference ${worst}`);
    }
  }
});

t.test('wantsEdgeFilter: opaque images two grid cells per pixel or more across', async (t) => {
  const image = (width: number, height: number, hasAlpha = false): DecodedImage =>
    ({ format: 'png', width, height, hasAlpha, pixels: Buffer.alloc(0) });
  t.ok(wantsEdgeFilter(image(640, 480)));
  t.ok(wantsEdgeFilter(image(300, 700)), 'the long side counts');
  t.notOk(wantsEdgeFilter(image(481, 321)), 'the grid already resolves a small image');
  t.notOk(wantsEdgeFilter(image(4000, 3000, true)), 'inputs with transparency keep their own alpha out of it');
});

/**
 * A 1600x1200 image (5 pixels per grid cell): dark left of x = EDGE, bright right of it, with a
 * little texture; and a grid whose alpha, resized to the image, ramps from 255 to 0 over a grid
 * cell centred `offset` pixels right of the edge: the subject (the dark side) a little too wide
 * or, offset < 0, too narrow.
 */
const [W, H, EDGE, RAMP] = [1600, 1200, 700, 5];
const SIZE = 320;
function scene(offset: number): { image: DecodedImage; grid: Uint8Array } {
  const pixels = Buffer.alloc(W * H * 4);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const p = (y * W + x) * 4;
      const texture = ((x * 13 + y * 7) % 9) - 4;
      const value = x < EDGE ? 40 + texture : 210 + texture;
      pixels[p] = value;
      pixels[p + 1] = value;
      pixels[p + 2] = value;
      pixels[p + 3] = 255; // as decoded: opaque until the subject's alpha is written
    }
  }
  const grid = new Uint8Array(SIZE * SIZE);
  for (let c = 0; c < SIZE; c++) {
    const centre = (c + 0.5) * (W / SIZE) - 0.5; // the cell's centre in image pixels
    const value = Math.round(255 * Math.min(1, Math.max(0, (EDGE + offset + RAMP / 2 - centre) / RAMP)));
    for (let r = 0; r < SIZE; r++) grid[r * SIZE + c] = value;
  }
  return { image: { format: 'png', width: W, height: H, hasAlpha: false, pixels }, grid };
}

/** The first x on row y, from `from`, where alpha drops below half. */
function crossing(image: DecodedImage, y: number, from: number): number {
  for (let x = from; x < image.width; x++) if (image.pixels[(y * image.width + x) * 4 + 3]! < 128) return x;
  return -1;
}

t.test('refineEdges moves the alpha edge onto the image edge and leaves colours alone', async (t) => {
  const region = { left: 400, top: 100, width: 700, height: 1000 };
  for (const offset of [3, -3]) {
    const { image, grid } = scene(offset);
    const colours = Buffer.from(image.pixels);
    // Where the grid alone would put the edge: its alpha resized, without the filter.
    const plain = { ...image, pixels: Buffer.from(image.pixels) };
    applySubjectAlpha(plain, grid, region, SIZE);
    const before = crossing(plain, 600, region.left);
    const started = performance.now();
    const box = refineEdges(image, grid, region, SIZE)!;
    t.comment(`refineEdges on a 0.7 MP region: ${(performance.now() - started).toFixed(0)} ms`);
    const after = crossing(image, 600, region.left);
    t.ok(Math.abs(before - (EDGE + offset)) <= 1, `without the filter the edge is ${offset} px off: x = ${before}`);
    t.ok(Math.abs(after - EDGE) <= 1, `alpha crossed half at x = ${before}, now at ${after}; the image edge is at ${EDGE}`);

    const alphaAt = (x: number, y: number) => image.pixels[(y * W + x) * 4 + 3]!;
    t.equal(alphaAt(EDGE - 40, 600), 255, 'well inside stays opaque');
    t.equal(alphaAt(EDGE + 40, 600), 0, 'well outside stays clear');
    t.equal(alphaAt(50, 50), colours[(50 * W + 50) * 4 + 3], 'pixels outside the region are not touched');
    let changed = 0;
    for (let p = 0; p < colours.length; p += 4) {
      if (colours[p] !== image.pixels[p] || colours[p + 1] !== image.pixels[p + 1] || colours[p + 2] !== image.pixels[p + 2]) changed++;
    }
    t.equal(changed, 0, 'no colour changes');

    // The box is that of the alpha above the floor, inside the region.
    let minX = Infinity, maxX = -1, minY = Infinity, maxY = -1;
    for (let y = region.top; y < region.top + region.height; y++) {
      for (let x = region.left; x < region.left + region.width; x++) {
        if (alphaAt(x, y) <= ALPHA_FLOOR) continue;
        minX = Math.min(minX, x);
        maxX = Math.max(maxX, x);
        minY = Math.min(minY, y);
        maxY = Math.max(maxY, y);
      }
    }
    t.same(box, { left: minX, top: minY, width: maxX - minX + 1, height: maxY - minY + 1 }, 'the box is what is left above the floor');
  }
});

t.test('refineEdges on a region with nothing in it answers null', async (t) => {
  const image: DecodedImage = { format: 'png', width: 800, height: 600, hasAlpha: false, pixels: Buffer.alloc(800 * 600 * 4, 0) };
  t.equal(refineEdges(image, new Uint8Array(SIZE * SIZE), { left: 10, top: 10, width: 100, height: 100 }, SIZE), null);
});

t.test('refineEdges copes with regions one working pixel wide or high', async (t) => {
  const image: DecodedImage = { format: 'png', width: 3000, height: 2000, hasAlpha: false, pixels: Buffer.alloc(3000 * 2000 * 4, 255) };
  for (const region of [{ left: 10, top: 10, width: 1, height: 3 }, { left: 2990, top: 0, width: 10, height: 2000 }, { left: 0, top: 1999, width: 3000, height: 1 }]) {
    const box = refineEdges(image, new Uint8Array(SIZE * SIZE).fill(255), region, SIZE);
    t.same(box, region, `${JSON.stringify(region)}: an opaque region stays opaque`);
  }
});
