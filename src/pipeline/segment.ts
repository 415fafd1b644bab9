// The u2netp session: created once, verified against the manifest, warmed before use.
import { existsSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import { isAcceptedDigest, readManifest, sha256File, type ModelManifest } from '../model/manifest.js';
import { MODEL_SIZE } from './preprocess.js';

export class ModelLoadError extends Error {
  override name = 'ModelLoadError';
}

const FETCH_HINT = 'run `npm run fetch-model` (with MODEL_MIRROR=<folder> to copy from a mirror)';

export interface SegmenterOptions {
  modelPath: string;
  threads: number;
  /** Keep onnxruntime's CPU memory arena (see sessionOptions). */
  arena?: boolean;
}

/**
 * The session options, chosen by measurement (see the README's Performance section): 'all' graph
 * optimisations (the lower levels save 70 MB of peak memory but cost 35 % of the time), one
 * intra-op thread per core, and no CPU memory arena unless asked for: the arena keeps 250 to 400 MB
 * more resident for a few percent of speed once large allocations use huge pages (RUNTIME_ENV). The
 * memory pattern stays on: it plans each inference's buffers as one block, which is then returned.
 */
export function sessionOptions(threads: number, arena = false): ort.InferenceSession.SessionOptions {
  return {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    enableCpuMemArena: arena,
    enableMemPattern: true,
    // onnxruntime's pool threads keep spinning after a run, waiting for more work, on the core the
    // row worker (row-pool.ts) needs right then: its half of the edge filter and the colour step
    // gained nothing until they stopped at the end of each run (README, Performance).
    extra: { session: { force_spinning_stop: '1' } },
  };
}

export class Segmenter {
  /** The inference now running, if any: inferences take turns (see predict). */
  private turn: Promise<unknown> = Promise.resolve();
  /** Told the seconds of every inference (its own run, not its wait for a turn). */
  private readonly observers = new Set<(seconds: number) => void>();

  private constructor(
    private readonly session: ort.InferenceSession,
    private readonly manifest: ModelManifest,
  ) {}

  /** Verifies the weights' digest and opens the session. Fails with a message that says how to fix it. */
  static async load({ modelPath, threads, arena = false }: SegmenterOptions): Promise<Segmenter> {
    const manifest = readManifest();
    if (!existsSync(modelPath)) throw new ModelLoadError(`model file not found at ${modelPath}: ${FETCH_HINT}`);
    const digest = await sha256File(modelPath);
    if (!isAcceptedDigest(manifest, digest)) {
      throw new ModelLoadError(`model file ${modelPath} is corrupt or unknown (sha256 ${digest}): ${FETCH_HINT}`);
    }
    let session: ort.InferenceSession;
    try {
      session = await ort.InferenceSession.create(modelPath, sessionOptions(threads, arena));
    } catch (error) {
      throw new ModelLoadError(`model file ${modelPath} could not be loaded: ${FETCH_HINT}`, { cause: error });
    }
    if (!session.inputNames.includes(manifest.input.name) || !session.outputNames.includes(manifest.output.name)) {
      await session.release();
      throw new ModelLoadError(`model file ${modelPath} does not have the manifest's input and output names: ${FETCH_HINT}`);
    }
    return new Segmenter(session, manifest);
  }

  /**
   * Runs the model on a normalised NCHW input; returns d0, the fused saliency map (MODEL_SIZE^2, 0..1).
   * One inference at a time: each already uses every core, so two at once would only slow both and
   * double the memory. Callers that overlap (several requests' CPU work) wait their turn here.
   */
  async predict(input: Float32Array): Promise<Float32Array> {
    const tensor = new ort.Tensor('float32', input, [1, 3, MODEL_SIZE, MODEL_SIZE]);
    const run = this.turn.then(async () => {
      const started = performance.now();
      try {
        return await this.session.run({ [this.manifest.input.name]: tensor }, [this.manifest.output.name]);
      } finally {
        const seconds = (performance.now() - started) / 1000;
        for (const observe of this.observers) observe(seconds);
      }
    });
    this.turn = run.catch(() => {});
    const outputs = await run;
    const d0 = outputs[this.manifest.output.name];
    if (!d0 || d0.type !== 'float32') throw new Error('the model returned no float32 saliency map');
    return d0.data as Float32Array;
  }

  /** Calls `observe` with the duration of each inference from now on; returns the function that stops it. */
  onInference(observe: (seconds: number) => void): () => void {
    this.observers.add(observe);
    return () => this.observers.delete(observe);
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
