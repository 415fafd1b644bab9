// The app, as a Fastify instance built from a config. The server and the tests build it the same way.
import { randomUUID } from 'node:crypto';
import multipart from '@fastify/multipart';
import sensible from '@fastify/sensible';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import pino from 'pino';
import type { Config } from './config.js';
import auth from './plugins/auth.js';
import downloader from './plugins/downloader.js';
import errorHandler from './plugins/error-handler.js';
import metrics from './plugins/metrics.js';
import model from './plugins/model.js';
import openapi from './plugins/openapi.js';
import requestLog from './plugins/request-log.js';
import resultStore from './plugins/result-store.js';
import workQueue from './plugins/work-queue.js';
import docs from './routes/docs.js';
import health from './routes/health.js';
import page from './routes/page.js';
import removeBackground from './routes/remove-background.js';
import removeBg from './routes/remove-bg.js';
import { FORM_LIMITS } from './routes/uploads.js';
import { SCHEMA_KEYWORDS } from './validation.js';

declare module 'fastify' {
  interface FastifyInstance {
    config: Config;
  }
}

/** A caller's X-Request-Id is kept when it is short and plain (it ends up in logs); otherwise a new one. */
function requestId(header: string | string[] | undefined): string {
  return typeof header === 'string' && /^[\w.:-]{1,128}$/.test(header) ? header : randomUUID();
}

export async function buildApp(config: Config): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: pino({ level: config.LOG_LEVEL }) as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }), // plugins/request-log.ts writes one line instead
    genReqId: (request) => requestId(request.headers['x-request-id']),
    bodyLimit: config.BODY_LIMIT_BYTES,
    // Server timeouts, all in one place: a client gets this long to send its request, and an idle
    // keep-alive connection is closed after a few seconds.
    connectionTimeout: 60_000,
    requestTimeout: 120_000,
    keepAliveTimeout: 5_000,
    http: { headersTimeout: 15_000 },
    // The API rejects unknown fields and wrong types rather than guessing; defaults are filled in.
    // The schemas' own keys for validation messages (src/validation.ts) are annotations to Ajv.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, useDefaults: true, allErrors: false, keywords: [...SCHEMA_KEYWORDS] } },
  }).withTypeProvider<TypeBoxTypeProvider>();

  app.decorate('config', config);
  // The API speaks JSON: a text body is refused with 415 rather than half-understood.
  app.removeContentTypeParser('text/plain');
  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });
  await app.register(sensible);
  await app.register(errorHandler);
  await app.register(requestLog);
  await app.register(auth);
  await app.register(model);
  await app.register(workQueue);
  await app.register(downloader);
  await app.register(resultStore);
  // Forms are read by the routes that take them (routes/uploads.ts), after admission to the queue.
  await app.register(multipart, { limits: { ...FORM_LIMITS, fileSize: config.MAX_DOWNLOAD_BYTES } });
  await app.register(openapi); // before the routes, so it sees them all
  await app.register(metrics);
  await app.register(health);
  await app.register(removeBackground);
  await app.register(removeBg);
  await app.register(docs);
  await app.register(page);
  return app;
}
