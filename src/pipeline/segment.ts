// The u2netp session: created once, verified against the manifest, warmed before use.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { Worker } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import { isAcceptedDigest, readManifest } from '../model/manifest.js';
import { splitConcatConvs } from '../model/split-concats.js';
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
  /** Run the session on a worker thread (inference-worker.ts) so the event loop keeps going; unset, on this thread. */
  worker?: boolean;
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

/** What a session is opened with, on this thread or in a worker (inference-worker.ts). */
export interface SessionSpec {
  /** The model's bytes, verified and rewritten (see Segmenter.load). */
  model: Uint8Array;
  /** For messages only. */
  modelPath: string;
  threads: number;
  arena: boolean;
  inputName: string;
  outputName: string;
}

/** The session's inference of d0 for a normalised NCHW input, on this thread or another. */
export interface Runner {
  run(input: Float32Array): Promise<Float32Array>;
  release(): Promise<void>;
}

/** Opens the session (on the calling thread); fails with a ModelLoadError that says how to fix it. */
export async function openSession(spec: SessionSpec): Promise<Runner> {
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(spec.model, sessionOptions(spec.threads, spec.arena));
  } catch (error) {
    throw new ModelLoadError(`model file ${spec.modelPath} could not be loaded: ${FETCH_HINT}`, { cause: error });
  }
  if (!session.inputNames.includes(spec.inputName) || !session.outputNames.includes(spec.outputName)) {
    await session.release();
    throw new ModelLoadError(`model file ${spec.modelPath} does not have the manifest's input and output names: ${FETCH_HINT}`);
  }
  const { inputName, outputName } = spec; // not the spec: the runner would keep the model's bytes alive
  return {
    async run(input) {
      const outputs = await session.run({ [inputName]: new ort.Tensor('float32', input, [1, 3, MODEL_SIZE, MODEL_SIZE]) }, [outputName]);
      const d0 = outputs[outputName];
      if (!d0 || d0.type !== 'float32') throw new Error('the model returned no float32 saliency map');
      return d0.data as Float32Array;
    },
    release: () => session.release(),
  };
}

/** The worker's first message: its session is open, or why it is not. */
export type WorkerReady = { kind: 'ready' } | { kind: 'failed'; message: string };
export type WorkerAnswer = { id: number; output: Float32Array } | { id: number; error: string };

/**
 * The session in a worker thread (inference-worker.ts), so that the event loop keeps serving while
 * the model runs. The main thread posts the input (1.2 MB, copied: the caller may read it again)
 * and gets d0 back (0.4 MB, moved). A worker that dies fails the inference it was running (that
 * request answers 500) and another is started, with a fresh session, for the next one.
 */
class SessionWorker implements Runner {
  private worker: Promise<Worker> | undefined;
  private nextId = 0;
  private readonly pending = new Map<number, { resolve: (output: Float32Array) => void; reject: (error: Error) => void }>();
  private closed = false;

  private constructor(private readonly spec: SessionSpec) {}

  static async start(spec: SessionSpec): Promise<SessionWorker> {
    const runner = new SessionWorker(spec);
    await runner.started();
    return runner;
  }

  /** The worker, started (from source under the test runner, from dist/ otherwise) if none is up. */
  private started(): Promise<Worker> {
    this.worker ??= new Promise<Worker>((resolve, reject) => {
      const file = import.meta.url.endsWith('.ts') ? './inference-worker.ts' : './inference-worker.js';
      const worker = new Worker(new URL(file, import.meta.url), { workerData: this.spec });
      let cause: Error | undefined;
      worker.on('error', (error) => (cause ??= error));
      worker.once('message', (ready: WorkerReady) => {
        if (ready.kind === 'failed') {
          reject(new ModelLoadError(ready.message));
          void worker.terminate();
          return;
        }
        worker.on('message', (answer: WorkerAnswer) => this.answer(worker, answer));
        worker.unref(); // idle, it does not keep the process alive; with an inference out, it does
        resolve(worker);
      });
      worker.on('exit', (code) => {
        const error = cause ?? new Error(`inference worker exited (${code})`);
        reject(error); // if it died before its session was open
        for (const task of this.pending.values()) task.reject(error);
        this.pending.clear();
        this.worker = undefined; // the next inference starts another
      });
    });
    return this.worker;
  }

  private answer(worker: Worker, answer: WorkerAnswer): void {
    const task = this.pending.get(answer.id);
    this.pending.delete(answer.id);
    if (this.pending.size === 0) worker.unref();
    if ('error' in answer) task?.reject(new Error(answer.error));
    else task?.resolve(answer.output);
  }

  async run(input: Float32Array): Promise<Float32Array> {
    if (this.closed) throw new Error('the model session is released');
    const worker = await this.started();
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      worker.ref();
      worker.postMessage({ id, input });
    });
  }

  async release(): Promise<void> {
    this.closed = true;
    const worker = await this.worker?.catch(() => undefined);
    await worker?.terminate();
  }
}

export class Segmenter {
  /** The inference now running, if any: inferences take turns (see predict). */
  private turn: Promise<unknown> = Promise.resolve();
  /** Told the seconds of every inference (its own run, not its wait for a turn). */
  private readonly observers = new Set<(seconds: number) => void>();

  private constructor(private readonly runner: Runner) {}

  /**
   * Verifies the weights' digest, rewrites the graph to its leaner equivalent (split-concats.ts) and
   * opens the session. Fails with a message that says how to fix it.
   */
  static async load({ modelPath, threads, arena = false, worker = false }: SegmenterOptions): Promise<Segmenter> {
    const manifest = readManifest();
    if (!existsSync(modelPath)) throw new ModelLoadError(`model file not found at ${modelPath}: ${FETCH_HINT}`);
    const bytes = await readFile(modelPath);
    const digest = createHash('sha256').update(bytes).digest('hex');
    if (!isAcceptedDigest(manifest, digest)) {
      throw new ModelLoadError(`model file ${modelPath} is corrupt or unknown (sha256 ${digest}): ${FETCH_HINT}`);
    }
    const { model } = splitConcatConvs(bytes);
    const spec: SessionSpec = { model, modelPath, threads, arena, inputName: manifest.input.name, outputName: manifest.output.name };
    return new Segmenter(worker ? await SessionWorker.start(spec) : await openSession(spec));
  }

  /**
   * Runs the model on a normalised NCHW input; returns d0, the fused saliency map (MODEL_SIZE^2, 0..1).
   * One inference at a time: each already uses every core, so two at once would only slow both and
   * double the memory. Callers that overlap (several requests' CPU work) wait their turn here.
   */
  async predict(input: Float32Array): Promise<Float32Array> {
    const run = this.turn.then(async () => {
      const started = performance.now();
      try {
        return await this.runner.run(input);
      } finally {
        const seconds = (performance.now() - started) / 1000;
        for (const observe of this.observers) observe(seconds);
      }
    });
    this.turn = run.catch(() => {});
    return run;
  }

  /** Calls `observe` with the duration of each inference from now on; returns the function that stops it. */
  onInference(observe: (seconds: number) => void): () => void {
    this.observers.add(observe);
    return () => this.observers.delete(observe);
  }

  async release(): Promise<void> {
    await this.runner.release();
  }
}
