// One log line per request, when it is answered: what, how it ended, and where the time went.
// (Fastify's own two lines per request are turned off in app.ts.)
import fp from 'fastify-plugin';

declare module 'fastify' {
  interface FastifyRequest {
    /** Stage timings in ms, set by routes that run the pipeline. */
    stageTimings?: Record<string, number>;
  }
}

export default fp(
  async (app) => {
    app.addHook('onResponse', async (request, reply) => {
      request.log.info(
        {
          method: request.method,
          url: request.url,
          status: reply.statusCode,
          ms: Math.round(reply.elapsedTime * 10) / 10,
          ...(request.errorCode && { code: request.errorCode }),
          ...(request.stageTimings && { timings: request.stageTimings }),
        },
        'request',
      );
    });
  },
  { name: 'request-log' },
);
