// Admission and a bounded queue for the CPU work (decode, inference, encode).
//
// A request is admitted when it arrives, before it downloads anything: at most `concurrency`
// requests run CPU work at once and at most `queueLimit` more wait (downloading or queued). Past
// that the service refuses at once with 503 and a Retry-After, so memory stays bounded by the
// number of admitted requests, not by the number of clients. Waiting honours an abort signal (the
// client left, the deadline passed), and nothing waits forever.
import { ServiceError } from './errors.js';

export interface QueueStats {
  /** Requests admitted and not yet done: running, queued or downloading. */
  admitted: number;
  running: number;
  queued: number;
  /** Requests refused because every place was taken. */
  rejected: number;
  /** Jobs that ran to the end (successfully or not). */
  completed: number;
}

export class WorkQueue {
  /** Slots taken by running jobs (a job takes one or more). */
  private slotsInUse = 0;
  private runningJobs = 0;
  private admitted = 0;
  private rejected = 0;
  private completed = 0;
  private draining = false;
  private readonly waiting: { slots: number; start: () => void }[] = [];
  private idleWaiters: (() => void)[] = [];
  /** Moving average of one job's duration, for Retry-After. Starts near one u2netp request. */
  private averageJobMs = 400;

  constructor(
    readonly concurrency: number,
    readonly queueLimit: number,
  ) {}

  /** Takes a place for a new request, or throws `overloaded` (or `not_ready` while draining). */
  admit(): Ticket {
    if (this.draining) throw new ServiceError('not_ready', 'the service is shutting down', { headers: { 'retry-after': '1' } });
    if (this.admitted >= this.concurrency + this.queueLimit) {
      this.rejected++;
      throw new ServiceError('overloaded', 'the service is busy; retry later', {
        headers: { 'retry-after': String(this.retryAfterSeconds()) },
      });
    }
    this.admitted++;
    return new Ticket(this);
  }

  /** Seconds after which a refused request has a fair chance: the work ahead of it, spread over the slots. */
  retryAfterSeconds(): number {
    return Math.max(1, Math.ceil((this.admitted * this.averageJobMs) / this.concurrency / 1000));
  }

  get stats(): QueueStats {
    return { admitted: this.admitted, running: this.runningJobs, queued: this.waiting.length, rejected: this.rejected, completed: this.completed };
  }

  get isDraining(): boolean {
    return this.draining;
  }

  /** Stops admitting new requests (for shutdown); those admitted carry on. */
  drain(): void {
    this.draining = true;
  }

  /** Resolves once no admitted request is left. */
  idle(): Promise<void> {
    if (this.admitted === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** @internal Runs `work` in `slots` slots (at most all of them), after waiting for them if need be. */
  async runJob<T>(work: () => Promise<T>, signal?: AbortSignal, slots = 1): Promise<T> {
    signal?.throwIfAborted();
    const needed = Math.min(Math.max(1, slots), this.concurrency);
    if (this.slotsInUse + needed > this.concurrency || this.waiting.length > 0) await this.waitForSlots(needed, signal);
    else this.slotsInUse += needed;
    this.runningJobs++;
    const started = performance.now();
    try {
      return await work();
    } finally {
      this.averageJobMs = 0.8 * this.averageJobMs + 0.2 * (performance.now() - started);
      this.completed++;
      this.runningJobs--;
      this.slotsInUse -= needed;
      this.startWaiters();
    }
  }

  /**
   * Starts waiters in order while they fit. One that does not fit holds the line: nothing overtakes
   * it, so a large job is not starved by a stream of small ones.
   */
  private startWaiters(): void {
    while (this.waiting.length > 0 && this.slotsInUse + this.waiting[0]!.slots <= this.concurrency) this.waiting.shift()!.start();
  }

  /** @internal */
  release(): void {
    this.admitted--;
    if (this.admitted === 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const resolve of waiters) resolve();
    }
  }

  /** Waits in line; the slots are taken when the job that frees them starts this one. */
  private waitForSlots(slots: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      const entry = {
        slots,
        start: () => {
          signal?.removeEventListener('abort', leave);
          this.slotsInUse += slots;
          resolve();
        },
      };
      const leave = () => {
        const index = this.waiting.indexOf(entry);
        if (index >= 0) this.waiting.splice(index, 1);
        this.startWaiters(); // it may have been holding the line
        reject(signal!.reason);
      };
      this.waiting.push(entry);
      signal?.addEventListener('abort', leave, { once: true });
    });
  }
}

/** One admitted request's place. Release it exactly once when the request is done, whatever happened. */
export class Ticket {
  private released = false;

  constructor(private readonly queue: WorkQueue) {}

  /**
   * Runs CPU work in `slots` slots (a large image takes more, so fewer run beside it). Rejects with
   * the signal's reason if it aborts while waiting.
   */
  run<T>(work: () => Promise<T>, signal?: AbortSignal, slots = 1): Promise<T> {
    return this.queue.runJob(work, signal, slots);
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    this.queue.release();
  }
}
