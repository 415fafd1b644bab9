// One entry per input, for the summary and the --json report: what became of it and why.
import { ServiceError, type ErrorCode } from '../errors.js';
import type { RemovalResult } from '../pipeline/index.js';
import type { Stage } from '../pipeline/timings.js';

/**
 * Failures only the command line has (the service's own codes keep their meaning): an input that
 * cannot be read, a result that cannot be written, two inputs whose results would share a name.
 */
export const CLI_ERRORS = {
  read_failed: 'The input file cannot be read (gone, a folder, no permission); the message has the system\'s code.',
  write_failed: 'The result cannot be written (no permission, disk full, standard output closed); the message has the system\'s code.',
  output_conflict: 'The result would have the name of another input\'s result (photo.jpg and photo.png both make photo.png), or of another input of the same run; neither is written over.',
} as const;
export type CliErrorCode = keyof typeof CLI_ERRORS;

export class CliError extends Error {
  override name = 'CliError';
  constructor(
    readonly code: CliErrorCode,
    message: string,
    options: { cause?: unknown } = {},
  ) {
    super(message, options);
  }
}

export type EntryStatus = 'done' | 'skipped' | 'failed';

/** What the pipeline says about a result (everything but the image's bytes), as the report gives it. */
export type ResultFacts = Omit<RemovalResult, 'image'>;

export interface ReportEntry extends Partial<ResultFacts> {
  input: string;
  status: EntryStatus;
  /** The result's path, or `-` for standard output. */
  output?: string;
  /** Why an input was skipped. */
  reason?: string;
  /** The result's size in bytes. */
  bytes?: number;
  /** Milliseconds per stage (fetch is reading the file or downloading it), with the total. */
  stages?: Partial<Record<Stage | 'total', number>>;
  error?: { code: ErrorCode | CliErrorCode; message: string };
}

/** An error as the report's code and message. Unexpected ones are `internal`, with their message: the user owns the machine. */
export function errorOf(error: unknown): { code: ErrorCode | CliErrorCode; message: string } {
  if (error instanceof ServiceError || error instanceof CliError) return { code: error.code, message: error.message };
  return { code: 'internal', message: error instanceof Error ? error.message : String(error) };
}

/** A system error (ENOENT, EACCES, ...) as a CliError of `code`. */
export function systemError(code: CliErrorCode, what: string, error: unknown): CliError {
  const system = (error as { code?: unknown }).code;
  return new CliError(code, `${what}: ${typeof system === 'string' ? system : error instanceof Error ? error.message : String(error)}`, { cause: error });
}

export interface Report {
  summary: { done: number; skipped: number; failed: number; seconds: number };
  entries: ReportEntry[];
}

