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
    const { config } = app;
    const downloader = new Downloader({
      maxBytes: config.MAX_DOWNLOAD_BYTES,
      timeoutMs: config.FETCH_TIMEOUT_MS,
      connectTimeoutMs: config.CONNECT_TIMEOUT_MS,
      headersTimeoutMs: config.HEADERS_TIMEOUT_MS,
      maxRedirects: config.MAX_REDIRECTS,
      allowedHosts: config.ALLOWED_HOSTS,
      allowPrivateNetworks: config.ALLOW_PRIVATE_NETWORKS,
    });
    app.decorate('downloader', downloader);
    app.addHook('onClose', () => downloader.close());
  },
  { name: 'downloader' },
);
