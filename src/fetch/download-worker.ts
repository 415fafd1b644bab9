// The downloader on a thread of its own (download-thread.ts, DOWNLOAD_WORKER). Each download's
// bytes are moved to the main thread, not copied; the aborts the main thread sends stop them here.
import v8 from 'node:v8';
import vm from 'node:vm';
import { parentPort, workerData } from 'node:worker_threads';
import { ServiceError } from '../errors.js';
import { Downloader, type DownloadOptions } from './download.js';
import type { DownloadAnswer, DownloadMessage, SentError } from './download-thread.js';

// A download leaves its body's chunks behind (2 MB at 12 MP, in 64 KiB buffers), and this thread
// allocates too little else for its collector to run soon: a young-generation collection once no
// download is running frees them. (As in row-worker.ts, the flag exposes gc() only to contexts
// made after it, such as this one.)
v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as (options: { type: 'minor' }) => void;

const port = parentPort!;
const downloader = new Downloader(workerData as DownloadOptions);
const running = new Map<number, AbortController>();

/** What the main thread needs of an error: a ServiceError's code and message, and its cause for the log. */
function sent(error: unknown): SentError {
  if (!(error instanceof ServiceError)) return { message: error instanceof Error ? error.message : String(error) };
  const { cause } = error;
  if (!(cause instanceof Error)) return { code: error.code, message: error.message };
  const { code } = cause as Error & { code?: unknown }; // a system error's (ECONNREFUSED)
  return { code: error.code, message: error.message, cause: { name: cause.name, message: cause.message, ...(typeof code === 'string' && { code }) } };
}

port.on('message', (message: DownloadMessage) => {
  if (message.kind === 'abort') {
    running.get(message.id)?.abort();
    return;
  }
  const { id, source } = message;
  const controller = new AbortController();
  running.set(id, controller);
  downloader
    .download(source, controller.signal)
    .then(
      (bytes) => {
        // A body of its own ArrayBuffer is moved; a small one inside Node's shared pool is copied.
        const owned = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength;
        port.postMessage({ id, bytes } satisfies DownloadAnswer, owned ? [bytes.buffer as ArrayBuffer] : []);
      },
      (error: unknown) => {
        if (!controller.signal.aborted) port.postMessage({ id, error: sent(error) } satisfies DownloadAnswer);
      },
    )
    .finally(() => {
      running.delete(id);
      if (running.size === 0) gc({ type: 'minor' });
    });
});
