// The API's contract: GET /openapi.json (the OpenAPI 3.1 document) and GET /docs, a page that
// renders it (Swagger UI, served from the package's own files: no CDN). Both open without a key.
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyPluginAsync } from 'fastify';
import { Type } from 'typebox';
import { DOCS_PAGE } from '../plugins/openapi.js';

/**
 * Swagger UI's own policy (staticCSP: true) says `upgrade-insecure-requests`, which makes a browser
 * ask for every asset over https: anywhere but localhost, a service on plain HTTP then shows a blank
 * page. This one allows the same (scripts, styles, fonts and requests from the service only) without
 * it, and one inline style by its hash: the <style> in the bundle's logo (its two fill colours).
 * test/e2e/docs.test.ts fails on any style or script this refuses, so an upgrade that changes the
 * logo shows up there.
 */
export const DOCS_CSP = [
  "default-src 'self'",
  "base-uri 'self'",
  "connect-src 'self'",
  "font-src 'self' data:",
  "form-action 'self'",
  "frame-ancestors 'self'",
  "img-src 'self' data:",
  "object-src 'none'",
  "script-src 'self'",
  "script-src-attr 'none'",
  "style-src 'self' 'sha256-RL3ie0nH+Lzz2YNqQN83mnU0J1ot4QL7b99vMdIX99w='",
].join('; ');

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
      staticCSP: DOCS_CSP,
      // No validator badge: it would send the document to validator.swagger.io.
      uiConfig: { deepLinking: true, tryItOutEnabled: true, validatorUrl: null },
    });
  });
};

export default docsRoutes;
