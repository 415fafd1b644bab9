// What an answer of the service means for a card: a result, "busy, try again in N seconds", "needs
// an API key", or a failure with a message for people. No DOM here (unit-tested in Node).

export type Verdict =
  | { kind: 'ok' }
  | { kind: 'busy'; retryAfterSeconds: number; message: string }
  | { kind: 'unauthorized'; message: string }
  /** `retry`: whether sending the same image with the same options again could succeed. */
  | { kind: 'failed'; message: string; retry: boolean };

/**
 * Retry-After as seconds from now: delta-seconds, or an HTTP date. Null when absent or unreadable
 * (then a 503 is a failure like any other: the service sets it whenever a retry makes sense).
 */
export function retryAfterSeconds(header: string | null, nowMs: number): number | null {
  if (header === null) return null;
  const value = header.trim();
  if (/^\d+$/.test(value)) return Number(value);
  // HTTP dates name their day and month; Date.parse alone would take "-1" for a year.
  const date = /[a-z]/i.test(value) ? Date.parse(value) : Number.NaN;
  return Number.isNaN(date) ? null : Math.max(0, Math.ceil((date - nowMs) / 1000));
}

/** A message as a sentence: the service's messages are lower-case phrases. */
export function sentence(text: string): string {
  const trimmed = text.trim();
  if (!trimmed) return trimmed;
  const capitalised = trimmed[0]!.toUpperCase() + trimmed.slice(1);
  return /[.!?]$/.test(capitalised) ? capitalised : `${capitalised}.`;
}

/** The message of a JSON error body ({"error": {"code", "message"}}), or null when it is not one. */
export function errorBodyMessage(body: string): { code: string; message: string } | null {
  try {
    const parsed: unknown = JSON.parse(body);
    const error = typeof parsed === 'object' && parsed !== null ? (parsed as { error?: unknown }).error : undefined;
    if (typeof error !== 'object' || error === null) return null;
    const { code, message } = error as { code?: unknown; message?: unknown };
    return typeof code === 'string' && typeof message === 'string' ? { code, message } : null;
  } catch {
    return null;
  }
}

export interface Answer {
  status: number;
  /** The Retry-After header, if any. */
  retryAfter: string | null;
  /** The body as text, for error answers (empty for results). */
  body: string;
}

export function judge(answer: Answer, nowMs: number): Verdict {
  if (answer.status >= 200 && answer.status < 300) return { kind: 'ok' };
  if (answer.status === 0) return { kind: 'failed', message: 'Could not reach the service: check the connection and try again.', retry: true };
  const error = errorBodyMessage(answer.body);
  const message = error ? sentence(error.message) : `The service answered ${answer.status} without an explanation.`;
  if (answer.status === 401) return { kind: 'unauthorized', message };
  if (answer.status === 503) {
    const seconds = retryAfterSeconds(answer.retryAfter, nowMs);
    if (seconds !== null) return { kind: 'busy', retryAfterSeconds: seconds, message };
  }
  return { kind: 'failed', message, retry: mayPassLater(answer.status) };
}

/**
 * Whether a refusal may not happen again: the service's own trouble (5xx), a timeout, a rate limit.
 * Any other 4xx is about the image or the options (not an image, too large, no subject, a bad
 * address), which the same request would meet again.
 */
function mayPassLater(status: number): boolean {
  return status >= 500 || status === 408 || status === 429;
}
