// npm run generate-negatives [-- <folder>]: writes images that hold no subject (blank, flat colour,
// gradients, sky, noise, stripes, regular patterns, natural textures) as PNGs, by default to
// test/fixtures/generated/negatives/. They are the negative side of the no-subject rule
// (test/pipeline/no-subject.test.ts). Every image comes from a fixed seed, so a run always writes
// the same pixels.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import sharp from 'sharp';
import { projectRoot } from '../src/config.js';
import { seededRandom } from './seeded-random.js';

export const NEGATIVES_FOLDER = path.join(projectRoot, 'test', 'fixtures', 'generated', 'negatives');
export const WIDTH = 640;
export const HEIGHT = 480;
const SEED = 20240601;

/** A standard normal sample (Box-Muller; the second value is dropped to keep it simple). */
function gaussian(random: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}

const clampByte = (value: number): number => (value < 0 ? 0 : value > 255 ? 255 : Math.round(value));

type Rgb = readonly [number, number, number];

/** WIDTH x HEIGHT RGB pixels, each set by `paint`, which writes one pixel's colour into `rgb`. */
function paint(draw: (x: number, y: number, rgb: Uint8Array) => void): Buffer {
  const pixels = Buffer.alloc(WIDTH * HEIGHT * 3);
  const rgb = new Uint8Array(3);
  for (let y = 0, i = 0; y < HEIGHT; y++) {
    for (let x = 0; x < WIDTH; x++, i += 3) {
      draw(x, y, rgb);
      pixels[i] = rgb[0]!;
      pixels[i + 1] = rgb[1]!;
      pixels[i + 2] = rgb[2]!;
    }
  }
  return pixels;
}

const flat = (colour: Rgb): Buffer => paint((_x, _y, rgb) => rgb.set(colour));

/** Independent Gaussian noise per channel around mid-grey, standard deviation `sigma` (0..255 scale). */
function noise(sigma: number, seed: number): Buffer {
  const random = seededRandom(seed);
  return paint((_x, _y, rgb) => {
    for (let c = 0; c < 3; c++) rgb[c] = clampByte(128 + sigma * gaussian(random));
  });
}

/** Linear blend of two colours along a direction (dx, dy), from the image's one corner to the other. */
function gradient(from: Rgb, to: Rgb, dx: number, dy: number): Buffer {
  const span = Math.abs(dx) * (WIDTH - 1) + Math.abs(dy) * (HEIGHT - 1);
  return paint((x, y, rgb) => {
    const t = (dx * x + dy * y) / span;
    for (let c = 0; c < 3; c++) rgb[c] = clampByte(from[c]! + (to[c]! - from[c]!) * t);
  });
}

function checkerboard(cell: number, a: Rgb, b: Rgb): Buffer {
  return paint((x, y, rgb) => rgb.set(((Math.floor(x / cell) + Math.floor(y / cell)) & 1) === 0 ? a : b));
}

/** Stripes of `width` pixels along direction (dx, dy) (1, 0 for vertical stripes), alternating a and b. */
function stripes(width: number, dx: number, dy: number, a: Rgb, b: Rgb): Buffer {
  return paint((x, y, rgb) => rgb.set((Math.floor((dx * x + dy * y) / width) & 1) === 0 ? a : b));
}

const MORTAR: Rgb = [190, 185, 175];

/** A running-bond brick wall: each brick's colour varies a little (seeded), mortar joints between. */
function bricks(seed: number): Buffer {
  const [brickW, brickH, mortar] = [64, 24, 4];
  const random = seededRandom(seed);
  const columns = Math.ceil(WIDTH / brickW) + 1;
  const rows = Math.ceil(HEIGHT / brickH);
  const shade = Float32Array.from({ length: columns * rows }, () => 0.8 + 0.35 * random());
  return paint((x, y, rgb) => {
    const row = Math.floor(y / brickH);
    const shifted = x + (row & 1 ? brickW / 2 : 0);
    const column = Math.floor(shifted / brickW);
    if (y % brickH < mortar || shifted % brickW < mortar) {
      rgb.set(MORTAR);
      return;
    }
    const s = shade[row * columns + column]!;
    rgb[0] = clampByte(150 * s);
    rgb[1] = clampByte(62 * s);
    rgb[2] = clampByte(45 * s);
  });
}

