// The app's one work queue (see src/work-queue.ts), sized from the config.
import fp from 'fastify-plugin';
import { WorkQueue } from '../work-queue.js';

declare module 'fastify' {
  interface FastifyInstance {
    queue: WorkQueue;
  }
}

export default fp(
  async (app) => {
    app.decorate('queue', new WorkQueue(app.config.MAX_CONCURRENCY, app.config.QUEUE_LIMIT));
  },
  { name: 'work-queue' },
);
