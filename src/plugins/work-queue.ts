// The app's one work queue (see src/work-queue.ts), sized from the config. With API keys, each key
// is a client of the queue: its share of the places (with two keys or more: one key alone has
// nobody to share with) and its rate limit, whose state every answer to a keyed request carries in
// RateLimit-Limit, RateLimit-Remaining and RateLimit-Reset.
import fp from 'fastify-plugin';
import { WorkQueue } from '../work-queue.js';

declare module 'fastify' {
  interface FastifyInstance {
    queue: WorkQueue;
  }
}

export default fp(
  async (app) => {
    const { API_KEYS, KEY_QUEUE_SHARE, KEY_RATE_LIMIT } = app.config;
    const keyed = API_KEYS.length > 0;
    const queue = new WorkQueue(app.config.MAX_CONCURRENCY, app.config.QUEUE_LIMIT, {
      clientShare: new Set(API_KEYS).size >= 2 ? KEY_QUEUE_SHARE : 1,
      clientRatePerMinute: keyed ? KEY_RATE_LIMIT : 0,
    });
    app.decorate('queue', queue);

    if (keyed && KEY_RATE_LIMIT > 0) {
      app.addHook('onSend', async (request, reply) => {
        const state = request.apiKeyLabel === undefined ? undefined : queue.rateLimit(request.apiKeyLabel);
        if (!state) return;
        reply.header('ratelimit-limit', state.limit);
        reply.header('ratelimit-remaining', state.remaining);
        reply.header('ratelimit-reset', state.resetSeconds);
      });
    }
  },
  { name: 'work-queue', dependencies: ['auth'] },
);
