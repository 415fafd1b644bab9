// Liveness and readiness: /health says the process answers; /ready says it can do the work
// (model loaded and warmed). Orchestrators route traffic on /ready and restart on /health.
import type { FastifyPluginAsync } from 'fastify';

const healthRoutes: FastifyPluginAsync = async (app) => {
  app.get('/health', async () => ({ status: 'ok' }));

  app.get('/ready', async (_request, reply) => {
    if (app.model.warm) return { status: 'ready' };
    return reply.code(503).send({ status: 'starting' });
  });
};

export default healthRoutes;
