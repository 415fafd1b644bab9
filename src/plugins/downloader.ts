// One downloader (and so one connection pool) for the app's life, closed with the app.
import fp from 'fastify-plugin';
import type { ImageDownloader } from '../fetch/download.js';
import { startDownloader } from '../fetch/download-thread.js';

declare module 'fastify' {
  interface FastifyInstance {
    downloader: ImageDownloader;
  }
}

export default fp(
  async (app) => {
    const { config } = app;
    const downloader = await startDownloader(config);
    app.decorate('downloader', downloader);
    app.addHook('onClose', () => downloader.close());
  },
  { name: 'downloader' },
);
