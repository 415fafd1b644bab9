// The API's contract: GET /openapi.json (the OpenAPI 3.1 document) and GET /docs, a page that
// renders it (Swagger UI, served from the package's own files: no CDN). Both open without a key.
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyPluginAsync } from 'fastify';
import { Type } from 'typebox';
import { DOCS_PAGE } from '../plugins/openapi.js';

const docsRoutes: FastifyPluginAsync = async (app) => {
  app.get(
    '/openapi.json',
    {
      config: { public: true },
      schema: {
        summary: 'This document',
        response: { 200: Type.Object({}, { additionalProperties: true, description: 'The OpenAPI 3.1 document of the service.' }) },
      },
    },
    async () => app.swagger(),
  );

  // Every route of the page and its assets is open, like the document it shows.
  await app.register(async (scope) => {
    scope.addHook('onRoute', (route) => {
      route.config = { ...route.config, public: true };
    });
    await scope.register(swaggerUi, {
      routePrefix: DOCS_PAGE,
      staticCSP: true,
      uiConfig: { deepLinking: true, tryItOutEnabled: true },
    });
  });
};

export default docsRoutes;
