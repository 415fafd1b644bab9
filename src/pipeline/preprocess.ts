// The model's input tensor, made exactly as the reference U^2-Net test code makes it:
// the image squashed to 320x320 (done by the caller with libvips), divided by its own brightest
// value (not by 255), normalised with the ImageNet mean and std, laid out NCHW as float32.

export const MODEL_SIZE = 320;
const MEAN = [0.485, 0.456, 0.406] as const;
const STD = [0.229, 0.224, 0.225] as const;

/**
 * Turns interleaved 8-bit RGB pixels (MODEL_SIZE x MODEL_SIZE x 3) into the normalised NCHW
 * tensor data. `into` lets a caller reuse one buffer across requests.
 */
export function toModelInput(rgb: Uint8Array, into = new Float32Array(3 * MODEL_SIZE * MODEL_SIZE)): Float32Array {
  const plane = MODEL_SIZE * MODEL_SIZE;
  if (rgb.length !== plane * 3) throw new RangeError(`expected ${plane * 3} bytes of RGB, got ${rgb.length}`);
  if (into.length !== plane * 3) throw new RangeError(`expected a tensor of ${plane * 3} floats, got ${into.length}`);

  let brightest = 0;
  for (let i = 0; i < rgb.length; i++) if (rgb[i]! > brightest) brightest = rgb[i]!;
  // An all-black image would divide by zero; the reference guards with a tiny epsilon, which
  // leaves every pixel at 0, and so does a divisor of 1 here.
  const scale = 1 / Math.max(brightest, 1);

  for (let channel = 0; channel < 3; channel++) {
    const mean = MEAN[channel]!;
    const factor = scale / STD[channel]!;
    const bias = mean / STD[channel]!;
    const base = channel * plane;
    for (let i = 0, j = channel; i < plane; i++, j += 3) into[base + i] = rgb[j]! * factor - bias;
  }
  return into;
}

/**
 * The tensor of the image mirrored left to right, made from an existing tensor (NCHW, as
 * toModelInput makes it). Mirroring is the one change of view that leaves the subject's meaning
 * alone and gives the model a second look for the 'high' quality mode.
 */
export function mirrorModelInput(input: Float32Array, into = new Float32Array(input.length)): Float32Array {
  mirrorRows(input, into, input.length / (MODEL_SIZE * MODEL_SIZE));
  return into;
}

/** Mirrors each row of `planes` MODEL_SIZE x MODEL_SIZE planes left to right. */
export function mirrorRows(source: Float32Array, target: Float32Array, planes = 1): void {
  const rows = planes * MODEL_SIZE;
  for (let row = 0; row < rows; row++) {
    const start = row * MODEL_SIZE;
    const end = start + MODEL_SIZE - 1;
    for (let x = 0; x < MODEL_SIZE; x++) target[start + x] = source[end - x]!;
  }
}
