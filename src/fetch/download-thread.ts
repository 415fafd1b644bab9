// Downloads on a worker thread (download-worker.ts), so the main thread keeps V8's fast path for
// the typed-array loops of every request after it.
//
// undici parses HTTP with llhttp compiled to WebAssembly, and the first response it parses grows
// that module's memory. Growing a WebAssembly memory detaches its old ArrayBuffer, and the first
// ArrayBuffer detached in a thread turns off, for the rest of that thread's life, V8's assumption
// that none ever is: from then on every typed-array access in optimised code checks for it. On the
// main thread, after one image_url request, a 1 MP request's edge filter took 30.5 instead of 26 ms,
// its colour step 16.8 instead of 14.3, its mask 5.2 instead of 4.2 and its PNG 11.1 instead of
// 10.1 (about 8 ms a request, measured in one process before and after a download). Bytes moved
// here from the worker are not detached on this side, so the worker alone pays it, where it costs
// nothing. DOWNLOAD_WORKER=false downloads on the main thread instead (one thread less to hold).
import { Worker } from 'node:worker_threads';
import type { Config } from '../config.js';
import { ServiceError, type ErrorCode } from '../errors.js';
import type { DownloadOptions, ImageDownloader } from './download.js';

export type DownloadMessage = { kind: 'download'; id: number; source: string } | { kind: 'abort'; id: number };
/** An error as the worker sends it: a ServiceError's code, message and cause, or a fault's message. */
export interface SentError {
  code?: ErrorCode;
  message: string;
  cause?: { name: string; message: string; code?: string };
}
export type DownloadAnswer = { id: number; bytes: Uint8Array } | { id: number; error: SentError };

/** The error the worker's answer describes, rebuilt on this side. */
function received({ code, message, cause }: SentError): Error {
  if (code === undefined) return new Error(`download worker: ${message}`);
  const rebuilt = cause && Object.assign(new Error(cause.message), { name: cause.name }, cause.code !== undefined && { code: cause.code });
  return new ServiceError(code, message, { cause: rebuilt });
}

export class DownloadThread implements ImageDownloader {
  private worker: Worker | undefined;
  private nextId = 0;
  private readonly pending = new Map<number, { resolve: (bytes: Buffer) => void; reject: (error: unknown) => void }>();
  private closed = false;

  /** Starts the worker now, so the first download does not wait for it. (Guard doubles stay in-process: functions do not cross threads.) */
  constructor(private readonly options: Omit<DownloadOptions, 'guard'>) {
    this.started();
  }

  /** The worker, started (from source under the test runner, from dist/ otherwise) if none is up. */
  private started(): Worker {
    if (this.worker) return this.worker;
    const file = import.meta.url.endsWith('.ts') ? './download-worker.ts' : './download-worker.js';
    const worker = new Worker(new URL(file, import.meta.url), { workerData: this.options });
    worker.on('message', (answer: DownloadAnswer) => {
      const task = this.pending.get(answer.id);
      this.pending.delete(answer.id);
      if (this.pending.size === 0) worker.unref();
      if ('error' in answer) task?.reject(received(answer.error));
      else task?.resolve(Buffer.from(answer.bytes.buffer, answer.bytes.byteOffset, answer.bytes.byteLength));
    });
    // 'error' (an uncaught exception) is followed by 'exit': the downloads it held fail (500) and
    // the next download starts another worker.
    let cause: Error | undefined;
    worker.on('error', (error) => (cause ??= error));
    worker.on('exit', (code) => {
      const error = cause ?? new Error(`download worker exited (${code})`);
      for (const task of this.pending.values()) task.reject(error);
      this.pending.clear();
      if (this.worker === worker) this.worker = undefined;
    });
    worker.unref(); // idle, it does not keep the process alive; with a download out, it does
    this.worker = worker;
    return worker;
  }

  download(source: string, signal?: AbortSignal): Promise<Buffer> {
    if (this.closed) return Promise.reject(new Error('the downloader is closed'));
    if (signal?.aborted) return Promise.reject(signal.reason);
    const worker = this.started();
    const id = this.nextId++;
    return new Promise<Buffer>((resolve, reject) => {
      const abort = (): void => {
        if (!this.pending.delete(id)) return;
        if (this.pending.size === 0) worker.unref();
        worker.postMessage({ kind: 'abort', id } satisfies DownloadMessage);
        reject(signal!.reason);
      };
      signal?.addEventListener('abort', abort, { once: true });
      const settled = (): void => signal?.removeEventListener('abort', abort);
      this.pending.set(id, {
        resolve: (bytes) => (settled(), resolve(bytes)),
        reject: (error) => (settled(), reject(error)),
      });
      worker.ref();
      worker.postMessage({ kind: 'download', id, source } satisfies DownloadMessage);
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.worker?.terminate();
  }
}

/** The download limits the settings describe. */
export function downloadOptions(config: Config): Omit<DownloadOptions, 'guard'> {
  return {
    maxBytes: config.MAX_DOWNLOAD_BYTES,
    timeoutMs: config.FETCH_TIMEOUT_MS,
    connectTimeoutMs: config.CONNECT_TIMEOUT_MS,
    headersTimeoutMs: config.HEADERS_TIMEOUT_MS,
    maxRedirects: config.MAX_REDIRECTS,
    allowedHosts: config.ALLOWED_HOSTS,
    allowPrivateNetworks: config.ALLOW_PRIVATE_NETWORKS,
  };
}

/** The downloader the settings describe (the service's and the command line's): on its own thread (DOWNLOAD_WORKER) or on this one. */
export async function startDownloader(config: Config): Promise<ImageDownloader> {
  if (config.DOWNLOAD_WORKER) return new DownloadThread(downloadOptions(config));
  // Loaded only here: undici costs a thread about 20 MB resident, which the worker's thread pays instead.
  const { Downloader } = await import('./download.js');
  return new Downloader(downloadOptions(config));
}
