// node dist/scripts/eval/edge-colour.js <folder> [--json file]
//
// How much of an old background survives in the cutout's soft edge. Each photo of <folder>/images
// is put, through its own mask (<folder>/masks, softened by a Gaussian of SOFTEN_SIGMA px), on a
// saturated colour C: I = a F + (1 - a) C, with F the photo. The composite goes through the
// pipeline with the service's defaults (uncropped rgba), once with the foreground colour estimate
// (foreground.ts) and once without, and each result is put on white and compared with what the
// subject alone would look like there, a F + (1 - a) 255, in the soft band (0 < a < 1 at 8 bits):
// - error: the mean length of the RGB difference (0-255 scale per channel), which splits into the
//   colours' part, a' (F' - F) for a result pixel of alpha a' and colour F', and the alpha's,
//   (a' - a)(F - 255): colour error is the mean length of the first, alpha error of the second
//   (what perfect colours would leave; the same with and without the estimate);
// - tint: the mean component of the colours' part along the unit vector from white towards C;
//   also over the band's pixels where the result's alpha is within ALPHA_RIGHT of the truth (where
//   the alpha is further off, the pixel is the mask's error more than the colours': background
//   the model kept as opaque beyond the edge's reach keeps its colour);
// - tint of the error: the same component of the whole difference, alpha's error included.
// The colour step's time is reported per megapixel of the subject's box (a lower bound on its
// region, so the figure errs high).
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { writeFileSync } from 'node:fs';
import sharp from 'sharp';
import { loadConfig } from '../../src/config.js';
import { ServiceError } from '../../src/errors.js';
import { removeBackground, type RemovalOptions } from '../../src/pipeline/index.js';
import { Segmenter } from '../../src/pipeline/segment.js';
import { StageTimer } from '../../src/pipeline/timings.js';
import { warmUp } from '../../src/pipeline/warm-up.js';
import { InferenceCache, pairImages, type EvalContext } from '../eval.js';

/** The mask's softening, in pixels. */
export const SOFTEN_SIGMA = 1.5;

/** The alpha error (0..1) up to which a pixel's alpha counts as right, for the tint where it is. */
export const ALPHA_RIGHT = 0.25;

export interface BackgroundColour {
  name: string;
  rgb: readonly [number, number, number];
}

export const EDGE_COLOURS: readonly BackgroundColour[] = [
  { name: 'green', rgb: [0, 255, 0] },
  { name: 'magenta', rgb: [255, 0, 255] },
];

/** The pipeline's settings for the run (the service's defaults); the crop, margin, channels and foreground step are the evaluation's. */
export type EdgeColourSettings = Pick<RemovalOptions, 'subject' | 'threshold' | 'refine' | 'accuracy'>;

export interface EdgeFigures {
  /** Mean RGB distance to the subject on white, over the band's pixels. */
  error: number;
  /** Mean length of the colours' part of the difference. */
  colourError: number;
  /** Mean length of the alpha's part (what perfect colours would leave). */
  alphaError: number;
  /** Mean component of the colours' part of the difference along white -> C. */
  tint: number;
  /** Mean component of the whole difference along white -> C. */
  errorTint: number;
  /** The tint over the band's pixels whose alpha is right (within ALPHA_RIGHT). */
  tintWhereAlphaRight: number;
  /** The share of the band's pixels whose alpha is right. */
  alphaRightShare: number;
}

export interface EdgeColourResult {
  colour: string;
  images: number;
  /** Photos answered with an error (scored as nothing kept: the band on white). */
  refusals: string[];
  bandPixels: number;
  before: EdgeFigures;
  after: EdgeFigures;
  /** The colour step's total time, and the subject boxes' total area in megapixels. */
  colourMs: number;
  boxMegapixels: number;
  msPerMegapixel: number;
}

/** Running totals over a band's pixels. */
export interface Sums {
  error: number;
  colourError: number;
  alphaError: number;
  tint: number;
  errorTint: number;
  /** The tint summed over the pixels whose alpha is right, and their count. */
  tintRight: number;
  right: number;
}

export const newSums = (): Sums => ({ error: 0, colourError: 0, alphaError: 0, tint: 0, errorTint: 0, tintRight: 0, right: 0 });
const figures = (sums: Sums, count: number): EdgeFigures => ({
  error: sums.error / count,
  colourError: sums.colourError / count,
  alphaError: sums.alphaError / count,
  tint: sums.tint / count,
  errorTint: sums.errorTint / count,
  tintWhereAlphaRight: sums.tintRight / sums.right,
  alphaRightShare: sums.right / count,
});

