// GET /: the web page for people (drop images, see before and after, download the cutouts). Its
// sources are in web/; `npm run build` compiles them to dist/web (index.html, and assets/ with the
// scripts and styles), and this route serves that folder from memory: a few small files, read once.
//
// The page and its files are open without an API key (the page asks for one and sends it with its
// API calls). Assets are served under a version taken from their content, /assets/<version>/<name>,
// so they can be cached for good; index.html, which names the version, is revalidated every time.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import type { FastifyPluginAsync } from 'fastify';
import { Type, type TSchema } from 'typebox';
import { projectRoot } from '../config.js';
import { ServiceError } from '../errors.js';
import { errorResponses, REQUEST_ID_HEADER } from './responses.js';

/** Where the build puts the page. */
export const PAGE_DIR = path.join(projectRoot, 'dist', 'web');
/** Written in web/index.html where the assets' path goes; replaced with assets/<version>. */
export const ASSETS_PLACEHOLDER = '{{assets}}';

const CONTENT_TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

/**
 * The page handles images nobody vetted, so it runs nothing but its own scripts and talks to
 * nothing but this service. Images may also be blob: (the files dropped, the results) and data:;
 * http(s) images are allowed for one thing only, the original of a pasted URL in the before/after
 * view, which the browser loads from where the URL points (an <img> runs no code, and no script or
 * connection may go anywhere but here).
 */
export const PAGE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' blob: data: https: http:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const SECURITY_HEADERS = {
  'content-security-policy': PAGE_CSP,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

interface Asset {
  body: Buffer;
  type: string;
}

export interface Page {
  index: Buffer;
  indexEtag: string;
  version: string;
  assets: ReadonlyMap<string, Asset>;
}

/** The built page from `dir`, or null when it has not been built. */
export function loadPage(dir: string): Page | null {
  const indexPath = path.join(dir, 'index.html');
  const assetsDir = path.join(dir, 'assets');
  if (!existsSync(indexPath) || !existsSync(assetsDir)) return null;
  const assets = new Map<string, Asset>();
  const hash = createHash('sha256');
  for (const name of readdirSync(assetsDir).sort()) {
    const type = CONTENT_TYPES[path.extname(name)];
    const file = path.join(assetsDir, name);
    if (type === undefined || !statSync(file).isFile()) continue;
    const body = readFileSync(file);
    assets.set(name, { body, type });
    hash.update(name).update('\0').update(body);
  }
  const version = hash.digest('hex').slice(0, 16);
  const index = Buffer.from(readFileSync(indexPath, 'utf8').replaceAll(ASSETS_PLACEHOLDER, `assets/${version}`));
  const indexEtag = `"${createHash('sha256').update(index).digest('hex').slice(0, 32)}"`;
  return { index, indexEtag, version, assets };
}

const html = (description: string): TSchema =>
  ({ description, content: { 'text/html': { schema: { type: 'string' } } }, headers: REQUEST_ID_HEADER }) as unknown as TSchema;

const pageRoutes: FastifyPluginAsync<{ dir?: string }> = async (app, options) => {
  const dir = options.dir ?? PAGE_DIR;
  const page = loadPage(dir);
  if (!page) {
    // The API works without it; say so rather than refuse to start over a missing page.
    app.log.warn({ dir }, 'the web page is not built (npm run build): GET / answers 404');
  }

  app.get(
    '/',
    {
      config: { public: true },
      schema: {
        summary: 'The web page: drop images, compare before and after, download the cutouts',
        description: 'A page for people, served by the service itself (no outside requests). Its API calls carry the key it asks for when the service has keys.',
        response: {
          200: html('An HTML page.'),
          304: Type.Null({ description: 'Not modified: the page is the one whose ETag was sent in If-None-Match.' }),
          ...errorResponses(['not_found']),
        },
      },
    },
    async (request, reply) => {
      if (!page) throw new ServiceError('not_found', 'the web page is not built: run npm run build');
      reply.headers({ ...SECURITY_HEADERS, 'cache-control': 'no-cache', etag: page.indexEtag });
      if (request.headers['if-none-match'] === page.indexEtag) return reply.code(304).send();
      return reply.type('text/html; charset=utf-8').send(page.index);
    },
  );

  app.get(
    '/assets/:version/:name',
    {
      config: { public: true },
      schema: {
        hide: true,
        params: Type.Object({ version: Type.String(), name: Type.String() }),
      },
    },
    async (request, reply) => {
      const { version, name } = request.params as { version: string; name: string };
      // Names are looked up, never joined to a path: nothing but the page's own files is reachable.
      const asset = page?.version === version ? page.assets.get(name) : undefined;
      if (!asset) throw new ServiceError('not_found', `no page asset ${version}/${name}`);
      return reply
        .type(asset.type)
        .headers({ ...SECURITY_HEADERS, 'cache-control': 'public, max-age=31536000, immutable' })
        .send(asset.body);
    },
  );
};

export default pageRoutes;
