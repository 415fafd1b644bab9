import ndarray from 'ndarray';
import t from 'tap';
import { dilate, labelComponents } from '../../src/pipeline/components.js';
import { seededRandom } from '../../scripts/seeded-random.js';

/** A grid from rows of '#' (set) and '.' (clear). */
function grid(...rows: string[]) {
  const height = rows.length;
  const width = rows[0]!.length;
  const data = new Uint8Array(width * height);
  rows.forEach((row, y) => [...row].forEach((c, x) => (data[y * width + x] = c === '#' ? 1 : 0)));
  return ndarray(data, [height, width]);
}

/** The labels drawn back as rows, one digit per label. */
function draw(labels: ndarray.NdArray<Int32Array>): string[] {
  const [height, width] = labels.shape as [number, number];
  const rows: string[] = [];
  for (let y = 0; y < height; y++) {
    let row = '';
    for (let x = 0; x < width; x++) row += labels.get(y, x) === 0 ? '.' : String(labels.get(y, x));
    rows.push(row);
  }
  return rows;
}

t.test('an empty grid has no components', async (t) => {
  const c = labelComponents(grid('....', '....', '....'));
  t.equal(c.count, 0);
  t.same(draw(c.labels), ['....', '....', '....']);
});

t.test('a full grid is one component with the whole box', async (t) => {
  const c = labelComponents(grid('###', '###'));
  t.equal(c.count, 1);
  t.equal(c.areas[1], 6);
  t.same([...c.boxes.subarray(4, 8)], [0, 0, 2, 1]);
});

t.test('a single pixel', async (t) => {
  const c = labelComponents(grid('...', '.#.', '...'));
  t.equal(c.count, 1);
  t.equal(c.areas[1], 1);
  t.same([...c.boxes.subarray(4, 8)], [1, 1, 1, 1]);
});

t.test('a 1x1 grid, set and clear', async (t) => {
  t.equal(labelComponents(grid('#')).count, 1);
  t.equal(labelComponents(grid('.')).count, 0);
});

t.test('diagonal-only neighbours are connected (8-connectivity)', async (t) => {
  const c = labelComponents(grid('#...', '.#..', '..#.', '...#'));
  t.equal(c.count, 1);
  t.equal(c.areas[1], 4);
  const anti = labelComponents(grid('...#', '..#.', '.#..', '#...'));
  t.equal(anti.count, 1);
});

t.test('separate shapes get separate labels, areas and boxes', async (t) => {
  const c = labelComponents(grid(
    '##....#',
    '##....#',
    '......#',
    '.#.....',
  ));
  t.equal(c.count, 3);
  t.same(draw(c.labels), ['11....2', '11....2', '......2', '.3.....']);
  t.same([...c.areas], [0, 4, 3, 1]);
  t.same([...c.boxes.subarray(8, 12)], [6, 0, 6, 2]);
});

t.test('a U shape is one component even though its arms meet late', async (t) => {
  const c = labelComponents(grid('#.#', '#.#', '###'));
  t.equal(c.count, 1);
  t.equal(c.areas[1], 7);
});

t.test('views: a transposed and a sliced view label what they show', async (t) => {
  const g = grid(
    '##..',
    '....',
    '..#.',
  );
  const transposed = labelComponents(g.transpose(1, 0));
  t.same(draw(transposed.labels), ['1..', '1..', '..2', '...']);
  const sliced = labelComponents(g.hi(3, 3).lo(1, 1));
  t.same(draw(sliced.labels), ['..', '.1']);
  t.same([...sliced.boxes.subarray(4, 8)], [1, 1, 1, 1]);
});

t.test('dilate grows by a square of the radius, clamped at the edges', async (t) => {
  const SIZE = 64;
  const at = (cells: Uint8Array, x: number, y: number) => cells[y * SIZE + x];
  const cells = new Uint8Array(SIZE * SIZE);
  cells[0] = 1;
  cells[10 * SIZE + 10] = 1;
  const grown = dilate(cells, SIZE, SIZE, 2);
  t.equal(at(grown, 2, 2), 1);
  t.equal(at(grown, 3, 0), 0);
  t.equal(at(grown, 8, 12), 1);
  t.equal(at(grown, 13, 10), 0);
  let count = 0;
  for (const v of grown) count += v;
  t.equal(count, 9 + 25);
});

t.test('dilate matches a cell-by-cell window search on random grids of any shape and radius', async (t) => {
  const random = seededRandom(7);
  for (const [width, height, radius, density] of [[37, 23, 1, 0.05], [5, 40, 3, 0.1], [64, 64, 4, 0.02], [3, 3, 5, 0.3], [1, 17, 2, 0.2], [50, 1, 0, 0.5]] as const) {
    const cells = new Uint8Array(width * height).map(() => (random() < density ? 1 : 0));
    const expected = new Uint8Array(width * height);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        for (let dy = -radius; dy <= radius && !expected[y * width + x]; dy++) {
          for (let dx = -radius; dx <= radius; dx++) {
            const nx = x + dx, ny = y + dy;
            if (nx >= 0 && ny >= 0 && nx < width && ny < height && cells[ny * width + nx] === 1) {
              expected[y * width + x] = 1;
              break;
            }
          }
        }
      }
    }
    t.same(dilate(cells, width, height, radius), expected, `${width}x${height}, radius ${radius}`);
  }
});
