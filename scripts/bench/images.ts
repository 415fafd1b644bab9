// The benchmark's test images: one photo at several sizes, each as JPEG and PNG, made in memory.
//
// The photo is bike.jpg from the official U^2-Net fixtures when PARITY_FIXTURES names them, so
// the service sees a real photo; otherwise a synthetic one (a lit figure on a textured, grainy
// background), because a flat or smooth image would make PNG sizes, and so fetch and decode
// times, unrealistically small.
import { existsSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { seededRandom } from '../seeded-random.js';

export type ImageFormat = 'jpeg' | 'png';
export const FORMATS: readonly ImageFormat[] = ['jpeg', 'png'];

export interface SourcePhoto {
  /** Where it came from, for the report. */
  label: string;
  /** Raw interleaved RGB. */
  pixels: Buffer;
  width: number;
  height: number;
}

export interface BenchImage {
  /** e.g. "1MP.jpeg", also its path on the image server. */
  name: string;
  megapixels: number;
  format: ImageFormat;
  width: number;
  height: number;
  bytes: Buffer;
}

export const FIXTURE_PHOTO = 'bike.jpg';

/** Width and height with about `megapixels` million pixels and the given aspect ratio (width / height). */
export function dimensionsFor(megapixels: number, aspect: number): { width: number; height: number } {
  const width = Math.max(1, Math.round(Math.sqrt(megapixels * 1e6 * aspect)));
  return { width, height: Math.max(1, Math.round(width / aspect)) };
}

export const imageName = (megapixels: number, format: ImageFormat): string => `${megapixels}MP.${format}`;

/** bike.jpg from the fixtures folder when it is there, else the synthetic photo. */
export async function sourcePhoto(fixtures: string | undefined): Promise<SourcePhoto> {
  const file = fixtures ? path.join(fixtures, 'images', FIXTURE_PHOTO) : undefined;
  if (file && existsSync(file)) {
    const { data, info } = await sharp(file).autoOrient().removeAlpha().raw().toBuffer({ resolveWithObject: true });
    return { label: `${file} (${info.width}x${info.height})`, pixels: data, width: info.width, height: info.height };
  }
  const width = 3000;
  const height = 2000;
  return { label: `synthetic photo (${width}x${height}; PARITY_FIXTURES not set or has no images/${FIXTURE_PHOTO})`, pixels: await syntheticPhoto(width, height), width, height };
}

/** Smooth RGB blobs: a small random raster enlarged with a cubic kernel. */
async function blobs(cellsX: number, cellsY: number, width: number, height: number, next: () => number): Promise<Buffer> {
  const cells = Buffer.alloc(cellsX * cellsY * 3);
  for (let i = 0; i < cells.length; i++) cells[i] = Math.floor(next() * 256);
  return sharp(cells, { raw: { width: cellsX, height: cellsY, channels: 3 } })
    .resize(width, height, { fit: 'fill', kernel: 'cubic' })
    .raw()
    .toBuffer();
}

/** A figure (head and body, shaded) on a background of coarse colour and fine grey texture, with sensor-like grain. */
export async function syntheticPhoto(width: number, height: number): Promise<Buffer> {
  const next = seededRandom(20240607);
  const coarse = await blobs(24, 16, width, height, next);
  const fine = await blobs(Math.round(width / 12), Math.round(height / 12), width, height, next);
  const out = Buffer.alloc(width * height * 3);
  const body = { x: width * 0.5, y: height * 0.68, rx: width * 0.16, ry: height * 0.36 };
  const head = { x: width * 0.5, y: height * 0.25, r: height * 0.12 };
  const edge = height * 0.006; // soft edge width, as a lens would give
  const subject = [196, 52, 40];

  for (let y = 0, i = 0; y < height; y++) {
    const sky = 1 - y / height;
    for (let x = 0; x < width; x++, i += 3) {
      const bx = (x - body.x) / body.rx;
      const by = (y - body.y) / body.ry;
      const inBody = (1 - Math.sqrt(bx * bx + by * by)) * body.rx;
      const inHead = head.r - Math.hypot(x - head.x, y - head.y);
      const m = Math.min(1, Math.max(0, (Math.max(inBody, inHead) + edge) / (2 * edge)));
      const light = 0.55 + 0.45 * (1 - Math.min(1, Math.abs(x - width * 0.42) / body.rx));
      for (let c = 0; c < 3; c++) {
        const background = 40 + 70 * sky * (c === 2 ? 1.2 : 0.8) + 0.3 * coarse[i]! + 0.12 * coarse[i + c]! + 0.45 * (fine[i]! - 128);
        const foreground = subject[c]! * light + 0.15 * (fine[i]! - 128);
        const grain = (next() - 0.5) * 12;
        out[i + c] = Math.min(255, Math.max(0, Math.round(background * (1 - m) + foreground * m + grain)));
      }
    }
  }
  return out;
}

/**
 * The photo resized (aspect kept, up or down) to each size, encoded as JPEG (quality 90) and PNG.
 * The PNG uses adaptive row filtering, as libpng-based editors and cameras do by default; without
 * it a photo's PNG is over twice as large (a 12 MP one would pass the service's 25 MiB limit).
 */
export async function makeImages(photo: SourcePhoto, sizes: readonly number[]): Promise<BenchImage[]> {
  const images: BenchImage[] = [];
  const aspect = photo.width / photo.height;
  for (const megapixels of sizes) {
    const { width, height } = dimensionsFor(megapixels, aspect);
    const resized = sharp(photo.pixels, { raw: { width: photo.width, height: photo.height, channels: 3 } }).resize(width, height, {
      fit: 'fill',
      kernel: 'lanczos3',
    });
    const pixels = await resized.raw().toBuffer();
    for (const format of FORMATS) {
      const encoder = sharp(pixels, { raw: { width, height, channels: 3 } });
      const bytes = format === 'jpeg' ? await encoder.jpeg({ quality: 90 }).toBuffer() : await encoder.png({ adaptiveFiltering: true }).toBuffer();
      images.push({ name: imageName(megapixels, format), megapixels, format, width, height, bytes });
    }
  }
  return images;
}
