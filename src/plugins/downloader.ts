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
    const downloader = Downloader.fromConfig(config);
    app.decorate('downloader', downloader);
    app.addHook('onClose', () => downloader.close());
  },
  { name: 'downloader' },
);
