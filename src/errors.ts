// Every error the service answers with: a stable code, its HTTP status and what it means.
// Clients branch on `code`; the message is for people and may change.

export const errorCatalog = {
  invalid_request: { status: 400, description: 'The body, a form field or a parameter does not match the schema (unknown field, wrong type, value out of range), options contradict each other (the message names them), a roi has no area or lies outside the image, a canvas exceeds MAX_CANVAS_PIXELS, a form has no image or an unexpected part, or the result would be too large for its format.' },
  unsupported_url: { status: 400, description: 'The image URL is not an absolute http(s) URL, or it carries credentials.' },
  unauthorized: { status: 401, description: 'API keys are enabled and the request carries no valid one (`Authorization: Bearer <key>` or `X-Api-Key`).' },
  forbidden_address: { status: 403, description: 'The image URL (or a redirect) leads to an address the service does not connect to: loopback, private, link-local, cloud metadata, reserved.' },
  forbidden_host: { status: 403, description: 'ALLOWED_HOSTS is set and the image URL (or a redirect) names a host not on it.' },
  not_found: { status: 404, description: 'No such route, or no such stored result (never saved, or deleted by the sweep).' },
  method_not_allowed: { status: 405, description: 'The path exists but does not take this method; the `Allow` header lists those it takes.' },
  too_large: { status: 413, description: 'The source image, the uploaded file or the request body is larger than the byte limit.' },
  too_many_pixels: { status: 413, description: 'The image has more pixels than the pixel limit; refused from its header, before decoding.' },
  unsupported_media_type: { status: 415, description: 'The downloaded or uploaded bytes are not an image format the service reads (the message lists them), or the request body is neither JSON nor a form.' },
  rate_limited: { status: 429, description: 'API keys are enabled and this key is over its limit: its share of the queue (KEY_QUEUE_SHARE) or its requests per minute (KEY_RATE_LIMIT); retry after the `Retry-After` seconds.' },
  image_decode_failed: { status: 422, description: 'The image is truncated or corrupt and cannot be decoded.' },
  no_foreground: { status: 422, description: 'The model found no subject in the image, or inside the requested roi.' },
  source_status: { status: 502, description: 'The image source answered with an error status (4xx or 5xx; the message carries it), or redirected without a valid Location.' },
  too_many_redirects: { status: 502, description: 'The image source redirected more often than MAX_REDIRECTS allows.' },
  source_unreachable: { status: 502, description: 'The image source could not be reached, or broke off (DNS failure, refused or reset connection, a body shorter than announced).' },
  source_timeout: { status: 504, description: 'The image source was too slow to connect, answer or finish sending.' },
  client_closed: { status: 499, description: 'The client went away before the answer; the work was dropped. Never seen by clients: it appears in logs.' },
  overloaded: { status: 503, description: 'Every work slot and queue place is taken; retry after the `Retry-After` seconds.' },
  deadline_exceeded: { status: 503, description: 'The request could not finish within REQUEST_DEADLINE_MS (queue wait included); retry after the `Retry-After` seconds.' },
  not_ready: { status: 503, description: 'The service is shutting down. (Requests that arrive while it warms up at start wait for it instead.)' },
  storage_failed: { status: 500, description: 'POST /remove-bg could not save its result (the storage folder is missing, read-only or full); the log has the details.' },
  internal: { status: 500, description: 'An unexpected failure; the message never carries details, the log does.' },
} as const satisfies Record<string, { status: number; description: string }>;

export type ErrorCode = keyof typeof errorCatalog;

/** An error the service answers with as-is: its code decides the status. */
export class ServiceError extends Error {
  override name = 'ServiceError';
  readonly statusCode: number;
  readonly headers: Readonly<Record<string, string>>;

  constructor(
    readonly code: ErrorCode,
    message: string,
    options: { cause?: unknown; headers?: Record<string, string> } = {},
  ) {
    super(message, { cause: options.cause });
    this.statusCode = errorCatalog[code].status;
    this.headers = options.headers ?? {};
  }
}

/** The JSON body of every error answer. */
export interface ErrorBody {
  error: { code: ErrorCode; message: string };
}

export function errorBody(code: ErrorCode, message: string): ErrorBody {
  return { error: { code, message } };
}
