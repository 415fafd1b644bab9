// A tiny HTTP server on 127.0.0.1 that plays an image source: each path answers with a handler.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export type Handler = (request: http.IncomingMessage, response: http.ServerResponse) => void;

export interface SourceServer {
  /** http://127.0.0.1:<port> */
  origin: string;
  url(path: string): string;
  /** TCP connections accepted so far. */
  readonly connections: number;
}

interface Teardown {
  teardown(fn: () => unknown): void;
}

/** Serves `routes` (path -> handler or bytes) until the test ends. */
export async function startSourceServer(t: Teardown, routes: Record<string, Handler | Buffer>): Promise<SourceServer> {
  let connections = 0;
  const server = http.createServer((request, response) => {
    const route = routes[(request.url ?? '/').split('?')[0]!];
    if (route === undefined) {
      response.writeHead(404).end('not found');
    } else if (Buffer.isBuffer(route)) {
      response.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': route.length }).end(route);
    } else {
      route(request, response);
    }
  });
  server.on('connection', (socket) => {
    connections++;
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    origin,
    url: (path) => `${origin}${path}`,
    get connections() {
      return connections;
    },
  };
}
