// Downloads a source image with undici, within limits.
//
// The service follows redirects itself (so each hop can be checked), never decompresses bodies
// (a small gzip body must not become a huge one), counts bytes while streaming (a Content-Length
// can lie or be missing) and gives the whole download one deadline.
import { Agent, errors as undiciErrors, request, type Dispatcher } from 'undici';
import { ServiceError } from '../errors.js';

export interface DownloadLimits {
  maxBytes: number;
  /** Deadline for the whole download, redirects included. */
  timeoutMs: number;
  maxRedirects: number;
}

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

/** Parses and checks an image URL: absolute http(s), no credentials. */
export function parseSourceUrl(text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new ServiceError('unsupported_url', 'the image URL is not a valid absolute URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ServiceError('unsupported_url', `the image URL must use http or https, not ${url.protocol.replace(':', '')}`);
  }
  if (url.username || url.password) throw new ServiceError('unsupported_url', 'the image URL must not carry credentials');
  return url;
}

function tooLarge(maxBytes: number): ServiceError {
  return new ServiceError('too_large', `the image is larger than the limit of ${maxBytes} bytes`);
}

/** Maps what undici or the network threw to the service's error codes. */
function downloadError(error: unknown, url: URL, timedOut: boolean): ServiceError {
  if (error instanceof ServiceError) return error;
  if (
    timedOut ||
    error instanceof undiciErrors.ConnectTimeoutError ||
    error instanceof undiciErrors.HeadersTimeoutError ||
    error instanceof undiciErrors.BodyTimeoutError
  ) {
    return new ServiceError('source_timeout', `the image source ${url.host} was too slow`, { cause: error });
  }
  return new ServiceError('source_unreachable', `the image source ${url.host} could not be reached`, { cause: error });
}

export class Downloader {
  private readonly dispatcher: Dispatcher;

  constructor(
    private readonly limits: DownloadLimits,
    dispatcher?: Dispatcher,
  ) {
    this.dispatcher = dispatcher ?? new Agent({ connections: 16, keepAliveTimeout: 4_000 });
  }

  /** The body of the image at `source`, or a ServiceError saying why not. `signal` aborts it early. */
  async download(source: string, signal?: AbortSignal): Promise<Buffer> {
    const deadline = AbortSignal.timeout(this.limits.timeoutMs);
    const abort = signal ? AbortSignal.any([signal, deadline]) : deadline;
    let url = parseSourceUrl(source);

    for (let hop = 0; ; hop++) {
      let response: Dispatcher.ResponseData;
      try {
        response = await request(url, {
          method: 'GET',
          dispatcher: this.dispatcher,
          signal: abort,
          headers: { accept: 'image/*', 'accept-encoding': 'identity', 'user-agent': 'bg-removal-service' },
        });
      } catch (error) {
        throw downloadError(error, url, deadline.aborted);
      }

      const { statusCode, headers, body } = response;
      if (REDIRECT_STATUSES.has(statusCode)) {
        discard(body);
        const location = headers.location;
        if (typeof location !== 'string') throw new ServiceError('source_status', `the image source answered ${statusCode} without a Location`);
        if (hop >= this.limits.maxRedirects) {
          throw new ServiceError('too_many_redirects', `the image source redirected more than ${this.limits.maxRedirects} times`);
        }
        url = parseSourceUrl(new URL(location, url).href);
        continue;
      }
      if (statusCode < 200 || statusCode > 299) {
        discard(body);
        throw new ServiceError('source_status', `the image source answered ${statusCode}`);
      }

      const declared = Number(headers['content-length']);
      if (Number.isFinite(declared) && declared > this.limits.maxBytes) {
        discard(body);
        throw tooLarge(this.limits.maxBytes);
      }
      try {
        return await readLimited(body, this.limits.maxBytes);
      } catch (error) {
        throw downloadError(error, url, deadline.aborted);
      } finally {
        discard(body);
      }
    }
  }

  async close(): Promise<void> {
    await this.dispatcher.close();
  }
}

/** Drops a response body we will not read. (Destroying it unobserved would emit an unhandled 'error'.) */
function discard(body: Dispatcher.ResponseData['body']): void {
  body.on('error', () => {});
  body.destroy();
}

/** Reads a stream into one buffer, stopping as soon as it passes `maxBytes`. */
async function readLimited(stream: AsyncIterable<Buffer>, maxBytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let received = 0;
  for await (const chunk of stream) {
    received += chunk.length;
    if (received > maxBytes) throw tooLarge(maxBytes);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, received);
}
