import t from 'tap';
import { applySubjectAlpha } from '../../src/pipeline/compose.js';
import {
  dilate, gridRegion, hasSubject, HALO_CELLS, MARKED_LEVEL, MAX_COVERAGE, MAX_HAZE, MIN_SURE_SHARE, normaliseSaliency, subjectGrid, SURE_LEVEL,
} from '../../src/pipeline/mask.js';

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

t.test('normaliseSaliency stretches to 0..255 and keeps the raw figures', async (t) => {
  const s = normaliseSaliency(Float32Array.from([0, 0.25, 0.5, 1]));
  t.same([...s.map], [0, 64, 128, 255]);
  t.equal(s.peak, 1);
  t.equal(s.marked, 3 / 4, 'above MARKED_LEVEL');
  t.equal(s.coverage, 1 / 4, 'above 0.5');
  t.equal(s.sure, 1 / 4, 'above SURE_LEVEL');
  const flat = normaliseSaliency(new Float32Array(4).fill(0.7));
  t.same([...flat.map], [0, 0, 0, 0], 'a flat map has no range to stretch');
});

/** A raw map of 100 cells: `sure` at 0.99, `hazy` at 0.4, the rest at 0.01. */
function raw(sure: number, hazy: number): Float32Array {
  const map = new Float32Array(100).fill(0.01);
  map.fill(0.99, 0, sure);
  map.fill(0.4, sure, sure + hazy);
  return map;
}

t.test('hasSubject: sure about something, not hazy over much, not salient everywhere', async (t) => {
  t.ok(MARKED_LEVEL < 0.5 && SURE_LEVEL > 0.5);
  t.ok(hasSubject(normaliseSaliency(raw(10, 5))), 'a clear subject');
  t.ok(hasSubject(normaliseSaliency(raw(1, 0))), 'a tiny one');
  t.notOk(hasSubject(normaliseSaliency(new Float32Array(100).fill(0.01))), 'nothing');
  t.notOk(hasSubject(normaliseSaliency(raw(0, 20))), 'only hesitation: nowhere sure');
  const few = Math.floor(MIN_SURE_SHARE * 40) - 1;
  t.notOk(hasSubject(normaliseSaliency(raw(few, 40 - few))), 'sure about too little of what it marks (a pattern)');
  t.ok(hasSubject(normaliseSaliency(raw(few + 2, 20))), 'sure about enough of it');
  t.notOk(hasSubject(normaliseSaliency(raw(20, MAX_HAZE * 100))), 'hazy over too much of the image (a texture)');
  t.ok(hasSubject(normaliseSaliency(raw(20, MAX_HAZE * 100 - 1))));
  t.notOk(hasSubject(normaliseSaliency(raw(MAX_COVERAGE * 100, 0))), 'salient almost everywhere');
  t.ok(hasSubject(normaliseSaliency(raw(MAX_COVERAGE * 100 - 1, 0))));
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
