// Every error leaves as {"error": {"code", "message"}} with the status its code fixes.
// Client errors say what was wrong; server errors say nothing about internals (the log does).
import type { FastifyError, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { TSchema } from 'typebox';
import { errorBody, errorCatalog, ServiceError, type ErrorCode } from '../errors.js';
import { validationError } from '../validation.js';

/** The code for an error Fastify itself raised (validation, body parsing, limits). */
function frameworkCode(error: FastifyError): ErrorCode {
  if (error.validation) return 'invalid_request';
  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return 'too_large';
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return 'unsupported_media_type';
    default:
      return (error.statusCode ?? 500) < 500 ? 'invalid_request' : 'internal';
  }
}

const SUBJECTS: Record<string, string> = { body: 'the body', querystring: 'the query string', params: 'the path', headers: 'the headers' };
const VALUES: Record<string, (request: FastifyRequest) => unknown> = {
  body: (request) => request.body,
  querystring: (request) => request.query,
  params: (request) => request.params,
  headers: (request) => request.headers,
};

/**
 * Ajv's refusal of a request part, said again from the route's schema (src/validation.ts), so JSON
 * bodies get the same messages as forms. Undefined when the schema cannot be found or finds nothing
 * wrong (then Ajv's own message stands).
 */
function schemaError(error: FastifyError, request: FastifyRequest): ServiceError | undefined {
  const context = error.validationContext;
  if (!context || !VALUES[context]) return undefined;
  let schema = (request.routeOptions.schema as Record<string, unknown> | undefined)?.[context];
  // A body schema per content type: { content: { 'application/json': { schema } } }.
  const content = (schema as { content?: Record<string, { schema?: unknown }> } | undefined)?.content;
  if (content) schema = content[(request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase()]?.schema;
  if (typeof schema !== 'object' || schema === null) return undefined;
  return validationError(schema as TSchema, VALUES[context](request), SUBJECTS[context]!);
}

/** A path without its trailing slash: `/docs` and `/docs/` are one page (Fastify registers both for a prefix's root). */
const withoutSlash = (path: string): string => (path.length > 1 ? path.replace(/\/+$/, '') : path);

/** A route's path as a pattern (`:name` one segment, `*` the rest), for telling a wrong method from a wrong path. */
function pathPattern(url: string): RegExp {
  const pattern = withoutSlash(url)
    .split(/(:\w+|\*)/)
    .map((part) => (part === '*' ? '.*' : part.startsWith(':') ? '[^/]+' : part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')))
    .join('');
  return new RegExp(`^${pattern}$`);
}

export default fp(
  async (app) => {
    // Every route's path and methods, for the 405 of a known path asked with another method.
    const routes = new Map<string, { pattern: RegExp; methods: Set<string> }>();
    app.addHook('onRoute', (route) => {
      const key = withoutSlash(route.url);
      const entry = routes.get(key) ?? { pattern: pathPattern(key), methods: new Set<string>() };
      for (const method of [route.method].flat()) entry.methods.add(method);
      routes.set(key, entry);
    });

    app.setErrorHandler((thrown: FastifyError | ServiceError, request, reply) => {
      const error = !(thrown instanceof ServiceError) && thrown.validation ? (schemaError(thrown, request) ?? thrown) : thrown;
      const serviceError = error instanceof ServiceError;
      const code = serviceError ? error.code : frameworkCode(error);
      // A framework error's own status can disagree with its code (a plugin's 413 for too many form
      // fields is invalid_request here); the catalogue decides, so a code always has one status.
      const status = serviceError ? error.statusCode : errorCatalog[code].status;
      // A failure of ours (500) gets its stack and cause in the log; a refusal or a failing source gets one line.
      if (status === 500) request.log.error({ err: error }, 'request failed');
      else if (code === 'client_closed') request.log.info({ code }, 'client left');
      else request.log.warn({ code, reason: error.message, cause: error.cause instanceof Error ? error.cause.message : undefined }, 'request refused');
      if (serviceError) reply.headers(error.headers);
      request.errorCode = code;
      const message = status >= 500 && code === 'internal' ? 'internal error' : error.message;
      return reply.code(status).type('application/json').send(errorBody(code, message));
    });

    app.setNotFoundHandler((request, reply) => {
      const path = request.url.split('?')[0]!;
      const allowed = new Set<string>();
      for (const { pattern, methods } of routes.values()) if (pattern.test(withoutSlash(path))) methods.forEach((method) => allowed.add(method));
      // A route that takes this method and found nothing (a missing static file) is a 404 like any other.
      if (allowed.size > 0 && !allowed.has(request.method)) {
        const allow = [...allowed].sort().join(', ');
        request.errorCode = 'method_not_allowed';
        return reply.code(405).header('allow', allow).send(errorBody('method_not_allowed', `${path} takes ${allow}, not ${request.method}`));
      }
      request.errorCode = 'not_found';
      return reply.code(404).send(errorBody('not_found', `no route for ${request.method} ${path}`));
    });
  },
  { name: 'error-handler' },
);

declare module 'fastify' {
  interface FastifyRequest {
    /** The error code this request was answered with, for the request log. */
    errorCode?: ErrorCode;
  }
}
