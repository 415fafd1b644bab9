// 8-connected component labelling on 2-D ndarray views.
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

const NEIGHBOURS = [
  [-1, -1], [0, -1], [1, -1],
  [-1, 0], [1, 0],
  [-1, 1], [0, 1], [1, 1],
] as const;

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
      for (const [dx, dy] of NEIGHBOURS) {
        const nx = x + dx;
        const ny = y + dy;
        if (nx < 0 || ny < 0 || nx >= width || ny >= height) continue;
        const neighbour = ny * width + nx;
        if (labels[neighbour] !== 0) continue;
        if (source[offset + ny * rowStride + nx * columnStride] === 0) continue;
        labels[neighbour] = label;
        queue[tail++] = neighbour;
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
