// Downloads a source image with undici, safely.
//
// Every connection goes through the address guard (guarded-connector.ts). The service follows
// redirects itself, so each hop is checked against the host allow-list as well; it never
// decompresses bodies (a small gzip body must not become a huge one), counts bytes while streaming
// (a Content-Length can lie or be missing) and gives the whole download one deadline on top of the
// connect and headers timeouts (a source sending a byte a second never trips an idle timeout).
import { Agent, errors as undiciErrors, request, type Dispatcher } from 'undici';
import { ServiceError } from '../errors.js';
import { ForbiddenAddressError, guardedConnector, type GuardOptions } from './guarded-connector.js';

export interface DownloadOptions {
  maxBytes: number;
  /** Deadline for the whole download, redirects included. */
  timeoutMs: number;
  connectTimeoutMs: number;
  headersTimeoutMs: number;
  maxRedirects: number;
  /** Lower-case host names, `*.example.com` for a domain and its subdomains; empty allows any. */
  allowedHosts: readonly string[];
  allowPrivateNetworks: boolean;
  /** Tests substitute name resolution and address verdicts (see guarded-connector.ts). */
  guard?: Pick<GuardOptions, 'lookup' | 'judge'>;
}

/** What the routes and the command line download with: a Downloader, or one on its own thread (download-thread.ts). */
export interface ImageDownloader {
  /** The body of the image at `source`, or a ServiceError saying why not. `signal` aborts it early. */
  download(source: string, signal?: AbortSignal): Promise<Buffer>;
  close(): Promise<void>;
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

/** Whether `hostname` is on the allow-list (an empty list allows every host). */
export function isAllowedHost(hostname: string, allowedHosts: readonly string[]): boolean {
  if (allowedHosts.length === 0) return true;
  const host = hostname.toLowerCase().replace(/\.$/, '');
  return allowedHosts.some((allowed) =>
    allowed.startsWith('*.') ? host === allowed.slice(2) || host.endsWith(allowed.slice(1)) : host === allowed,
  );
}

function tooLarge(maxBytes: number): ServiceError {
  return new ServiceError('too_large', `the image is larger than the limit of ${maxBytes} bytes`);
}

/** Maps what undici, the guard or the network threw to the service's error codes. */
function downloadError(error: unknown, url: URL, timedOut: boolean): ServiceError {
  if (error instanceof ServiceError) return error;
  const cause = error instanceof Error && error.cause instanceof ForbiddenAddressError ? error.cause : error;
  if (cause instanceof ForbiddenAddressError) {
    // The address and its range stay in the log: they describe the service's network, not the request.
    const message = cause.privateNetwork
      ? 'the image URL leads to a private address (loopback or a local network), which the service connects to only when its ALLOW_PRIVATE_NETWORKS setting is true'
      : 'the image URL leads to an address the service never connects to (link-local, cloud metadata, multicast or another reserved range)';
    return new ServiceError('forbidden_address', message, { cause });
  }
  if (
    timedOut ||
    error instanceof undiciErrors.ConnectTimeoutError ||
    error instanceof undiciErrors.HeadersTimeoutError ||
    error instanceof undiciErrors.BodyTimeoutError
  ) {
    return new ServiceError('source_timeout', `the image source ${url.host} was too slow`, { cause: error });
  }
  return new ServiceError('source_unreachable', `the image source ${url.host} could not be reached or broke off`, { cause: error });
}

/** Drops a response body we will not read. (Destroying it unobserved would emit an unhandled 'error'.) */
function discard(body: Dispatcher.ResponseData['body']): void {
  body.on('error', () => {});
  body.destroy();
}

export class Downloader implements ImageDownloader {
  private readonly dispatcher: Dispatcher;

  /** `dispatcher` replaces the guarded agent (tests pass undici's MockAgent). */
  constructor(
    private readonly options: DownloadOptions,
    dispatcher?: Dispatcher,
  ) {
    this.dispatcher =
      dispatcher ??
      new Agent({
        connect: guardedConnector({
          allowPrivate: options.allowPrivateNetworks,
          connectTimeoutMs: options.connectTimeoutMs,
          ...options.guard,
        }),
        headersTimeout: options.headersTimeoutMs,
        bodyTimeout: options.timeoutMs,
        connections: 16,
        keepAliveTimeout: 4_000,
      });
  }

  async download(source: string, signal?: AbortSignal): Promise<Buffer> {
    const deadline = AbortSignal.timeout(this.options.timeoutMs);
    const abort = signal ? AbortSignal.any([signal, deadline]) : deadline;
    let url = parseSourceUrl(source);

    for (let hop = 0; ; hop++) {
      if (!isAllowedHost(url.hostname, this.options.allowedHosts)) {
        throw new ServiceError('forbidden_host', `the host ${url.hostname} is not one the service fetches from`);
      }
      let response: Dispatcher.ResponseData;
      try {
        response = await request(url, {
          method: 'GET',
          dispatcher: this.dispatcher,
          signal: abort,
          headers: { accept: 'image/*', 'accept-encoding': 'identity', 'user-agent': 'bg-removal-service' },
        });
      } catch (error) {
        throw signal?.aborted ? signal.reason : downloadError(error, url, deadline.aborted);
      }

      const { statusCode, headers, body } = response;
      if (REDIRECT_STATUSES.has(statusCode)) {
        discard(body);
        const location = headers.location;
        if (typeof location !== 'string') throw new ServiceError('source_status', `the image source answered ${statusCode} without a Location`);
        // A Location that is no URL at all is the source's fault, not the service's (a 502, not a 500).
        if (!URL.canParse(location, url.href)) throw new ServiceError('source_status', `the image source answered ${statusCode} with an invalid Location`);
        if (hop >= this.options.maxRedirects) {
          throw new ServiceError('too_many_redirects', `the image source redirected more than ${this.options.maxRedirects} times`);
        }
        url = parseSourceUrl(new URL(location, url).href);
        continue;
      }
      if (statusCode < 200 || statusCode > 299) {
        discard(body);
        throw new ServiceError('source_status', `the image source answered ${statusCode}`);
      }

      const declared = Number(headers['content-length']);
      if (Number.isFinite(declared) && declared > this.options.maxBytes) {
        discard(body);
        throw tooLarge(this.options.maxBytes);
      }
      try {
        return await readLimited(body, this.options.maxBytes);
      } catch (error) {
        throw signal?.aborted ? signal.reason : downloadError(error, url, deadline.aborted);
      } finally {
        discard(body);
      }
    }
  }

  async close(): Promise<void> {
    await this.dispatcher.close();
  }
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