/** The photo I = a F + (1 - a) C, rounded to 8 bits: `photo` RGB, `alpha` one byte a pixel. */
export function compositeOver(photo: Uint8Array, alpha: Uint8Array, colour: readonly [number, number, number]): Buffer {
  const out = Buffer.alloc(photo.length);
  for (let i = 0; i < alpha.length; i++) {
    const a = alpha[i]! / 255;
    for (let c = 0; c < 3; c++) out[i * 3 + c] = Math.round(a * photo[i * 3 + c]! + (1 - a) * colour[c]!);
  }
  return out;
}

/**
 * Adds to `sums` the band's figures for one result (`result` RGBA, straight alpha, or null for a
 * refusal) against the photo `photo` (RGB) and its soft alpha; returns the band's pixel count.
 */
export function scoreBand(result: Uint8Array | null, photo: Uint8Array, alpha: Uint8Array, colour: readonly [number, number, number], sums: Sums): number {
  const toward = colour.map((v) => v - 255);
  const length = Math.hypot(...toward);
  const [ux, uy, uz] = toward.map((v) => v / length) as [number, number, number];
  let band = 0;
  for (let i = 0; i < alpha.length; i++) {
    const truth = alpha[i]!;
    if (truth === 0 || truth === 255) continue;
    band++;
    const a = truth / 255;
    const kept = result ? result[i * 4 + 3]! / 255 : 0;
    let squares = 0, colourSquares = 0, alphaSquares = 0, tint = 0, errorTint = 0;
    for (let c = 0; c < 3; c++) {
      const f = photo[i * 3 + c]!;
      const shown = result ? result[i * 4 + c]! : 0;
      const difference = kept * shown + (1 - kept) * 255 - (a * f + (1 - a) * 255);
      const colourPart = kept * (shown - f);
      const alphaPart = (kept - a) * (f - 255);
      colourSquares += colourPart * colourPart;
      alphaSquares += alphaPart * alphaPart;
      const u = c === 0 ? ux : c === 1 ? uy : uz;
      squares += difference * difference;
      tint += colourPart * u;
      errorTint += difference * u;
    }
    sums.error += Math.sqrt(squares);
    sums.colourError += Math.sqrt(colourSquares);
    sums.alphaError += Math.sqrt(alphaSquares);
    sums.tint += tint;
    sums.errorTint += errorTint;
    if (Math.abs(kept - a) <= ALPHA_RIGHT) {
      sums.tintRight += tint;
      sums.right++;
    }
  }
  return band;
}

async function rgb(file: string): Promise<{ data: Buffer; width: number; height: number }> {
  const { data, info } = await sharp(file).toColourspace('srgb').removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
}

async function softMask(file: string, sigma: number): Promise<{ data: Buffer; width: number; height: number }> {
  const { data, info } = await sharp(file).extractChannel(0).blur(sigma).raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
}

export interface EdgeColourOptions {
  settings: EdgeColourSettings;
  colours?: readonly BackgroundColour[];
  sigma?: number;
}

/** The figures per background colour for every photo of `folder` that has a mask. */
export async function evaluateEdgeColour(folder: string, options: EdgeColourOptions, context: EvalContext): Promise<EdgeColourResult[]> {
  const { pairs } = pairImages(folder);
  const colours = options.colours ?? EDGE_COLOURS;
  const sigma = options.sigma ?? SOFTEN_SIGMA;
  const segmenter = new InferenceCache(context.segmenter);
  const totals = colours.map(() => ({ before: newSums(), after: newSums(), band: 0, images: 0, refusals: [] as string[], colourMs: 0, boxPixels: 0 }));
  for (const [index, pair] of pairs.entries()) {
    context.progress?.(index, pairs.length, pair.name);
    const photo = await rgb(pair.image);
    const alpha = await softMask(pair.mask, sigma);
    if (alpha.width !== photo.width || alpha.height !== photo.height) {
      throw new Error(`${pair.name}: the photo is ${photo.width}x${photo.height} but its mask is ${alpha.width}x${alpha.height}`);
    }
    for (const [c, colour] of colours.entries()) {
      const total = totals[c]!;
      const composite = await sharp(compositeOver(photo.data, alpha.data, colour.rgb), { raw: { width: photo.width, height: photo.height, channels: 3 } })
        .png({ compressionLevel: 1 })
        .toBuffer();
      total.images++;
      for (const foreground of [false, true]) {
        const timer = new StageTimer();
        let result: Buffer | null = null;
        try {
          const removal = await removeBackground(
            composite,
            { ...options.settings, crop: false, margin: 0, channels: 'rgba', foreground },
            { segmenter, maxPixels: context.maxPixels, pngCompressionLevel: context.pngCompressionLevel, timer },
          );
          result = await sharp(removal.image).ensureAlpha().raw().toBuffer();
          if (foreground) {
            total.colourMs += timer.durations.colour ?? 0;
            total.boxPixels += removal.box.width * removal.box.height;
          }
        } catch (error) {
          if (!(error instanceof ServiceError)) throw error;
          if (foreground) total.refusals.push(`${pair.name} ${error.code}`);
        }
        const band = scoreBand(result, photo.data, alpha.data, colour.rgb, foreground ? total.after : total.before);
        if (foreground) total.band += band;
      }
    }
  }
  return colours.map((colour, c) => {
    const total = totals[c]!;
    const boxMegapixels = total.boxPixels / 1e6;
    return {
      colour: colour.name,
      images: total.images,
      refusals: total.refusals,
      bandPixels: total.band,
      before: figures(total.before, total.band),
      after: figures(total.after, total.band),
      colourMs: total.colourMs,
      boxMegapixels,
      msPerMegapixel: boxMegapixels > 0 ? total.colourMs / boxMegapixels : NaN,
    };
  });
}

