// Liveness and readiness: /health says the process answers; /ready says it can do the work
// (model loaded and warmed). Orchestrators route traffic on /ready and restart on /health.
import type { FastifyPluginAsync } from 'fastify';

const healthRoutes: FastifyPluginAsync = async (app) => {
  app.get('/health', { config: { public: true } }, async () => ({ status: 'ok' }));

  app.get('/ready', { config: { public: true } }, async (_request, reply) => {
    if (app.queue.isDraining) return reply.code(503).send({ status: 'draining' });
    if (!app.model.warm) return reply.code(503).send({ status: 'starting' });
    return { status: 'ready' };
  });
};

export default healthRoutes;
