// Optional API keys. With API_KEYS set, every route needs a key unless it is marked public
// (config: { public: true }): /health and /ready, so probes need no secret, and /openapi.json, /docs,
// the web page and /remove-bg's stored results (whose names are unguessable).
import { createHash, timingSafeEqual } from 'node:crypto';
import fp from 'fastify-plugin';
import { ServiceError } from '../errors.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Served without an API key even when keys are required. */
    public?: boolean;
  }
  interface FastifyRequest {
    /**
     * The label of the API key the request carried (see keyLabel), for the queue's per-key
     * accounting, the metrics and the log; unset without keys or on open routes.
     */
    apiKeyLabel?: string;
  }
}

const digest = (text: string): Buffer => createHash('sha256').update(text).digest();

/**
 * A key's name in metrics, logs and the queue: `key-` and the first 12 hex digits of its SHA-256,
 * never the key itself. Anyone holding a key can work its label out (README, "Many clients").
 */
export const keyLabel = (key: string): string => `key-${digest(key).toString('hex').slice(0, 12)}`;

/** The key a request presents, from `Authorization: Bearer <key>` or `X-Api-Key`. */
function presentedKey(headers: Record<string, string | string[] | undefined>): string | undefined {
  const authorization = headers.authorization;
  if (typeof authorization === 'string') {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    if (match) return match[1];
  }
  const apiKey = headers['x-api-key'];
  return typeof apiKey === 'string' ? apiKey.trim() : undefined;
}

export default fp(
  async (app) => {
    if (app.config.API_KEYS.length === 0) return;
    // Keys are compared as SHA-256 digests with timingSafeEqual, against every key without stopping
    // early, so the time taken says nothing about how much of a key was right or which key matched.
    const keys = app.config.API_KEYS.map(digest);
    const labels = app.config.API_KEYS.map(keyLabel);

    app.addHook('onRequest', async (request) => {
      if (request.routeOptions.config.public) return;
      const presented = presentedKey(request.headers);
      const candidate = digest(presented ?? '');
      let matched = -1;
      for (const [index, key] of keys.entries()) if (timingSafeEqual(candidate, key)) matched = index;
      if (presented === undefined || matched < 0) {
        throw new ServiceError('unauthorized', presented === undefined ? 'an API key is required' : 'the API key is not valid', {
          headers: { 'www-authenticate': 'Bearer realm="bg-removal-service"' },
        });
      }
      request.apiKeyLabel = labels[matched];
    });
  },
  { name: 'auth' },
);
