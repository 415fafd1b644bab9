// The page's own queue: at most `limit` requests at a time (one can upload while the service works
// on another; more would only wait in the service's queue and take its places from other callers), and the rules for one request: a busy
// service (503 with Retry-After) is asked again after the delay it gave, a missing or wrong API key
// is asked for once however many requests met it, and anything else is a failure with a message.
// No DOM here (unit-tested in Node).
import type { Verdict } from './answers.js';
import type { KeyGate } from './keys.js';

/** Runs jobs at most `limit` at a time, in the order they were given. */
export class JobQueue {
  #running = 0;
  readonly #waiting: (() => void)[] = [];

  constructor(readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError('the limit must be a whole number of 1 or more');
  }

  get running(): number {
    return this.#running;
  }

  get waiting(): number {
    return this.#waiting.length;
  }

  /** Runs `job` once a place is free. A job whose signal fires while it waits never starts (the promise rejects with the reason). */
  async run<T>(job: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    await this.#place(signal);
    try {
      return await job();
    } finally {
      this.#running--;
      if (this.#running < this.limit) this.#waiting.shift()?.();
    }
  }

  #place(signal: AbortSignal | undefined): Promise<void> {
    signal?.throwIfAborted();
    if (this.#running < this.limit) {
      this.#running++;
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const start = (): void => {
        signal?.removeEventListener('abort', leave);
        this.#running++;
        resolve();
      };
      const leave = (): void => {
        const index = this.#waiting.indexOf(start);
        if (index >= 0) this.#waiting.splice(index, 1);
        reject(signal!.reason);
      };
      this.#waiting.push(start);
      signal?.addEventListener('abort', leave, { once: true });
    });
  }
}

/** One try's outcome: the value, or why there is none. */
export type Sent<T> = { kind: 'ok'; value: T } | Exclude<Verdict, { kind: 'ok' }>;

/** A failure says whether trying again (the same image, the same options) could succeed. */
export type Settled<T> = { ok: true; value: T } | { ok: false; message: string; retry: boolean };

export interface RetryRules {
  /** Times a busy service is asked again before the card gives up. */
  maxBusyRetries: number;
  /** A Retry-After longer than this is not waited for: the card fails with the service's message. */
  maxWaitSeconds: number;
  /** Times a new key is tried after a 401 (each one asked of the person, or given by another card). */
  maxKeyTries: number;
}

export const RETRY_RULES: Readonly<RetryRules> = Object.freeze({ maxBusyRetries: 5, maxWaitSeconds: 600, maxKeyTries: 5 });

export interface SettleContext {
  keys: KeyGate;
  /** Waits `ms`, or rejects with the signal's reason when it fires first. */
  sleep(ms: number, signal: AbortSignal): Promise<void>;
  signal: AbortSignal;
  /** Told before each wait for a busy service. */
  onBusy?(seconds: number, retry: number): void;
  /** Told before waiting for a key after a 401. */
  onKeyNeeded?(): void;
}

/** Sends (with the current key) until there is a result or a reason to stop. */
export async function settle<T>(
  send: (key: string | null) => Promise<Sent<T>>,
  context: SettleContext,
  rules: RetryRules = RETRY_RULES,
): Promise<Settled<T>> {
  let busyRetries = 0;
  let keyTries = 0;
  for (;;) {
    context.signal.throwIfAborted();
    const key = context.keys.current();
    const sent = await send(key);
    switch (sent.kind) {
      case 'ok':
        return { ok: true, value: sent.value };
      case 'failed':
        return { ok: false, message: sent.message, retry: sent.retry };
      case 'busy': {
        if (busyRetries >= rules.maxBusyRetries) return { ok: false, message: `${sent.message} (still busy after ${busyRetries} retries)`, retry: true };
        if (sent.retryAfterSeconds > rules.maxWaitSeconds) return { ok: false, message: sent.message, retry: true };
        busyRetries++;
        context.onBusy?.(sent.retryAfterSeconds, busyRetries);
        await context.sleep(sent.retryAfterSeconds * 1000, context.signal);
        break;
      }
      case 'unauthorized': {
        if (keyTries >= rules.maxKeyTries) return { ok: false, message: sent.message, retry: true };
        keyTries++;
        context.onKeyNeeded?.();
        const next = await context.keys.next(key, sent.message);
        if (next === null) return { ok: false, message: sent.message, retry: true };
        break;
      }
    }
  }
}
