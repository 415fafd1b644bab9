// The region of interest: only what lies inside it can be the subject.
//
// It is applied twice. On the model's grid, cells wholly outside it are cleared before components are
// labelled, so the subject is chosen among what lies inside (and a region with nothing in it has no
// subject). At full resolution, the region the subject's alpha is written to is clipped to it, so no
// pixel outside it keeps any alpha, whatever the grid's resize reaches.
import { ServiceError } from '../errors.js';
import type { Box } from './compose.js';
import { MODEL_SIZE } from './preprocess.js';

/** One coordinate: pixels of the input, or a percentage of its width (x) or height (y). */
export interface RoiCoordinate {
  value: number;
  percent: boolean;
}

/** x1 y1 x2 y2: the left, top, right and bottom edges (right and bottom exclusive). */
export type Roi = readonly [RoiCoordinate, RoiCoordinate, RoiCoordinate, RoiCoordinate];

const COORDINATE = '(?:[0-9]{1,5}|(?:100(?:\\.0{1,2})?|[1-9]?[0-9](?:\\.[0-9]{1,2})?)%)';
/** Four coordinates separated by spaces: "x1 y1 x2 y2", each pixels or a percentage (0% to 100%). */
export const ROI_PATTERN = `^\\s*${COORDINATE}(?:\\s+${COORDINATE}){3}\\s*$`;

const NAMES = ['x1', 'y1', 'x2', 'y2'] as const;

const invalid = (message: string) => new ServiceError('invalid_request', message);

/** Parses "x1 y1 x2 y2" (already matched against ROI_PATTERN by the schema). */
export function parseRoi(text: string): Roi {
  if (!new RegExp(ROI_PATTERN).test(text)) throw invalid(`the field roi must be "x1 y1 x2 y2", each in pixels or a percentage, e.g. "10% 0% 90% 100%"`);
  const [x1, y1, x2, y2] = text
    .trim()
    .split(/\s+/)
    .map((part): RoiCoordinate => ({ value: Number.parseFloat(part), percent: part.endsWith('%') }));
  const roi: Roi = [x1!, y1!, x2!, y2!];
  // Checked before anything is downloaded when the two edges of an axis use the same unit.
  for (const [low, high] of [[0, 2], [1, 3]] as const) {
    if (roi[low].percent === roi[high].percent && roi[high].value <= roi[low].value) throw noArea(roi[low], roi[high], low);
  }
  return roi;
}

const show = (coordinate: RoiCoordinate) => `${coordinate.value}${coordinate.percent ? '%' : ''}`;

function noArea(low: RoiCoordinate, high: RoiCoordinate, axis: 0 | 1): ServiceError {
  const [a, b] = axis === 0 ? ['x1', 'x2'] : ['y1', 'y2'];
  return invalid(`the field roi has no area: its ${b} (${show(high)}) must lie beyond its ${a} (${show(low)})`);
}

/** The roi in input pixels, for an image of `width` x `height` (after orientation). */
export function roiBox(roi: Roi, width: number, height: number): Box {
  const edges = roi.map((coordinate, i) => {
    const length = i % 2 === 0 ? width : height;
    if (!coordinate.percent && coordinate.value > length) {
      throw invalid(
        `the field roi's ${NAMES[i]} (${coordinate.value} px) lies outside the image, which is ${width}x${height}: use pixels within it, or percentages`,
      );
    }
    return coordinate.percent ? Math.round((coordinate.value / 100) * length) : coordinate.value;
  });
  const [left, top, right, bottom] = edges as [number, number, number, number];
  if (right <= left) throw noArea(roi[0], roi[2], 0);
  if (bottom <= top) throw noArea(roi[1], roi[3], 1);
  return { left, top, width: right - left, height: bottom - top };
}

/**
 * Clears, in place, the cells of a size x size map (the model's view of a `width` x `height` image)
 * that lie wholly outside `roi`. Cells it only partly covers stay: the full-resolution clip
 * (clipToRoi) makes the edge exact.
 */
export function restrictMap(map: Uint8Array, roi: Box, width: number, height: number, size = MODEL_SIZE): void {
  const firstColumn = Math.floor((roi.left * size) / width);
  const endColumn = Math.ceil(((roi.left + roi.width) * size) / width);
  const firstRow = Math.floor((roi.top * size) / height);
  const endRow = Math.ceil(((roi.top + roi.height) * size) / height);
  for (let y = 0; y < size; y++) {
    const row = y * size;
    if (y < firstRow || y >= endRow) {
      map.fill(0, row, row + size);
      continue;
    }
    map.fill(0, row, row + firstColumn);
    map.fill(0, row + endColumn, row + size);
  }
}

/** The part of `region` inside `roi` (no roi: the region itself); null when they do not meet. */
export function clipToRoi(region: Box | null, roi: Box | undefined): Box | null {
  if (!region || !roi) return region;
  const left = Math.max(region.left, roi.left);
  const top = Math.max(region.top, roi.top);
  const right = Math.min(region.left + region.width, roi.left + roi.width);
  const bottom = Math.min(region.top + region.height, roi.top + roi.height);
  return right > left && bottom > top ? { left, top, width: right - left, height: bottom - top } : null;
}
