// npm run generate-negatives [-- <folder>]: writes images that hold no subject (blank, flat colour,
// gradients, noise, stripes, textures) as PNGs, by default to test/fixtures/generated/negatives/.
// They are the negative side of the no-subject rule (test/pipeline/no-subject.test.ts). Every image
// comes from a fixed seed, so a run always writes the same pixels.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import sharp from 'sharp';
import { projectRoot } from '../src/config.js';

export const NEGATIVES_FOLDER = path.join(projectRoot, 'test', 'fixtures', 'generated', 'negatives');
export const WIDTH = 640;
export const HEIGHT = 480;
const SEED = 20240601;

/** mulberry32: a small, fast, seeded generator of uniform numbers in [0, 1). */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 15), z | 1);
    z ^= z + Math.imul(z ^ (z >>> 7), z | 61);
    return ((z ^ (z >>> 14)) >>> 0) / 4294967296;
  };
}

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
};

export const NEGATIVE_NAMES = Object.keys(NEGATIVES);

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
