// Liveness and readiness: /health says the process answers; /ready says it can do the work
// (model loaded and warmed). Orchestrators route traffic on /ready and restart on /health.
import type { FastifyPluginAsync } from 'fastify';
import { Type } from 'typebox';
import { REQUEST_ID_HEADER } from './responses.js';

const status = (values: string[], description: string) =>
  Type.Object({ status: Type.Unsafe<string>({ type: 'string', enum: values }) }, { description, headers: REQUEST_ID_HEADER });

const healthRoutes: FastifyPluginAsync = async (app) => {
  app.get(
    '/health',
    { config: { public: true }, schema: { summary: 'Liveness', response: { 200: status(['ok'], 'The process is alive.') } } },
    async () => ({ status: 'ok' }),
  );

  app.get(
    '/ready',
    {
      config: { public: true },
      schema: {
        summary: 'Readiness',
        response: {
          200: status(['ready'], 'The model is loaded and warm: send work.'),
          503: status(['starting', 'draining'], 'Starting (model not yet warm) or shutting down: send work elsewhere.'),
        },
      },
    },
    async (_request, reply) => {
      if (app.queue.isDraining) return reply.code(503).send({ status: 'draining' });
      if (!app.model.warm) return reply.code(503).send({ status: 'starting' });
      return { status: 'ready' };
    },
  );
};

export default healthRoutes;