/** The figures as a plain-text table, a row per colour: before -> after (after as a share of before). */
export function formatEdgeColour(folder: string, results: readonly EdgeColourResult[]): string {
  const change = (before: number, after: number) => `${before.toFixed(1)} -> ${after.toFixed(1)} (${((after / before) * 100).toFixed(0)} %)`.padEnd(22);
  const lines = [
    `${folder}: edge colours (mask softened by ${SOFTEN_SIGMA} px, photo put on each colour, cut out, put on white; 0-255 units; without -> with the estimate)`,
    `${'colour'.padEnd(8)}  ${'images'.padStart(6)}  ${'band px'.padStart(8)}  ${'error'.padEnd(22)}  ${'colour error'.padEnd(22)}  ${'tint'.padEnd(22)}  ` +
      `${'tint, alpha right'.padEnd(22)}  ${'error along C'.padEnd(22)}  alpha error  alpha right  colour ms/MP`,
  ];
  for (const r of results) {
    lines.push(
      `${r.colour.padEnd(8)}  ${String(r.images).padStart(6)}  ${String(r.bandPixels).padStart(8)}  ${change(r.before.error, r.after.error)}  ` +
        `${change(r.before.colourError, r.after.colourError)}  ${change(r.before.tint, r.after.tint)}  ` +
        `${change(r.before.tintWhereAlphaRight, r.after.tintWhereAlphaRight)}  ${change(r.before.errorTint, r.after.errorTint)}  ` +
        `${r.after.alphaError.toFixed(1).padStart(11)}  ${`${(r.after.alphaRightShare * 100).toFixed(0)} %`.padStart(11)}  ${r.msPerMegapixel.toFixed(1).padStart(12)}` +
        (r.refusals.length > 0 ? `  refused: ${r.refusals.join(', ')}` : ''),
    );
  }
  lines.push(
    `alpha error: what perfect colours would leave; alpha right: the band's pixels whose alpha is within ${ALPHA_RIGHT} of the truth.`,
    "colour ms/MP: the colour stage's wall time per megapixel of the subject's box (its region is larger, so per region it is less).",
  );
  return lines.join('\n');
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { json: { type: 'string' } } });
  if (positionals.length !== 1) {
    console.error('usage: node dist/scripts/eval/edge-colour.js <folder> [--json file]\n  <folder> holds images/ and masks/');
    process.exit(2);
  }
  const config = loadConfig();
  const folder = path.resolve(positionals[0]!);
  const segmenter = await Segmenter.load({ modelPath: config.MODEL_PATH, threads: config.INFERENCE_THREADS });
  try {
    await warmUp(segmenter);
    const results = await evaluateEdgeColour(
      folder,
      { settings: { subject: 'largest', threshold: config.MASK_THRESHOLD, refine: true, accuracy: 'standard' } },
      {
        segmenter,
        maxPixels: config.MAX_INPUT_PIXELS,
        pngCompressionLevel: config.PNG_COMPRESSION_LEVEL,
        progress: (done, total, name) => process.stderr.write(`[${done + 1}/${total}] ${name}\n`),
      },
    );
    console.log(formatEdgeColour(folder, results));
    if (values.json) writeFileSync(values.json, `${JSON.stringify(results, null, 2)}\n`);
  } finally {
    await segmenter.release();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((error: unknown) => {
    console.error(`edge-colour failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  });
}
