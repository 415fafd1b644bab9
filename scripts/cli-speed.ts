// node dist/scripts/cli-speed.js <photos folder> [--images 100] [--rounds 2] [--jobs 1,2]
//
// The command line's speed on a folder, beside the service's one-at-a-time figure measured the same
// way. The folder's photos (cycled) are made into N JPEGs of about one megapixel in a temporary
// folder; then, in turns for each round: the pipeline in a loop, one image after another, as the
// service does them with its one work slot (read the file, removeBackground with the API's
// defaults, write the PNG; no HTTP, so the service's figure is if anything flattered), and
// `bg-remove <folder> -o <out>` with each --jobs. Every run is its own process, started with the
// service's RUNTIME_ENV, its model loaded and warmed (the loop) or loaded (the command) before the
// clock starts: images per second are the images over the time spent on them. The command's
// figure from start to exit, model loading included, is printed too.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { loadConfig, projectRoot, RUNTIME_ENV } from '../src/config.js';
import { ServiceError } from '../src/errors.js';
import { formOptions, pipelineOptions } from '../src/options.js';
import { readHeader, removeBackground } from '../src/pipeline/index.js';
import { Segmenter } from '../src/pipeline/segment.js';
import { StageTimer } from '../src/pipeline/timings.js';
import { warmUp } from '../src/pipeline/warm-up.js';
import { dimensionsFor } from './bench/images.js';

const CLI = path.join(projectRoot, 'dist/src/cli/main.js');

/** The loop, in this process: images per second over the images' time. */
async function loop(folder: string, out: string): Promise<number> {
  const config = loadConfig();
  const { removal, output, background } = pipelineOptions(formOptions({}), { defaultThreshold: config.MASK_THRESHOLD, maxCanvasPixels: config.MAX_CANVAS_PIXELS });
  if (background.kind === 'url') throw new Error('the default background is not a URL');
  const segmenter = await Segmenter.load({ modelPath: config.MODEL_PATH, threads: config.INFERENCE_THREADS, arena: config.INFERENCE_ARENA });
  await warmUp(segmenter);
  const files = readdirSync(folder).sort();
  const started = performance.now();
  for (const file of files) {
    const bytes = await readFile(path.join(folder, file));
    const timer = new StageTimer();
    const maxPixels = config.MAX_INPUT_PIXELS;
    try {
      const header = await readHeader(bytes, { maxPixels });
      const result = await removeBackground(bytes, removal, { segmenter, maxPixels, pngCompressionLevel: config.PNG_COMPRESSION_LEVEL, timer, header }, { ...output, background });
      await writeFile(path.join(out, `${path.parse(file).name}.png`), result.image);
    } catch (error) {
      // A photo without a subject is a refusal, as it is for the service and the command: it counts.
      if (!(error instanceof ServiceError)) throw error;
    }
  }
  const seconds = (performance.now() - started) / 1000;
  await segmenter.release();
  return files.length / seconds;
}

function runChild(args: string[]): Promise<{ code: number | null; stdout: string; seconds: number }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, args, { env: { ...process.env, ...RUNTIME_ENV }, stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, stdout, seconds: (performance.now() - started) / 1000 }));
  });
}

async function makeImages(source: string, count: number, folder: string): Promise<void> {
  const photos = readdirSync(source).filter((name) => /\.(jpe?g|png|webp)$/i.test(name)).sort();
  if (photos.length === 0) throw new Error(`no photos in ${source}`);
  for (let i = 0; i < count; i++) {
    const photo = sharp(path.join(source, photos[i % photos.length]!)).autoOrient();
    const { width = 1, height = 1 } = await photo.metadata();
    const size = dimensionsFor(1, width / height);
    writeFileSync(path.join(folder, `${String(i).padStart(3, '0')}.jpg`), await photo.resize(size.width, size.height).jpeg({ quality: 90 }).toBuffer());
  }
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { images: { type: 'string', default: '100' }, rounds: { type: 'string', default: '2' }, jobs: { type: 'string', default: '1,2' }, loop: { type: 'string' } },
  });
  if (values.loop !== undefined) {
    // A child: the loop over an existing folder.
    console.log(String(await loop(values.loop, positionals[0]!)));
    return;
  }
  if (positionals.length !== 1) throw new Error('usage: node dist/scripts/cli-speed.js <photos folder> [--images 100] [--rounds 2] [--jobs 1,2]');
  const work = mkdtempSync(path.join(os.tmpdir(), 'cli-speed-'));
  try {
    const folder = path.join(work, 'images');
    mkdirSync(folder);
    await makeImages(positionals[0]!, Number(values.images), folder);
    const jobs = values.jobs.split(',').map(Number);
    const figures: Record<string, number[]> = { loop: [] };
    const whole: Record<string, number[]> = {};
    for (let round = 0; round < Number(values.rounds); round++) {
      const out = path.join(work, `out-loop-${round}`);
      mkdirSync(out);
      const looped = await runChild([fileURLToPath(import.meta.url), '--loop', folder, out]);
      if (looped.code !== 0) throw new Error('the loop failed');
      figures.loop!.push(Number(looped.stdout.trim()));
      for (const j of jobs) {
        const report = path.join(work, `report-${j}-${round}.json`);
        const ran = await runChild([CLI, folder, '-o', path.join(work, `out-${j}-${round}`), '--quiet', '--jobs', String(j), '--json', report]);
        if (ran.code !== 0 && ran.code !== 1) throw new Error(`bg-remove --jobs ${j} exited with ${ran.code}`);
        const { summary } = JSON.parse(readFileSync(report, 'utf8')) as { summary: { done: number; failed: number; seconds: number } };
        const images = summary.done + summary.failed; // refusals (no subject) count, as in the loop
        (figures[`bg-remove --jobs ${j}`] ??= []).push(images / summary.seconds);
        (whole[`bg-remove --jobs ${j}`] ??= []).push(images / ran.seconds);
      }
      console.error(`round ${round + 1}: ${Object.entries(figures).map(([name, list]) => `${name} ${list.at(-1)!.toFixed(2)}`).join(', ')} images/s`);
    }
    const lines = Object.entries(figures).map(
      ([name, list]) =>
        `| ${name} | ${median(list).toFixed(2)} | ${list.map((v) => v.toFixed(2)).join(', ')} | ${whole[name] ? median(whole[name]).toFixed(2) : '—'} |`,
    );
    console.log(`${values.images} JPEGs of about 1 MP; ${values.rounds} rounds, in turns\n`);
    console.log('| run | images/s (median) | each round | from start to exit |\n|---|---|---|---|');
    console.log(lines.join('\n'));
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
