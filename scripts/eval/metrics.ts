// Cutout quality metrics, on masks stored one byte per pixel, row-major.
//
// Soft masks are alpha (0..255); binary masks are 0/1. Every function works on whole typed arrays
// and allocates per call, never per pixel, so a 12-megapixel image costs a few passes and buffers.

/** 1 where value / 255 is above `threshold` (0..1), else 0. */
export function binarise(alpha: Uint8Array, threshold = 0.5): Uint8Array {
  const cut = threshold * 255;
  const mask = new Uint8Array(alpha.length);
  for (let i = 0; i < alpha.length; i++) mask[i] = alpha[i]! > cut ? 1 : 0;
  return mask;
}

function sameLength(a: Uint8Array, b: Uint8Array): void {
  if (a.length !== b.length) throw new RangeError(`masks differ in size: ${a.length} and ${b.length} pixels`);
}

export interface AreaScore {
  /** |P and T| / |P or T|; 1 when both are empty (nothing to find, nothing found). */
  iou: number;
  /** |P and T| / |P|: how much of the prediction is subject; 1 when P is empty. */
  precision: number;
  /** |P and T| / |T|: how much of the subject was found; 1 when T is empty. */
  recall: number;
}

/** Overlap of two binary masks: intersection over union, with its precision and recall. */
export function areaScore(predicted: Uint8Array, truth: Uint8Array): AreaScore {
  sameLength(predicted, truth);
  let both = 0;
  let inPredicted = 0;
  let inTruth = 0;
  for (let i = 0; i < predicted.length; i++) {
    const p = predicted[i]!;
    const t = truth[i]!;
    inPredicted += p;
    inTruth += t;
    both += p & t;
  }
  const union = inPredicted + inTruth - both;
  return {
    iou: union === 0 ? 1 : both / union,
    precision: inPredicted === 0 ? 1 : both / inPredicted,
    recall: inTruth === 0 ? 1 : both / inTruth,
  };
}

/** Mean absolute difference of two soft masks (0..255 each), on the 0..1 scale. */
export function meanAbsoluteError(predicted: Uint8Array, truth: Uint8Array): number {
  sameLength(predicted, truth);
  if (predicted.length === 0) return 0;
  let sum = 0;
  for (let i = 0; i < predicted.length; i++) sum += Math.abs(predicted[i]! - truth[i]!);
  return sum / predicted.length / 255;
}

/**
 * The boundary of a binary mask: 1 at every pixel whose 4-neighbourhood (inside the image) holds
 * both values. Both sides of an edge are marked, so the boundary is two pixels wide; the image's
 * own border is not a boundary, so a subject cut by the frame is not scored along the cut.
 */
export function boundaryOf(mask: Uint8Array, width: number, height: number): Uint8Array {
  if (mask.length !== width * height) throw new RangeError(`expected ${width * height} pixels, got ${mask.length}`);
  const edge = new Uint8Array(mask.length);
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let x = 0; x < width; x++) {
      const i = row + x;
      const v = mask[i]!;
      if (
        (x > 0 && mask[i - 1] !== v) ||
        (x < width - 1 && mask[i + 1] !== v) ||
        (y > 0 && mask[i - width] !== v) ||
        (y < height - 1 && mask[i + width] !== v)
      ) {
        edge[i] = 1;
      }
    }
  }
  return edge;
}

/**
 * Every pixel within Euclidean distance `radius` of a set pixel of `cells` (a disc dilation). It
 * stamps the disc around each set pixel only, which is cheap because boundaries are sparse.
 */
export function dilateDisc(cells: Uint8Array, width: number, height: number, radius: number): Uint8Array {
  const reach = Math.floor(radius);
  const offsets: number[] = [];
  for (let dy = -reach; dy <= reach; dy++) {
    for (let dx = -reach; dx <= reach; dx++) if (dx * dx + dy * dy <= radius * radius) offsets.push(dx, dy);
  }
  const near = new Uint8Array(cells.length);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (cells[y * width + x] !== 1) continue;
      for (let k = 0; k < offsets.length; k += 2) {
        const nx = x + offsets[k]!;
        const ny = y + offsets[k + 1]!;
        if (nx >= 0 && ny >= 0 && nx < width && ny < height) near[ny * width + nx] = 1;
      }
    }
  }
  return near;
}

export interface BoundaryScore {
  /** Share of the predicted boundary within the tolerance of the true one. */
  precision: number;
  /** Share of the true boundary within the tolerance of the predicted one. */
  recall: number;
  /** 2PR / (P + R); 1 when neither mask has a boundary, 0 when only one has. */
  f: number;
}

/** Boundary precision, recall and F-measure of two binary masks, matched within `tolerance` pixels. */
export function boundaryScore(predicted: Uint8Array, truth: Uint8Array, width: number, height: number, tolerance: number): BoundaryScore {
  sameLength(predicted, truth);
  const predictedEdge = boundaryOf(predicted, width, height);
  const truthEdge = boundaryOf(truth, width, height);
  const nearTruth = dilateDisc(truthEdge, width, height, tolerance);
  const nearPredicted = dilateDisc(predictedEdge, width, height, tolerance);
  let predictedCount = 0, predictedHits = 0, truthCount = 0, truthHits = 0;
  for (let i = 0; i < predictedEdge.length; i++) {
    predictedCount += predictedEdge[i]!;
    predictedHits += predictedEdge[i]! & nearTruth[i]!;
    truthCount += truthEdge[i]!;
    truthHits += truthEdge[i]! & nearPredicted[i]!;
  }
  if (predictedCount === 0 && truthCount === 0) return { precision: 1, recall: 1, f: 1 };
  // An empty side matches vacuously (precision 1 for no predicted edge) but still scores F 0.
  const precision = predictedCount === 0 ? 1 : predictedHits / predictedCount;
  const recall = truthCount === 0 ? 1 : truthHits / truthCount;
  const f = predictedCount === 0 || truthCount === 0 || precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
  return { precision, recall, f };
}

export interface MaskScores {
  area: AreaScore;
  mae: number;
  boundary: BoundaryScore;
}

/**
 * Every score of a predicted soft mask against a ground truth (both 0..255, same size): IoU and
 * boundary F on both binarised at 0.5, MAE on the soft values.
 */
export function scoreMask(predicted: Uint8Array, truth: Uint8Array, width: number, height: number, tolerance: number): MaskScores {
  const p = binarise(predicted);
  const t = binarise(truth);
  return {
    area: areaScore(p, t),
    mae: meanAbsoluteError(predicted, truth),
    boundary: boundaryScore(p, t, width, height, tolerance),
  };
}
