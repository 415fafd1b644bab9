import t from 'tap';
import { ServiceError } from '../../src/errors.js';
import { clipToRoi, parseRoi, restrictMap, roiBox } from '../../src/pipeline/roi.js';

const refused = (fn: () => unknown, message: RegExp) => {
  try {
    fn();
  } catch (error) {
    return error instanceof ServiceError && error.code === 'invalid_request' && message.test(error.message);
  }
  return false;
};

t.test('parseRoi reads pixels and percentages, and refuses what has no area', async (t) => {
  t.same(parseRoi('10% 0 90% 100'), [
    { value: 10, percent: true },
    { value: 0, percent: false },
    { value: 90, percent: true },
    { value: 100, percent: false },
  ]);
  t.same(parseRoi('  1  2 3.5%   4 ').map((c) => c.value), [1, 2, 3.5, 4], 'any run of spaces');
  t.ok(refused(() => parseRoi('10 0 10 5'), /no area: its x2 \(10\) must lie beyond its x1 \(10\)/));
  t.ok(refused(() => parseRoi('0 50% 10 20%'), /no area: its y2 \(20%\) must lie beyond its y1 \(50%\)/));
  t.ok(refused(() => parseRoi('0 0 10'), /"x1 y1 x2 y2"/), 'three numbers');
  t.ok(refused(() => parseRoi('0 0 101% 10'), /"x1 y1 x2 y2"/), 'over 100 %');
  t.ok(refused(() => parseRoi('0 0 -1 10'), /"x1 y1 x2 y2"/), 'negative');
  t.same(parseRoi('50% 0 10 10')[0], { value: 50, percent: true }, 'mixed units are checked once the size is known');
});

t.test('roiBox resolves against the image and refuses what lies outside it', async (t) => {
  t.same(roiBox(parseRoi('10% 0% 90% 100%'), 1000, 500), { left: 100, top: 0, width: 800, height: 500 });
  t.same(roiBox(parseRoi('20 30 50% 400'), 1000, 500), { left: 20, top: 30, width: 480, height: 370 });
  t.ok(refused(() => roiBox(parseRoi('0 0 1001 10'), 1000, 500), /x2 \(1001 px\) lies outside the image, which is 1000x500/));
  t.ok(refused(() => roiBox(parseRoi('600 0 50% 10'), 1000, 500), /no area: its x2 \(50%\) must lie beyond its x1 \(600\)/));
  t.ok(refused(() => roiBox(parseRoi('0 0.2% 10 0.1%'), 10, 10), /no area/), 'both round to the same row');
});

t.test('restrictMap clears the cells wholly outside the roi and keeps those it touches', async (t) => {
  const map = new Uint8Array(16).fill(9);
  // A 4x4 map of a 40x40 image: the roi 15-25 across and 0-10 down touches columns 1 and 2 of row 0.
  restrictMap(map, { left: 15, top: 0, width: 10, height: 10 }, 40, 40, 4);
  t.same([...map], [0, 9, 9, 0, ...new Array(12).fill(0)]);
});

t.test('clipToRoi is the intersection, or null', async (t) => {
  const region = { left: 0, top: 0, width: 100, height: 50 };
  t.same(clipToRoi(region, undefined), region);
  t.same(clipToRoi(region, { left: 50, top: 20, width: 100, height: 100 }), { left: 50, top: 20, width: 50, height: 30 });
  t.equal(clipToRoi(region, { left: 100, top: 0, width: 10, height: 10 }), null);
  t.equal(clipToRoi(null, region), null);
});
