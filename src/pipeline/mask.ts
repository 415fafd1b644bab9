// From the model's saliency map to the subject's alpha.
//
// Components are labelled on the model's own 320x320 grid: that is where the mask's information
// lives (upsampling adds smoothness, not new shapes), and it keeps labelling cheap whatever the
// image size. Pieces of one subject that the map splits by a narrow gap (a drum across two bodies,
// a thin strap the model is unsure about) count as one component: cells separated by at most
// 2 * LINK_CELLS empty cells are labelled together. Cells of the kept subject keep their soft value; so do the
// sub-threshold cells of its border ramp (within HALO_CELLS of it), so the soft edge survives
// rather than being cut at the threshold. Every other cell, including discarded components and
// their ramps, becomes 0 before the grid is upsampled, so nothing outside the kept subject shows.
import ndarray from 'ndarray';
import type { Box } from './compose.js';
import { dilate, labelComponents } from './components.js';
import { MODEL_SIZE } from './preprocess.js';

/**
 * 'largest': the largest component only. 'group': the largest with the components that belong
 * with it (see GROUP_*). 'all': every component.
 */
export type SubjectMode = 'largest' | 'group' | 'all';

/** How far (in grid cells, about 1/320 of the image) the kept subject's soft border reaches. */
export const HALO_CELLS = 3;

/**
 * Above-threshold cells separated by at most 2 * LINK_CELLS empty cells (8 cells, 2.5 % of the
 * image's side) belong to one component. Measured on the dev set (README, Quality): 4 joins a
 * subject the map cuts in two (two musicians behind a drum) without reaching distant objects.
 */
export const LINK_CELLS = 4;

/**
 * The 'group' rule: besides the largest component, keep every component whose area is at least
 * GROUP_SHARE of the largest's (a second shoe, a second person), and every component of at least
 * GROUP_NEAR_SHARE of it whose bounding box lies within GROUP_NEAR_CELLS of the largest's (a bag, a
 * hat, a hand the map cut off). Specks (under 1 %) always go, and so do small components far away.
 */
export const GROUP_SHARE = 0.2;
export const GROUP_NEAR_SHARE = 0.01;
export const GROUP_NEAR_CELLS = 16;

export interface Saliency {
  /** The map min-max normalised to 0..255, MODEL_SIZE^2 bytes, as the reference does it. */
  map: Uint8Array;
  /** The raw map's highest value (0..1, before normalisation), for the no-subject rule. */
  peak: number;
}

/** Min-max normalises d0 to 0..255 (rounded), keeping the raw map's peak. */
export function normaliseSaliency(d0: Float32Array): Saliency {
  let low = Infinity;
  let high = -Infinity;
  for (let i = 0; i < d0.length; i++) {
    const value = d0[i]!;
    if (value < low) low = value;
    if (value > high) high = value;
  }
  const map = new Uint8Array(d0.length);
  const range = high - low;
  if (range > 0) {
    const scale = 255 / range;
    for (let i = 0; i < d0.length; i++) {
      // Math.round's result for a value of 0 or more (floor(v + 0.5) alone gives 1 for the double
      // just below 0.5), at a fifth of its cost in V8's optimised code (measured).
      const value = (d0[i]! - low) * scale;
      map[i] = value < 0.5 ? 0 : Math.floor(value + 0.5);
    }
  }
  return { map, peak: high };
}

/**
 * The map with everything but the chosen subject (and its soft border) set to 0, or null when no
 * cell is above the threshold. `threshold` is on the 0..1 scale.
 */
