// 8-connected component labelling on 2-D ndarray views, and the square dilation of 0/1 grids that
// the mask (before labelling, and for the kept subject's halo) and the colour step (its edge cells) use.
//
// A breadth-first flood fill over typed arrays: one Int32Array for the labels, one for the work
// queue, both sized once, so labelling allocates nothing per pixel. It reads the mask through the
// view's stride and offset, so sliced, stepped or transposed views label correctly.
import ndarray, { type NdArray } from 'ndarray';

export interface Components {
  /** Label per pixel, row-major [height, width]: 0 for background, 1..count for components. */
  labels: NdArray<Int32Array>;
  count: number;
  /** Pixel count per label; index 0 is unused. */
  areas: Int32Array;
  /** Bounding box per label as [minX, minY, maxX, maxY] (inclusive) at index 4 * label. */
  boxes: Int32Array;
}

/** Labels the pixels of `mask` (shape [height, width]) that are non-zero. */
export function labelComponents(mask: NdArray<Uint8Array>): Components {
  const [height, width] = mask.shape as [number, number];
  const [rowStride, columnStride] = mask.stride as [number, number];
  const source = mask.data;
  const offset = mask.offset;
  const pixels = width * height;

  const labels = new Int32Array(pixels);
  const queue = new Int32Array(pixels);
  const areas: number[] = [0];
  const boxes: number[] = [0, 0, 0, 0];
  let count = 0;

  for (let start = 0; start < pixels; start++) {
    if (labels[start] !== 0) continue;
    const startY = (start / width) | 0;
    const startX = start - startY * width;
    if (source[offset + startY * rowStride + startX * columnStride] === 0) continue;

    const label = ++count;
    let minX = startX, maxX = startX, minY = startY, maxY = startY;
    let head = 0;
    let tail = 0;
    labels[start] = label;
    queue[tail++] = start;
    while (head < tail) {
      const index = queue[head++]!;
      const y = (index / width) | 0;
      const x = index - y * width;
      if (x < minX) minX = x; else if (x > maxX) maxX = x;
      if (y < minY) minY = y; else if (y > maxY) maxY = y;
      // The 8 neighbours, clipped to the image, as plain loops: iterating a table of offsets
      // measured twice as slow. The order of visits changes nothing but the queue's order.
      const fromX = x > 0 ? x - 1 : x, toX = x < width - 1 ? x + 1 : x;
      const fromY = y > 0 ? y - 1 : y, toY = y < height - 1 ? y + 1 : y;
      for (let ny = fromY; ny <= toY; ny++) {
        for (let nx = fromX; nx <= toX; nx++) {
          const neighbour = ny * width + nx;
          if (labels[neighbour] !== 0) continue; // the pixel itself is labelled already
          if (source[offset + ny * rowStride + nx * columnStride] === 0) continue;
          labels[neighbour] = label;
          queue[tail++] = neighbour;
        }
      }
    }
    areas.push(tail);
    boxes.push(minX, minY, maxX, maxY);
  }

  return {
    labels: ndarray(labels, [height, width]),
    count,
    areas: Int32Array.from(areas),
    boxes: Int32Array.from(boxes),
  };
}

/**
 * Square (Chebyshev) dilation of a 0/1 grid (width x height, row-major) by `radius` cells, as a
 * new grid: two separable passes that count the ones inside a sliding window (a running count along
 * each row, then one per column, walking the rows in memory order), so the cost does not depend on
 * the radius.
 */
export function dilate(cells: Uint8Array, width: number, height: number, radius: number): Uint8Array {
  const across = new Uint8Array(cells.length);
  const result = new Uint8Array(cells.length);
  for (let y = 0; y < height; y++) {
    const row = y * width;
    let count = 0;
    for (let k = 0; k < Math.min(radius, width); k++) count += cells[row + k]!;
    for (let x = 0; x < width; x++) {
      if (x + radius < width) count += cells[row + x + radius]!;
      if (x - radius - 1 >= 0) count -= cells[row + x - radius - 1]!;
      across[row + x] = count > 0 ? 1 : 0;
    }
  }
  const counts = new Int32Array(width);
  for (let k = 0; k < Math.min(radius, height); k++) for (let x = 0; x < width; x++) counts[x]! += across[k * width + x]!;
  for (let y = 0; y < height; y++) {
    const added = y + radius < height ? (y + radius) * width : -1;
    const dropped = y - radius - 1 >= 0 ? (y - radius - 1) * width : -1;
    for (let x = 0; x < width; x++) {
      let count = counts[x]!;
      if (added >= 0) count += across[added + x]!;
      if (dropped >= 0) count -= across[dropped + x]!;
      counts[x] = count;
      result[y * width + x] = count > 0 ? 1 : 0;
    }
  }
  return result;
}
