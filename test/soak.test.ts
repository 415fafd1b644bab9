// A bounded soak: several hundred requests against the real process, good and bad mixed, reading
// its resident memory from /proc. Memory may grow while allocators warm up, then must level off.
import { request } from 'undici';
import t from 'tap';
import { discImage } from './helpers/images.js';
import { startServerProcess, waitForOk } from './helpers/server-process.js';
import { startSourceServer } from './helpers/source-server.js';

const REQUESTS = 300;
const WARM_UP = 50;
const CONCURRENCY = 2;

// Bounded, but longer than the default per-file limit: about a minute on an idle machine.
t.setTimeout(600_000);

t.test(`${REQUESTS} requests: resident memory levels off`, async (t) => {
  const good = await discImage(640, 480, 'jpeg');
  const source = await startSourceServer(t, {
    '/good.jpg': good,
    '/truncated.jpg': good.subarray(0, good.length / 2),
    '/page.html': Buffer.from('<html></html>'),
  });
  const server = await startServerProcess(t, { LOG_LEVEL: 'warn' });
  await waitForOk(`${server.origin}/ready`);
  const start = server.memory();

  const statuses = new Map<number, number>();
  let warm = start;
  let sent = 0;
  const worker = async () => {
    while (sent < REQUESTS) {
      const n = sent++;
      const path = n % 10 === 3 ? '/truncated.jpg' : n % 10 === 7 ? '/page.html' : '/good.jpg';
      const response = await request(`${server.origin}/remove-background`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ image_url: source.url(path) }),
        headersTimeout: 30_000,
        bodyTimeout: 30_000,
      });
      await response.body.arrayBuffer();
      statuses.set(response.statusCode, (statuses.get(response.statusCode) ?? 0) + 1);
      if (n === WARM_UP) warm = server.memory();
    }
  };
  const started = Date.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const end = server.memory();
  const seconds = (Date.now() - started) / 1000;

  t.same(Object.fromEntries(statuses), { 200: REQUESTS * 0.8, 415: REQUESTS * 0.1, 422: REQUESTS * 0.1 }, 'every answer as expected');
  t.comment(
    `resident memory: ${start.rssMb.toFixed(0)} MB after start, ${warm.rssMb.toFixed(0)} MB after ${WARM_UP} requests, ` +
      `${end.rssMb.toFixed(0)} MB after ${REQUESTS} (peak ${end.peakMb.toFixed(0)} MB), ${seconds.toFixed(0)} s`,
  );
  t.ok(end.rssMb < warm.rssMb * 1.2 + 20, `no growth after warm-up: ${warm.rssMb.toFixed(0)} -> ${end.rssMb.toFixed(0)} MB`);
  t.equal((await request(`${server.origin}/health`)).statusCode, 200, 'still serving');
});
