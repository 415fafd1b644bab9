// Every error leaves as {"error": {"code", "message"}} with the status its code fixes.
// Client errors say what was wrong; server errors say nothing about internals (the log does).
import type { FastifyError } from 'fastify';
import fp from 'fastify-plugin';
import { errorBody, errorCatalog, ServiceError, type ErrorCode } from '../errors.js';

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

export default fp(
  async (app) => {
    app.setErrorHandler((error: FastifyError | ServiceError, request, reply) => {
      const serviceError = error instanceof ServiceError;
      const code = serviceError ? error.code : frameworkCode(error);
      // A framework error's own status can disagree with its code (a plugin's 413 for too many form
      // fields is invalid_request here); the catalogue decides, so a code always has one status.
      const status = serviceError ? error.statusCode : errorCatalog[code].status;
      // A failure of ours (500) gets its stack and cause in the log; a refusal or a failing source gets one line.
      if (status === 500) request.log.error({ err: error }, 'request failed');
      else if (code === 'client_closed') request.log.info({ code }, 'client left');
      else request.log.warn({ code, reason: error.message }, 'request refused');
      if (serviceError) reply.headers(error.headers);
      request.errorCode = code;
      const message = status >= 500 && code === 'internal' ? 'internal error' : error.message;
      return reply.code(status).type('application/json').send(errorBody(code, message));
    });

    app.setNotFoundHandler((request, reply) => {
      request.errorCode = 'not_found';
      return reply.code(404).send(errorBody('not_found', `no route for ${request.method} ${request.url.split('?')[0]}`));
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
