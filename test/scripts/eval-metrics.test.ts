import t from 'tap';
import {
  areaScore,
  binarise,
  boundaryOf,
  boundaryScore,
  dilateDisc,
  meanAbsoluteError,
  scoreMask,
} from '../../scripts/eval/metrics.js';

/** A binary mask drawn as rows of '.' (0) and '#' (1). */
function draw(picture: string): { mask: Uint8Array; width: number; height: number } {
  const rows = picture.trim().split('\n').map((row) => row.trim());
  const width = rows[0]!.length;
  const mask = Uint8Array.from(rows.join(''), (c) => (c === '#' ? 1 : 0));
  return { mask, width, height: rows.length };
}

/** A size x size binary mask holding one filled square. */
function square(size: number, left: number, top: number, side: number): Uint8Array {
  const mask = new Uint8Array(size * size);
  for (let y = top; y < top + side; y++) for (let x = left; x < left + side; x++) mask[y * size + x] = 1;
  return mask;
}

const toAlpha = (mask: Uint8Array): Uint8Array => mask.map((v) => v * 255);
const close = (actual: number, expected: number) => Math.abs(actual - expected) < 1e-9;

t.test('binarise cuts strictly above the threshold', async (t) => {
  t.same([...binarise(Uint8Array.from([0, 127, 128, 255]))], [0, 0, 1, 1], '0.5 is 127.5 on the 0..255 scale');
  t.same([...binarise(Uint8Array.from([25, 26, 200]), 0.1)], [0, 1, 1]);
});

t.test('a perfect match scores IoU 1, MAE 0, boundary F 1', async (t) => {
  const truth = toAlpha(square(10, 2, 3, 4));
  const scores = scoreMask(truth, truth, 10, 10, 3);
  t.same(scores.area, { iou: 1, precision: 1, recall: 1 });
  t.equal(scores.mae, 0);
  t.same(scores.boundary, { precision: 1, recall: 1, f: 1 });
});

t.test('disjoint masks score IoU 0 and, far apart, boundary F 0', async (t) => {
  const predicted = toAlpha(square(20, 0, 0, 4));
  const truth = toAlpha(square(20, 12, 12, 4));
  const scores = scoreMask(predicted, truth, 20, 20, 3);
  t.same(scores.area, { iou: 0, precision: 0, recall: 0 });
  t.ok(close(scores.mae, 32 / 400), 'MAE counts both squares, 16 pixels each, fully wrong');
  t.same(scores.boundary, { precision: 0, recall: 0, f: 0 });
});

t.test('a shift of 1 px costs IoU but not boundary F within the tolerance', async (t) => {
  const truth = square(12, 3, 3, 4);
  const shifted = square(12, 4, 3, 4);
  const area = areaScore(shifted, truth);
  t.ok(close(area.iou, 12 / 20), '12 shared of 20 covered');
  t.ok(close(area.precision, 12 / 16));
  t.ok(close(area.recall, 12 / 16));
  t.same(boundaryScore(shifted, truth, 12, 12, 3), { precision: 1, recall: 1, f: 1 }, 'within 3 px');
  t.same(boundaryScore(shifted, truth, 12, 12, 1), { precision: 1, recall: 1, f: 1 }, 'within 1 px');
  const strict = boundaryScore(shifted, truth, 12, 12, 0);
  t.ok(strict.f > 0 && strict.f < 1, `with no tolerance only the shared edges match (F ${strict.f.toFixed(3)})`);
});

t.test('a shift beyond the tolerance costs boundary F', async (t) => {
  const truth = square(24, 4, 4, 10);
  const shifted = square(24, 9, 4, 10);
  const loose = boundaryScore(shifted, truth, 24, 24, 6);
  const tight = boundaryScore(shifted, truth, 24, 24, 3);
  t.equal(loose.f, 1, 'a 5 px shift is within 6 px');
  t.ok(tight.f < 1 && tight.f > 0, `but not within 3 px (F ${tight.f.toFixed(3)})`);
  t.ok(close(tight.precision, tight.recall), 'a pure shift is symmetric');
});

t.test('an empty prediction (a refusal) scores 0 against a subject', async (t) => {
  const truth = toAlpha(square(10, 2, 2, 5));
  const scores = scoreMask(new Uint8Array(100), truth, 10, 10, 3);
  t.equal(scores.area.iou, 0);
  t.equal(scores.area.recall, 0);
  t.ok(close(scores.mae, 25 / 100), 'MAE is the share of the subject');
  t.equal(scores.boundary.f, 0);
  t.equal(scores.boundary.recall, 0);
});

t.test('two empty masks agree perfectly', async (t) => {
  const scores = scoreMask(new Uint8Array(16), new Uint8Array(16), 4, 4, 3);
  t.equal(scores.area.iou, 1);
  t.equal(scores.mae, 0);
  t.equal(scores.boundary.f, 1);
});

t.test('MAE works on the soft values', async (t) => {
  const truth = Uint8Array.from([0, 0, 255, 255]);
  t.ok(close(meanAbsoluteError(new Uint8Array(4).fill(51), truth), (51 + 51 + 204 + 204) / 4 / 255));
  t.ok(close(meanAbsoluteError(Uint8Array.from([0, 0, 255, 204]), truth), 51 / 4 / 255));
});

t.test('boundaryOf marks both sides of an edge, not the image border', async (t) => {
  const { mask, width, height } = draw(`
    ......
    .####.
    .####.
    .####.
    .####.
    ......
  `);
  const edge = boundaryOf(mask, width, height);
  const expected = draw(`
    .####.
    ######
    ##..##
    ##..##
    ######
    .####.
  `).mask;
  t.same([...edge], [...expected]);
  t.same([...boundaryOf(new Uint8Array(9).fill(1), 3, 3)], new Array(9).fill(0), 'a full mask has no boundary');
});

t.test('dilateDisc grows by a Euclidean disc, clamped at the edges', async (t) => {
  const cells = new Uint8Array(25);
  cells[12] = 1;
  const sum = (a: Uint8Array) => a.reduce((s, v) => s + v, 0);
  t.equal(sum(dilateDisc(cells, 5, 5, 1)), 5, 'radius 1 is a plus');
  t.equal(sum(dilateDisc(cells, 5, 5, 1.5)), 9, 'radius 1.5 is a 3x3 square');
  t.equal(sum(dilateDisc(cells, 5, 5, 2)), 13, 'radius 2 has 13 pixels');
  const corner = new Uint8Array(25);
  corner[0] = 1;
  t.equal(sum(dilateDisc(corner, 5, 5, 2)), 6, 'a quarter of it at the corner');
});

t.test('masks of different sizes are refused', async (t) => {
  t.throws(() => areaScore(new Uint8Array(4), new Uint8Array(5)), RangeError);
  t.throws(() => meanAbsoluteError(new Uint8Array(4), new Uint8Array(5)), RangeError);
  t.throws(() => boundaryOf(new Uint8Array(4), 3, 3), RangeError);
});
