// Bilinear resampling coefficients, computed as Pillow computes them for `Image.resize(..., BILINEAR)`,
// the resize the reference U^2-Net code uses to bring its mask back to the image's size.
//
// A triangle filter centred on each output pixel; when shrinking, the filter widens with the scale
// so every source pixel counts (antialiasing). Precomputed once per axis, so the per-pixel work is
// a couple of multiply-adds.

export interface Taps {
  /** First source index for each output index. */
  start: Int32Array;
  /** Number of source indices used for each output index. */
  count: Int32Array;
  /** `stride` weights per output index (the first `count` of them used), summing to 1. */
  weights: Float32Array;
  stride: number;
}

/** Taps for resizing an axis of `source` samples to `target`, for the output indices `from` to `to` - 1. */
export function bilinearTaps(source: number, target: number, from: number, to: number): Taps {
  const scale = source / target;
  const filterScale = Math.max(scale, 1);
  const support = filterScale; // the triangle's half-width is 1, widened when shrinking
  const stride = Math.ceil(support) * 2 + 1;
  const length = to - from;
  const start = new Int32Array(length);
  const count = new Int32Array(length);
  const weights = new Float32Array(length * stride);
  for (let i = 0; i < length; i++) {
    const centre = (from + i + 0.5) * scale;
    const first = Math.max(0, Math.trunc(centre - support + 0.5));
    const last = Math.min(source, Math.trunc(centre + support + 0.5));
    let sum = 0;
    for (let k = first; k < last; k++) {
      const weight = Math.max(0, 1 - Math.abs((k - centre + 0.5) / filterScale));
      weights[i * stride + k - first] = weight;
      sum += weight;
    }
    if (sum > 0) for (let k = 0; k < last - first; k++) weights[i * stride + k]! /= sum;
    start[i] = first;
    count[i] = last - first;
  }
  return { start, count, weights, stride };
}
