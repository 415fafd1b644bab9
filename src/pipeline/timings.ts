// Stage timings for one request. The Server-Timing header and the request log read the same numbers.

export const STAGES = ['fetch', 'decode', 'infer', 'mask', 'refine', 'colour', 'encode'] as const;
export type Stage = (typeof STAGES)[number];

export class StageTimer {
  readonly started = performance.now();
  readonly durations: Partial<Record<Stage, number>> = {};

  /** Runs `work` and adds its duration to `stage`. */
  async time<T>(stage: Stage, work: () => T | Promise<T>): Promise<T> {
    const start = performance.now();
    try {
      return await work();
    } finally {
      this.durations[stage] = (this.durations[stage] ?? 0) + (performance.now() - start);
    }
  }

  total(): number {
    return performance.now() - this.started;
  }

  /** Milliseconds per stage, rounded to 0.1 ms, with the total. */
  summary(): Partial<Record<Stage | 'total', number>> {
    const rounded: Partial<Record<Stage | 'total', number>> = {};
    for (const stage of STAGES) {
      const duration = this.durations[stage];
      if (duration !== undefined) rounded[stage] = Math.round(duration * 10) / 10;
    }
    rounded.total = Math.round(this.total() * 10) / 10;
    return rounded;
  }

  /** The Server-Timing header value: `fetch;dur=12.3, decode;dur=4.5, ..., total;dur=250.1`. */
  serverTiming(): string {
    return Object.entries(this.summary())
      .map(([stage, duration]) => `${stage};dur=${duration}`)
      .join(', ');
  }
}
