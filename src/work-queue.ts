// Admission and a bounded queue for the CPU work (decode, inference, encode).
//
// A request is admitted when it arrives, before it downloads anything: at most `concurrency`
// requests run CPU work at once and at most `queueLimit` more wait (downloading or queued). Past
// that the service refuses at once with 503 and a Retry-After, so memory stays bounded by the
// number of admitted requests, not by the number of clients. Waiting honours an abort signal (the
// client left, the deadline passed), and nothing waits forever.
//
// Requests may name their client (an API key's label). A client then holds at most its share of
// the places (slots and queue together), so one client's burst is refused with 429 while the
// others keep theirs; and it may be limited to so many admissions a minute, over a sliding window.
// Both live here rather than in a rate-limit library because admission is where the places are
// counted: a refusal for the share needs the queue's own count of the client's requests.
import { ServiceError } from './errors.js';

export interface QueueOptions {
  /** Fraction (0..1] of all places one client may hold at once; 1 leaves clients unlimited. */
  clientShare?: number;
  /** Admissions per client in any 60 s; 0 leaves them unlimited. */
  clientRatePerMinute?: number;
  /** The clock, in ms; tests move it. */
  now?: () => number;
}

/** A client's rate-limit state, as the RateLimit-* headers say it. */
export interface RateLimitState {
  limit: number;
  remaining: number;
  /** Seconds until the oldest request in the window leaves it (one more may then be made); 0 when none is in it. */
  resetSeconds: number;
}

const WINDOW_MS = 60_000;

/** One client's requests: those admitted now, and the admission times still in the rate window. */
class ClientState {
  admitted = 0;
  /** A ring of admission times, oldest at `head`: a sliding-window log as long as the limit. */
  private readonly times: Float64Array;
  private head = 0;
  private count = 0;

  constructor(readonly rateLimit: number) {
    this.times = new Float64Array(rateLimit);
  }

  /** Forgets admissions older than the window; returns the state at `now`. */
  rate(now: number): RateLimitState {
    while (this.count > 0 && this.times[this.head]! <= now - WINDOW_MS) {
      this.head = (this.head + 1) % this.rateLimit;
      this.count--;
    }
    const resetSeconds = this.count === 0 ? 0 : Math.max(1, Math.ceil((this.times[this.head]! + WINDOW_MS - now) / 1000));
    return { limit: this.rateLimit, remaining: this.rateLimit - this.count, resetSeconds };
  }

  record(now: number): void {
    this.times[(this.head + this.count) % this.rateLimit] = now;
    this.count++;
  }
}

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
  /** Places one client may hold; Infinity when clients are not limited. */
  readonly clientPlaces: number;
  private readonly clientRate: number;
  /** One entry per client ever seen: the callers name a bounded set (the configured keys). */
  private readonly clients = new Map<string, ClientState>();
  private readonly now: () => number;
  /** Told how long each job waited for its slots (0 when it started at once), and for which client. */
  onWaited: ((client: string | undefined, ms: number) => void) | undefined;

  constructor(
    readonly concurrency: number,
    readonly queueLimit: number,
    options: QueueOptions = {},
  ) {
    const share = options.clientShare ?? 1;
    this.clientPlaces = share >= 1 ? Infinity : Math.max(1, Math.floor(share * (concurrency + queueLimit)));
    this.clientRate = options.clientRatePerMinute ?? 0;
    this.now = options.now ?? Date.now;
  }

  /**
   * Takes a place for a new request of `client` (none: not counted per client), or throws
   * `not_ready` while draining, `rate_limited` when the client is over its rate or its share, and
   * `overloaded` when every place is taken. A request the rate limit lets through counts against
   * it, whatever happens to it next.
   */
  admit(client?: string): Ticket {
    if (this.draining) throw new ServiceError('not_ready', 'the service is shutting down', { headers: { 'retry-after': '1' } });
    const state = client === undefined ? undefined : this.client(client);
    if (state && this.clientRate > 0) {
      const now = this.now();
      const rate = state.rate(now);
      if (rate.remaining === 0) {
        throw new ServiceError('rate_limited', `this API key made ${rate.limit} requests in the last minute, its limit; retry later`, {
          headers: { 'retry-after': String(rate.resetSeconds) },
        });
      }
      state.record(now);
    }
    if (state && state.admitted >= this.clientPlaces) {
      throw new ServiceError('rate_limited', `this API key has ${state.admitted} requests in progress, its share of the queue; retry later`, {
        headers: { 'retry-after': String(this.retryAfterSeconds()) },
      });
    }
    if (this.admitted >= this.concurrency + this.queueLimit) {
      this.rejected++;
      throw new ServiceError('overloaded', 'the service is busy; retry later', {
        headers: { 'retry-after': String(this.retryAfterSeconds()) },
      });
    }
    this.admitted++;
    if (state) state.admitted++;
    return new Ticket(this, client);
  }

  /** The client's rate-limit state now, or undefined when there is no rate limit. */
  rateLimit(client: string): RateLimitState | undefined {
    return this.clientRate > 0 ? this.client(client).rate(this.now()) : undefined;
  }

  /** Requests of `client` admitted and not yet done. */
  admittedFor(client: string): number {
    return this.clients.get(client)?.admitted ?? 0;
  }

  private client(name: string): ClientState {
    let state = this.clients.get(name);
    if (!state) this.clients.set(name, (state = new ClientState(this.clientRate)));
    return state;
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
  async runJob<T>(work: () => Promise<T>, signal?: AbortSignal, slots = 1, client?: string): Promise<T> {
    signal?.throwIfAborted();
    const needed = Math.min(Math.max(1, slots), this.concurrency);
    const arrived = performance.now();
    if (this.slotsInUse + needed > this.concurrency || this.waiting.length > 0) await this.waitForSlots(needed, signal);
    else this.slotsInUse += needed;
    this.runningJobs++;
    const started = performance.now();
    this.onWaited?.(client, started - arrived);
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
  release(client?: string): void {
    this.admitted--;
    if (client !== undefined) this.clients.get(client)!.admitted--;
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

  constructor(
    private readonly queue: WorkQueue,
    /** The client the place is counted for, if any. */
    readonly client?: string,
  ) {}

  /**
   * Runs CPU work in `slots` slots (a large image takes more, so fewer run beside it). Rejects with
   * the signal's reason if it aborts while waiting.
   */
  run<T>(work: () => Promise<T>, signal?: AbortSignal, slots = 1): Promise<T> {
    return this.queue.runJob(work, signal, slots, this.client);
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    this.queue.release(this.client);
  }
}
