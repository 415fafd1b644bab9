import t from 'tap';
import { applySubjectAlpha } from '../../src/pipeline/compose.js';
import {
  gridRegion, GROUP_NEAR_CELLS, GROUP_NEAR_SHARE, GROUP_SHARE, HALO_CELLS, LINK_CELLS, normaliseSaliency, subjectGrid,
} from '../../src/pipeline/mask.js';

const SIZE = 64;

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
  const s = normaliseSaliency(Float32Array.from([0, 0.25, 0.5, 1]));
  t.same([...s.map], [0, 64, 128, 255]);
  t.equal(s.peak, 1);
  const flat = normaliseSaliency(new Float32Array(4).fill(0.7));
  t.same([...flat.map], [0, 0, 0, 0], 'a flat map has no range to stretch');
});

t.test('largest keeps the big square and clears the small one, ramp and all', async (t) => {
  const m = map([2, 2, 10, 255], [40, 40, 3, 200], [12, 2, 1, 60], [44, 40, 1, 60]);
  const grid = subjectGrid(m, 0.5, 'largest', SIZE)!;
  t.equal(at(grid, 5, 5), 255, 'inside the big square');
  t.equal(at(grid, 41, 41), 0, 'the small square is gone');
  t.equal(at(grid, 12, 2), 60, "the big square's soft border survives");
  t.equal(at(grid, 44, 40), 0, "the small square's soft border goes with it");
});

t.test('all keeps every component', async (t) => {
  const grid = subjectGrid(map([2, 2, 10, 255], [40, 40, 3, 200]), 0.5, 'all', SIZE)!;
  t.equal(at(grid, 5, 5), 255);
  t.equal(at(grid, 41, 41), 200);
});

t.test('pieces separated by at most 2 * LINK_CELLS empty cells are one component', async (t) => {
  // A 10x10 square and a 6x6 one beside it, separated by a gap of empty cells.
  const pieces = (gap: number) => map([2, 20, 10, 255], [12 + gap, 22, 6, 230]);
  const near = subjectGrid(pieces(2 * LINK_CELLS), 0.5, 'largest', SIZE)!;
  t.equal(at(near, 12 + 2 * LINK_CELLS + 2, 24), 230, `a gap of ${2 * LINK_CELLS} cells is bridged`);
  t.equal(at(near, 12, 24), 0, 'the gap itself stays empty');
  const far = subjectGrid(pieces(2 * LINK_CELLS + 1), 0.5, 'largest', SIZE)!;
  t.equal(at(far, 12 + 2 * LINK_CELLS + 3, 24), 0, `a gap of ${2 * LINK_CELLS + 1} cells is not`);
});

t.test('group keeps what belongs with the largest and drops specks and distant fragments', async (t) => {
  // Largest: 20x20 = 400 cells at (2, 2). Every other square is more than 2 * LINK_CELLS + 1 away.
  const largest: [number, number, number, number] = [2, 2, 20, 255];
  const pair = map(largest, [40, 2, 10, 240]); // 100 cells (25 %) far away: a second shoe
  const bag = map(largest, [22 + 2 * LINK_CELLS + 4, 10, 3, 240]); // 9 cells (2.25 %) nearby: a bag
  const speck = map(largest, [22 + 2 * LINK_CELLS + 4, 10, 1, 240]); // 1 cell (0.25 %) nearby
  const fragment = map(largest, [50, 50, 6, 240]); // 36 cells (9 %) far away
  t.ok(100 / 400 >= GROUP_SHARE && 9 / 400 >= GROUP_NEAR_SHARE && 1 / 400 < GROUP_NEAR_SHARE && 36 / 400 < GROUP_SHARE);
  t.ok(2 * LINK_CELLS + 3 <= GROUP_NEAR_CELLS && 50 - 22 > GROUP_NEAR_CELLS, 'the bag is near, the fragment far');
  t.equal(at(subjectGrid(pair, 0.5, 'group', SIZE)!, 45, 5), 240, 'a component a fifth the size or more stays, wherever it is');
  t.equal(at(subjectGrid(pair, 0.5, 'largest', SIZE)!, 45, 5), 0, '(largest drops it)');
  t.equal(at(subjectGrid(bag, 0.5, 'group', SIZE)!, 22 + 2 * LINK_CELLS + 5, 11), 240, 'a small component close by stays');
  t.equal(at(subjectGrid(speck, 0.5, 'group', SIZE)!, 22 + 2 * LINK_CELLS + 4, 10), 0, 'a speck goes, even close by');
  t.equal(at(subjectGrid(fragment, 0.5, 'group', SIZE)!, 52, 52), 0, 'a small component far away goes');
  t.equal(at(subjectGrid(fragment, 0.5, 'all', SIZE)!, 52, 52), 240, '(all keeps it)');
});

t.test('soft values far from the subject are cleared', async (t) => {
  const grid = subjectGrid(map([2, 2, 4, 255], [2 + 4 + HALO_CELLS + 2, 2, 1, 100]), 0.5, 'all', SIZE)!;
  t.equal(at(grid, 2 + 4 + HALO_CELLS + 2, 2), 0);
});

t.test('the threshold decides membership', async (t) => {
  const m = map([2, 2, 4, 255], [40, 40, 6, 140]);
  t.equal(at(subjectGrid(m, 0.5, 'largest', SIZE)!, 42, 42), 140, 'at 0.5 the 6x6 square of 140 is the largest');
  t.equal(at(subjectGrid(m, 0.6, 'largest', SIZE)!, 42, 42), 0, 'at 0.6 it is not a subject at all');
  t.equal(subjectGrid(map([1, 1, 2, 100]), 0.5, 'all', SIZE), null, 'nothing above the threshold');
});

t.test('gridRegion covers every pixel the kept cells reach, and little else', async (t) => {
  const SIZE = 32;
  t.equal(gridRegion(new Uint8Array(SIZE * SIZE), 640, 640, SIZE), null);
  const grid = new Uint8Array(SIZE * SIZE);
  for (let y = 8; y < 16; y++) grid.fill(255, y * SIZE + 8, y * SIZE + 16);
  const region = gridRegion(grid, 640, 640, SIZE)!; // 20x enlargement
  t.same(region, { left: (8 - 2) * 20, top: (8 - 2) * 20, width: (8 + 7 + 3 - 6) * 20, height: (8 + 7 + 3 - 6) * 20 });
  // Resize the whole grid, and check nothing non-zero lies outside the region.
  const whole = { format: 'png' as const, width: 640, height: 640, hasAlpha: false, pixels: Buffer.alloc(640 * 640 * 4, 255) };
  const bounds = applySubjectAlpha(whole, grid, { left: 0, top: 0, width: 640, height: 640 }, SIZE)!;
  t.ok(bounds.left >= region.left && bounds.top >= region.top, 'starts inside the region');
  t.ok(bounds.left + bounds.width <= region.left + region.width && bounds.top + bounds.height <= region.top + region.height, 'ends inside it');
  t.same(gridRegion(grid, 20, 700, SIZE), { left: 0, top: 131, width: 20, height: 263 }, 'a shrunk axis is taken whole'); // 700/32: cells 6..17 -> 131..394
});