/** Many small discs of random colour and radius scattered evenly over a plain background. */
function randomDots(seed: number, count: number): Buffer {
  const random = seededRandom(seed);
  const pixels = flat([236, 228, 210]);
  for (let n = 0; n < count; n++) {
    const cx = random() * WIDTH;
    const cy = random() * HEIGHT;
    const r = 3 + random() * 4;
    const colour = [random() * 255, random() * 255, random() * 255].map(clampByte);
    for (let y = Math.max(0, Math.floor(cy - r)); y <= Math.min(HEIGHT - 1, Math.ceil(cy + r)); y++) {
      for (let x = Math.max(0, Math.floor(cx - r)); x <= Math.min(WIDTH - 1, Math.ceil(cx + r)); x++) {
        if ((x - cx) ** 2 + (y - cy) ** 2 > r * r) continue;
        const i = (y * WIDTH + x) * 3;
        pixels[i] = colour[0]!;
        pixels[i + 1] = colour[1]!;
        pixels[i + 2] = colour[2]!;
      }
    }
  }
  return pixels;
}

/** Smooth random values on a lattice of `cell` pixels, interpolated with smoothstep: 0..1. */
function valueNoise(seed: number, cell: number): (x: number, y: number) => number {
  const random = seededRandom(seed);
  const columns = Math.ceil(WIDTH / cell) + 2;
  const rows = Math.ceil(HEIGHT / cell) + 2;
  const lattice = Float64Array.from({ length: columns * rows }, () => random());
  const smooth = (t: number) => t * t * (3 - 2 * t);
  return (x, y) => {
    const fx = x / cell;
    const fy = y / cell;
    const ix = Math.floor(fx);
    const iy = Math.floor(fy);
    const tx = smooth(fx - ix);
    const ty = smooth(fy - iy);
    const at = (dx: number, dy: number) => lattice[(iy + dy) * columns + ix + dx]!;
    return (at(0, 0) * (1 - tx) + at(1, 0) * tx) * (1 - ty) + (at(0, 1) * (1 - tx) + at(1, 1) * tx) * ty;
  };
}

/** Octaves of value noise at the given cell sizes, each half as strong as the one before: 0..1. */
function fractalNoise(seed: number, cells: number[]): (x: number, y: number) => number {
  const octaves = cells.map((cell, k) => valueNoise(seed + k, cell));
  return (x, y) => {
    let sum = 0;
    let total = 0;
    let weight = 1;
    for (const octave of octaves) {
      sum += weight * octave(x, y);
      total += weight;
      weight /= 2;
    }
    return sum / total;
  };
}

/** A blue sky, lighter towards the horizon, with a faint haze. */
function sky(seed: number): Buffer {
  const haze = fractalNoise(seed, [200, 100]);
  return paint((x, y, rgb) => {
    const t = y / HEIGHT;
    rgb[0] = clampByte(70 + 150 * t + 10 * haze(x, y));
    rgb[1] = clampByte(130 + 100 * t + 10 * haze(x, y));
    rgb[2] = clampByte(230 + 20 * t);
  });
}

/** White clouds over blue sky. */
function clouds(seed: number): Buffer {
  const noise = fractalNoise(seed, [160, 80, 40, 20]);
  return paint((x, y, rgb) => {
    const cover = Math.max(0, noise(x, y) - 0.45) * 2.5;
    rgb[0] = clampByte(90 + 160 * cover);
    rgb[1] = clampByte(140 + 110 * cover);
    rgb[2] = clampByte(220 + 35 * cover);
  });
}

/** Wavy bands of brown, as in planed wood. */
function woodGrain(seed: number): Buffer {
  const noise = fractalNoise(seed, [120, 40]);
  return paint((x, y, rgb) => {
    const band = 0.5 + 0.5 * Math.sin((y + 40 * noise(x, y)) / 6 + 3 * noise(2 * x, y));
    rgb[0] = clampByte(120 + 60 * band);
    rgb[1] = clampByte(75 + 40 * band);
    rgb[2] = clampByte(40 + 20 * band);
  });
}

