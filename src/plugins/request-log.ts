// One log line per request, when it is answered: what, how it ended, whose (the API key's label) and where the time went.
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
          ...(request.apiKeyLabel && { key: request.apiKeyLabel }), // the label, never the key
          ...(request.errorCode && { code: request.errorCode }),
          ...(request.stageTimings && { timings: request.stageTimings }),
        },
        'request',
      );
    });
  },
  { name: 'request-log' },
);
