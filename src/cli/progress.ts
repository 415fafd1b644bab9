// Progress on standard error (standard output may carry the image): on a terminal, one bar redrawn
// in place (done and total, images per second, time left, the current file); otherwise one plain
// line per image; with --quiet, only failures. Then a summary.
import type { ReportEntry } from './report.js';

export type ProgressMode = 'bar' | 'lines' | 'quiet';

export interface ProgressStream {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export const progressMode = (stream: ProgressStream, quiet: boolean): ProgressMode => (quiet ? 'quiet' : stream.isTTY ? 'bar' : 'lines');

/** 75 -> "1:15", 3725 -> "1:02:05". */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const hours = Math.floor(s / 3600);
  const minutes = Math.floor((s % 3600) / 60);
  const rest = String(s % 60).padStart(2, '0');
  return hours > 0 ? `${hours}:${String(minutes).padStart(2, '0')}:${rest}` : `${minutes}:${rest}`;
}

const BAR_WIDTH = 20;
/** Carriage return and erase the line: the bar is redrawn over itself. */
const REDRAW = '\r\x1b[2K';

export interface Counts {
  done: number;
  skipped: number;
  failed: number;
}

export class Progress {
  private total = 0;
  private readonly counts: Counts = { done: 0, skipped: 0, failed: 0 };
  /** Inputs being worked on, oldest first: the bar names the oldest. */
  private readonly running = new Set<string>();
  private firstStart: number | undefined;
  private barShown = false;
  private readonly ticker: NodeJS.Timeout | undefined;

  constructor(
    private readonly stream: ProgressStream,
    readonly mode: ProgressMode,
    private readonly now: () => number = () => performance.now(),
  ) {
    // The rate and time left move while a slow image runs.
    if (mode === 'bar') this.ticker = setInterval(() => this.draw(), 1000).unref();
  }

  /** More inputs are known (a folder scanned, a file arrived). */
  planned(count: number): void {
    this.total += count;
    this.draw();
  }

  started(input: string): void {
    this.firstStart ??= this.now();
    this.running.add(input);
    this.draw();
  }

  /** An input that will not be worked on after all (stopped while waiting for its turn). */
  abandoned(input: string): void {
    this.running.delete(input);
    this.total--;
    this.draw();
  }

  finished(entry: ReportEntry): void {
    this.running.delete(entry.input);
    this.counts[entry.status]++;
    if (this.mode === 'lines') this.stream.write(`${describe(entry)}\n`);
    else if (entry.status === 'failed') this.above(describe(entry)); // on a terminal too, as it happens
    this.draw();
  }

  /** Images worked on (done or failed) per second since the first started; undefined for the first second, which says too little. */
  rate(): number | undefined {
    const worked = this.counts.done + this.counts.failed;
    if (this.firstStart === undefined || worked === 0) return undefined;
    const seconds = (this.now() - this.firstStart) / 1000;
    return seconds < 1 ? undefined : worked / seconds;
  }

  /** The bar's line: fits `columns`. */
  barLine(columns: number): string {
    const finished = this.counts.done + this.counts.skipped + this.counts.failed;
    const share = this.total === 0 ? 0 : Math.min(1, finished / this.total);
    const filled = Math.round(share * BAR_WIDTH);
    const rate = this.rate();
    const left = rate ? `${formatDuration((this.total - finished) / rate)} left` : '--:-- left';
    const current = this.running.values().next().value ?? '';
    const line = `[${'#'.repeat(filled)}${'-'.repeat(BAR_WIDTH - filled)}] ${finished}/${this.total}  ${rate === undefined ? '--' : rate.toFixed(1)} img/s  ${left}  ${current}`;
    return line.length < columns ? line : `${line.slice(0, Math.max(0, columns - 2))}…`;
  }

  /** Clears the bar and prints the summary; failures are listed (with --quiet, only they are). */
  end(entries: readonly ReportEntry[], seconds: number): void {
    if (this.ticker) clearInterval(this.ticker);
    if (this.barShown) this.stream.write(REDRAW);
    this.barShown = false;
    const failures = entries.filter((entry) => entry.status === 'failed');
    if (this.mode === 'quiet') {
      for (const entry of failures) this.stream.write(`${describe(entry)}\n`);
      return;
    }
    this.stream.write(`${summaryLine(this.counts, seconds)}\n`);
    for (const entry of failures) this.stream.write(`  ${entry.input}: ${entry.error!.code}: ${entry.error!.message}\n`);
  }

  /** A line of its own (above the bar on a terminal); none with --quiet. */
  note(text: string): void {
    this.above(text);
    this.draw();
  }

  private above(text: string): void {
    if (this.mode === 'quiet') return;
    if (this.barShown) this.stream.write(REDRAW);
    this.barShown = false;
    this.stream.write(`${text}\n`);
  }

  private draw(): void {
    if (this.mode !== 'bar' || this.total === 0) return;
    this.stream.write(REDRAW + this.barLine(this.stream.columns || 80));
    this.barShown = true;
  }
}

export function summaryLine(counts: Counts, seconds: number): string {
  const worked = counts.done + counts.failed;
  const rate = seconds > 0 && worked > 0 ? `, ${(worked / seconds).toFixed(2)} images/s` : '';
  return `done ${counts.done}, skipped ${counts.skipped}, failed ${counts.failed} (${seconds.toFixed(1)} s${rate})`;
}

/** One line about one input. */
export function describe(entry: ReportEntry): string {
  switch (entry.status) {
    case 'done':
      return `done ${entry.input} -> ${entry.output} (${entry.width}x${entry.height} -> ${entry.outputWidth}x${entry.outputHeight}, ${Math.round(entry.stages?.total ?? 0)} ms)`;
    case 'skipped':
      return `skipped ${entry.input} (${entry.reason})`;
    case 'failed':
      return `failed ${entry.input}: ${entry.error!.code}: ${entry.error!.message}`;
  }
}