/** A fine two-tone weave (2 px threads) with a little noise, as in a fabric close-up. */
function fabricWeave(seed: number): Buffer {
  const random = seededRandom(seed);
  return paint((x, y, rgb) => {
    const thread = ((x >> 1) + (y >> 1)) & 1;
    const jitter = 10 * random();
    rgb[0] = clampByte(60 + 40 * thread + jitter);
    rgb[1] = clampByte(70 + 40 * thread + jitter);
    rgb[2] = clampByte(110 + 40 * thread + jitter);
  });
}

/** Green leafy blotches at several scales. */
function foliage(seed: number): Buffer {
  const noise = fractalNoise(seed, [48, 24, 12, 6]);
  return paint((x, y, rgb) => {
    const v = noise(x, y);
    rgb[0] = clampByte(30 + 80 * v);
    rgb[1] = clampByte(70 + 140 * v);
    rgb[2] = clampByte(20 + 50 * v);
  });
}

/** Fine-grained sand. */
function sand(seed: number): Buffer {
  const noise = fractalNoise(seed, [4, 2]);
  return paint((x, y, rgb) => {
    const v = noise(x, y);
    rgb[0] = clampByte(190 + 50 * v);
    rgb[1] = clampByte(160 + 45 * v);
    rgb[2] = clampByte(110 + 40 * v);
  });
}

/** White dots on navy, 40 px apart: a polka-dot fabric. */
function polkaDots(): Buffer {
  return paint((x, y, rgb) => {
    const dx = (x % 40) - 20;
    const dy = (y % 40) - 20;
    rgb.set(dx * dx + dy * dy < 64 ? [250, 250, 250] : [20, 40, 90]);
  });
}

/** Pale square tiles, 60 px, in slightly varying shades, with grey grout. */
function tiles(): Buffer {
  return paint((x, y, rgb) => {
    if (x % 60 < 3 || y % 60 < 3) return rgb.set([90, 90, 90]);
    const shade = (Math.floor(x / 60) * 7 + Math.floor(y / 60) * 3) % 5;
    rgb[0] = 200 + 8 * shade;
    rgb[1] = 200 + 6 * shade;
    rgb[2] = 195 + 5 * shade;
  });
}

const rawImage = (pixels: Buffer) => sharp(pixels, { raw: { width: WIDTH, height: HEIGHT, channels: 3 } });
const png = (pixels: Buffer): Promise<Buffer> => rawImage(pixels).png().toBuffer();

/** Noise blurred into soft clouds, then stretched back to full contrast so the blobs stay visible. */
async function blurredNoise(sigma: number, seed: number): Promise<Buffer> {
  return rawImage(noise(64, seed)).blur(sigma).normalise().png().toBuffer();
}

/** Every negative, by file name (without extension), made on demand. */
const NEGATIVES: Record<string, () => Promise<Buffer>> = {
  'blank-white': () => png(flat([255, 255, 255])),
  'blank-black': () => png(flat([0, 0, 0])),
  'mid-grey': () => png(flat([128, 128, 128])),
  'saturated-red': () => png(flat([255, 0, 0])),
  'gradient-horizontal-grey': () => png(gradient([0, 0, 0], [255, 255, 255], 1, 0)),
  'gradient-diagonal-colour': () => png(gradient([20, 60, 200], [250, 160, 40], 1, 1)),
  'noise-sigma-8': () => png(noise(8, SEED + 1)),
  'noise-sigma-24': () => png(noise(24, SEED + 2)),
  'noise-sigma-48': () => png(noise(48, SEED + 3)),
  'noise-sigma-96': () => png(noise(96, SEED + 4)),
  'blurred-noise-3': () => blurredNoise(3, SEED + 5),
  'blurred-noise-12': () => blurredNoise(12, SEED + 6),
  'stripes-vertical-16': () => png(stripes(16, 1, 0, [0, 0, 0], [255, 255, 255])),
  'stripes-diagonal-24': () => png(stripes(24, 0.7071, 0.7071, [30, 90, 160], [240, 220, 120])),
  'checkerboard-8': () => png(checkerboard(8, [0, 0, 0], [255, 255, 255])),
  'checkerboard-48': () => png(checkerboard(48, [0, 0, 0], [255, 255, 255])),
  'bricks': () => png(bricks(SEED + 7)),
  'random-dots': () => png(randomDots(SEED + 8, 2500)),
  'sky-gradient': () => png(sky(SEED + 9)),
  'clouds': () => png(clouds(SEED + 10)),
  'wood-grain': () => png(woodGrain(SEED + 11)),
  'fabric-weave': () => png(fabricWeave(SEED + 12)),
  'foliage': () => png(foliage(SEED + 13)),
  'sand': () => png(sand(SEED + 14)),
  'polka-dots': () => png(polkaDots()),
  'tiles': () => png(tiles()),
  'stripes-vertical-32': () => png(stripes(32, 1, 0, [30, 30, 120], [200, 30, 40])),
  'stripes-horizontal-12': () => png(stripes(12, 0, 1, [40, 40, 40], [240, 240, 240])),
};

