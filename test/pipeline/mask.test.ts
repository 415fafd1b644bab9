import t from 'tap';
import { applySubjectAlpha } from '../../src/pipeline/compose.js';
import { dilate, gridRegion, hasSubject, HALO_CELLS, NO_SUBJECT_PEAK, normaliseSaliency, subjectGrid } from '../../src/pipeline/mask.js';

const SIZE = 32;

/** A SIZE x SIZE map (0..255) with filled squares [x, y, side, value]. */
function map(...squares: [number, number, number, number][]): Uint8Array {
  const data = new Uint8Array(SIZE * SIZE);
  for (const [x0, y0, side, value] of squares) {
    for (let y = y0; y < y0 + side; y++) for (let x = x0; x < x0 + side; x++) data[y * SIZE + x] = value;
  }
  return data;
}
const at = (grid: Uint8Array, x: number, y: number) => grid[y * SIZE + x];

t.test('normaliseSaliency stretches to 0..255 and keeps the raw peak', async (t) => {
  const s = normaliseSaliency(Float32Array.from([0.1, 0.3, 0.5]));
  t.same([...s.map], [0, 128, 255]);
  t.ok(Math.abs(s.peak - 0.5) < 1e-6);
  const flat = normaliseSaliency(new Float32Array(4).fill(0.7));
  t.same([...flat.map], [0, 0, 0, 0], 'a flat map has no range to stretch');
});

t.test('hasSubject: a map the model is nowhere sure about has no subject', async (t) => {
  t.notOk(hasSubject(normaliseSaliency(Float32Array.from([0, 0.01, NO_SUBJECT_PEAK / 2]))));
  t.ok(hasSubject(normaliseSaliency(Float32Array.from([0, 0.01, 0.95]))));
  t.notOk(hasSubject(normaliseSaliency(new Float32Array(100).fill(0.9))), 'everything salient is no subject either');
});

t.test('largest keeps the big square and clears the small one, ramp and all', async (t) => {
  const m = map([2, 2, 10, 255], [20, 20, 3, 200], [12, 2, 1, 60], [24, 20, 1, 60]);
  const grid = subjectGrid(m, 0.5, 'largest', SIZE)!;
  t.equal(at(grid, 5, 5), 255, 'inside the big square');
  t.equal(at(grid, 21, 21), 0, 'the small square is gone');
  t.equal(at(grid, 12, 2), 60, "the big square's soft border survives");
  t.equal(at(grid, 24, 20), 0, "the small square's soft border goes with it");
});

t.test('all keeps every component', async (t) => {
  const grid = subjectGrid(map([2, 2, 10, 255], [20, 20, 3, 200]), 0.5, 'all', SIZE)!;
  t.equal(at(grid, 5, 5), 255);
  t.equal(at(grid, 21, 21), 200);
});

t.test('soft values far from the subject are cleared', async (t) => {
  const grid = subjectGrid(map([2, 2, 4, 255], [2 + 4 + HALO_CELLS + 2, 2, 1, 100]), 0.5, 'all', SIZE)!;
  t.equal(at(grid, 2 + 4 + HALO_CELLS + 2, 2), 0);
});

t.test('the threshold decides membership', async (t) => {
  const m = map([2, 2, 4, 255], [20, 20, 6, 140]);
  t.equal(at(subjectGrid(m, 0.5, 'largest', SIZE)!, 22, 22), 140, 'at 0.5 the 6x6 square of 140 is the largest');
  t.equal(at(subjectGrid(m, 0.6, 'largest', SIZE)!, 22, 22), 0, 'at 0.6 it is not a subject at all');
  t.equal(subjectGrid(map([1, 1, 2, 100]), 0.5, 'all', SIZE), null, 'nothing above the threshold');
});

t.test('dilate grows by a square of the radius, clamped at the edges', async (t) => {
  const cells = new Uint8Array(SIZE * SIZE);
  cells[0] = 1;
  cells[10 * SIZE + 10] = 1;
  const grown = dilate(cells, SIZE, 2);
  t.equal(at(grown, 2, 2), 1);
  t.equal(at(grown, 3, 0), 0);
  t.equal(at(grown, 8, 12), 1);
  t.equal(at(grown, 13, 10), 0);
  let count = 0;
  for (const v of grown) count += v;
  t.equal(count, 9 + 25);
});

t.test('gridRegion covers every pixel the kept cells reach, and little else', async (t) => {
  t.equal(gridRegion(new Uint8Array(SIZE * SIZE), 640, 640, SIZE), null);
  const grid = map([8, 8, 8, 255]);
  const region = gridRegion(grid, 640, 640, SIZE)!; // 20x enlargement
  t.same(region, { left: (8 - 2) * 20, top: (8 - 2) * 20, width: (8 + 7 + 3 - 6) * 20, height: (8 + 7 + 3 - 6) * 20 });
  // Resize the whole grid, and check nothing non-zero lies outside the region.
  const whole = { format: 'png' as const, width: 640, height: 640, hasAlpha: false, pixels: Buffer.alloc(640 * 640 * 4, 255) };
  const bounds = applySubjectAlpha(whole, grid, { left: 0, top: 0, width: 640, height: 640 }, SIZE)!;
  t.ok(bounds.left >= region.left && bounds.top >= region.top, 'starts inside the region');
  t.ok(bounds.left + bounds.width <= region.left + region.width && bounds.top + bounds.height <= region.top + region.height, 'ends inside it');
  t.same(gridRegion(grid, 20, 700, SIZE), { left: 0, top: 131, width: 20, height: 263 }, 'a shrunk axis is taken whole'); // 700/32: cells 6..17 -> 131..394
});
