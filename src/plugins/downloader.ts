// One downloader (and so one connection pool) for the app's life, closed with the app.
import fp from 'fastify-plugin';
import { Downloader } from '../fetch/download.js';

declare module 'fastify' {
  interface FastifyInstance {
    downloader: Downloader;
  }
}

export default fp(
  async (app) => {
    const downloader = new Downloader({
      maxBytes: app.config.MAX_DOWNLOAD_BYTES,
      timeoutMs: app.config.FETCH_TIMEOUT_MS,
      maxRedirects: app.config.MAX_REDIRECTS,
    });
    app.decorate('downloader', downloader);
    app.addHook('onClose', () => downloader.close());
  },
  { name: 'downloader' },
);