export const NEGATIVE_NAMES = Object.keys(NEGATIVES);

/**
 * Negatives in which nothing stands out at all: blank, flat colour, gradients, sky, clouds, noise
 * and blurred noise. The no-subject rule must refuse every one of them.
 */
export const EMPTY_NEGATIVES: readonly string[] = [
  'blank-white', 'blank-black', 'mid-grey', 'saturated-red', 'gradient-horizontal-grey', 'gradient-diagonal-colour',
  'noise-sigma-8', 'noise-sigma-24', 'noise-sigma-48', 'noise-sigma-96', 'blurred-noise-3', 'blurred-noise-12',
  'sky-gradient', 'clouds',
];

/**
 * Patterns the model marks as something (its raw map reaches the half-way line somewhere), which the
 * rule therefore answers with a cutout of what the model found: when the map cannot tell a pattern
 * from a subject, a cutout is the better mistake than refusing a real photo. The test checks that
 * exactly these are answered, so a rule change that refuses one (or answers another) shows up; every
 * other negative, patterns the model sees nothing in included, is refused.
 */
export const ANSWERED_PATTERNS: Record<string, string> = {
  'bricks': 'the model marks a few bricks (peak 0.96)',
  'checkerboard-8': 'the model marks squares near the middle (peak 0.84)',
  'polka-dots': 'the model marks dots all over (peak 0.96)',
  'stripes-diagonal-24': 'the model marks almost everything (peak 1.00)',
  'stripes-vertical-16': 'the model marks almost everything (peak 1.00)',
  'stripes-vertical-32': 'the model marks several stripes (peak 0.97)',
  'stripes-horizontal-12': 'the model marks one band at the top as an object (peak 0.99)',
  'tiles': 'the model marks half of the tiles (peak 1.00)',
};

/** One negative's PNG bytes, by name (for composing test scenes on a negative's background). */
export function negativeImage(name: string): Promise<Buffer> {
  const make = NEGATIVES[name];
  if (!make) throw new RangeError(`no negative named ${name}`);
  return make();
}

export interface Negative {
  name: string;
  file: string;
  png: Buffer;
}

/** Writes every negative as `<name>.png` into `folder` (made if missing) and returns them. */
export async function generateNegatives(folder = NEGATIVES_FOLDER): Promise<Negative[]> {
  mkdirSync(folder, { recursive: true });
  const written: Negative[] = [];
  for (const [name, make] of Object.entries(NEGATIVES)) {
    const png = await make();
    const file = path.join(folder, `${name}.png`);
    writeFileSync(file, png);
    written.push({ name, file, png });
  }
  return written;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const folder = process.argv[2] ? path.resolve(process.argv[2]) : NEGATIVES_FOLDER;
  generateNegatives(folder).then(
    (negatives) => console.log(`${negatives.length} negatives (${WIDTH}x${HEIGHT} PNG) written to ${folder}`),
    (error: unknown) => {
      console.error(`generate-negatives failed: ${error instanceof Error ? error.message : String(error)}`);
      process.exit(1);
    },
  );
}