export function subjectGrid(map: Uint8Array, threshold: number, mode: SubjectMode, size = MODEL_SIZE): Uint8Array | null {
  const cut = threshold * 255;
  const above = new Uint8Array(map.length);
  for (let i = 0; i < map.length; i++) above[i] = map[i]! > cut ? 1 : 0;

  // Labelled on the linked cells; areas and boxes count the above-threshold cells only.
  const components = labelComponents(ndarray(dilate(above, size, size, LINK_CELLS), [size, size]));
  if (components.count === 0) return null;
  const labels = components.labels.data;
  const { areas, boxes } = measure(labels, above, components.count, size);
  const keep = chooseComponents(areas, boxes, components.count, mode);

  const kept = new Uint8Array(map.length);
  for (let i = 0; i < labels.length; i++) kept[i] = above[i]! & keep[labels[i]!]!;

  const near = dilate(kept, size, size, HALO_CELLS);
  const grid = new Uint8Array(map.length);
  for (let i = 0; i < map.length; i++) {
    if (kept[i] === 1 || (near[i] === 1 && above[i] === 0)) grid[i] = map[i]!;
  }
  return grid;
}

/** Area and bounding box ([minX, minY, maxX, maxY] at 4 * label) of each label's `cells`. */
function measure(labels: Int32Array, cells: Uint8Array, count: number, size: number): { areas: Int32Array; boxes: Int32Array } {
  const areas = new Int32Array(count + 1);
  const boxes = new Int32Array(4 * (count + 1));
  for (let label = 1; label <= count; label++) boxes.set([size, size, -1, -1], 4 * label);
  for (let i = 0; i < labels.length; i++) {
    if (cells[i] === 0) continue;
    const at = 4 * labels[i]!;
    const y = (i / size) | 0;
    const x = i - y * size;
    areas[labels[i]!]!++;
    if (x < boxes[at]!) boxes[at] = x;
    if (y < boxes[at + 1]!) boxes[at + 1] = y;
    if (x > boxes[at + 2]!) boxes[at + 2] = x;
    if (y > boxes[at + 3]!) boxes[at + 3] = y;
  }
  return { areas, boxes };
}

/** 1 for each label to keep (index 0, the background, stays 0). */
function chooseComponents(areas: Int32Array, boxes: Int32Array, count: number, mode: SubjectMode): Uint8Array {
  const keep = new Uint8Array(count + 1);
  if (mode === 'all') return keep.fill(1, 1);
  let largest = 1;
  for (let label = 2; label <= count; label++) if (areas[label]! > areas[largest]!) largest = label;
  keep[largest] = 1;
  if (mode === 'largest') return keep;
  const main = 4 * largest;
  for (let label = 1; label <= count; label++) {
    const share = areas[label]! / areas[largest]!;
    const at = 4 * label;
    // Gap between the two boxes in cells: 0 when they overlap, else the larger of the x and y gaps.
    const gap = Math.max(
      0,
      boxes[at]! - boxes[main + 2]! - 1,
      boxes[main]! - boxes[at + 2]! - 1,
      boxes[at + 1]! - boxes[main + 3]! - 1,
      boxes[main + 1]! - boxes[at + 3]! - 1,
    );
    if (share >= GROUP_SHARE || (share >= GROUP_NEAR_SHARE && gap <= GROUP_NEAR_CELLS)) keep[label] = 1;
  }
  return keep;
}

/**
 * The part of the image (in image pixels) that the grid's non-zero cells can reach once resized:
 * their bounding box grown by the resize filter's reach (two cells when enlarging; when shrinking
 * the filter is wider, and the whole axis is taken, which is small then anyway). Null for an empty grid.
 */
export function gridRegion(grid: Uint8Array, width: number, height: number, size = MODEL_SIZE): Box | null {
  let minX = size, minY = size, maxX = -1, maxY = -1;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      if (grid[y * size + x] === 0) continue;
      if (x < minX) minX = x;
      if (x > maxX) maxX = x;
      if (y < minY) minY = y;
      if (y > maxY) maxY = y;
    }
  }
  if (maxX < 0) return null;
  const span = (low: number, high: number, length: number): [number, number] => {
    const scale = length / size;
    if (scale < 1) return [0, length];
    return [Math.max(0, Math.floor((low - 2) * scale)), Math.min(length, Math.ceil((high + 3) * scale))];
  };
  const [left, right] = span(minX, maxX, width);
  const [top, bottom] = span(minY, maxY, height);
  return { left, top, width: right - left, height: bottom - top };
}
