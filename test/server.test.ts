// The process itself: graceful shutdown on SIGTERM.
import { request } from 'undici';
import t from 'tap';
import { discImage } from './helpers/images.js';
import { isAlive, startServerProcess, waitForOk } from './helpers/server-process.js';
import { startSourceServer } from './helpers/source-server.js';

t.test('SIGTERM: /ready turns 503, new work is refused, requests in flight finish, exit code 0', async (t) => {
  const disc = await discImage(1600, 1200, 'jpeg');
  // One source answers only when the test says: its request stays in flight, so the service is
  // still draining (not already gone) when the test asks it for more work.
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  let heldAsked = false;
  const source = await startSourceServer(t, {
    '/disc.jpg': disc,
    '/held.jpg': (_request, response) => {
      heldAsked = true;
      void released.then(() => response.writeHead(200, { 'content-length': disc.length }).end(disc));
    },
  });
  const server = await startServerProcess(t, { MAX_CONCURRENCY: '1', QUEUE_LIMIT: '8', SHUTDOWN_GRACE_MS: '30000' });
  await waitForOk(`${server.origin}/ready`);

  const post = (path = '/disc.jpg') =>
    request(`${server.origin}/remove-background`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ image_url: source.url(path) }),
    });
  const inFlight = [post(), post(), post('/held.jpg')];
  // Let all three be admitted (each has asked for its image) before the signal.
  while (!heldAsked || server.logs.length === 0) await new Promise((resolve) => setTimeout(resolve, 10));
  await new Promise((resolve) => setTimeout(resolve, 150));
  server.child.kill('SIGTERM');
  while (!server.logs.some((entry) => entry.msg === 'draining')) await new Promise((resolve) => setTimeout(resolve, 10));

  const ready = await request(`${server.origin}/ready`);
  t.equal(ready.statusCode, 503, '/ready says draining');
  t.same(await ready.body.json(), { status: 'draining' });
  const refused = await post();
  t.equal(refused.statusCode, 503, 'new work is refused');
  t.equal(((await refused.body.json()) as { error: { code: string } }).error.code, 'not_ready');
  release();

  const answers = await Promise.all(inFlight);
  for (const answer of answers) {
    t.equal(answer.statusCode, 200, 'an in-flight request finished');
    t.equal(answer.headers['content-type'], 'image/png');
    await answer.body.arrayBuffer();
  }
  t.equal(await server.exited, 0, 'the process exited 0');
  t.ok(server.logs.some((entry) => entry.msg === 'stopped'), 'after a clean stop');
});

t.test('npm start: SIGTERM to npm reaches the service, which drains and exits; nothing is left running', async (t) => {
  const source = await startSourceServer(t, { '/disc.jpg': await discImage(1600, 1200, 'jpeg') });
  const server = await startServerProcess(t, { SHUTDOWN_GRACE_MS: '30000' }, { npmStart: true });
  await waitForOk(`${server.origin}/ready`);
  const pid = server.servicePid();
  t.ok(pid !== undefined && pid !== server.child.pid, `the service (${pid}) is not npm (${server.child.pid})`);

  const inFlight = request(`${server.origin}/remove-background`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ image_url: source.url('/disc.jpg') }),
  });
  while (source.connections === 0) await new Promise((resolve) => setTimeout(resolve, 10));
  server.child.kill('SIGTERM'); // npm's pid, as `kill -TERM` or Ctrl-C in a terminal would
  const answer = await inFlight;
  t.equal(answer.statusCode, 200, 'the request in flight finished');
  await answer.body.arrayBuffer();
  t.equal(await server.exited, 0, 'npm exited 0, after the service');
  t.ok(server.logs.some((entry) => entry.msg === 'draining') && server.logs.some((entry) => entry.msg === 'stopped'), 'the service drained and stopped');
  t.notOk(isAlive(pid!), 'and is gone, not left behind with parent 1');
});

t.test('a second signal during the drain exits at once', async (t) => {
  const server = await startServerProcess(t);
  await waitForOk(`${server.origin}/ready`);
  server.child.kill('SIGTERM');
  server.child.kill('SIGINT');
  t.equal(await server.exited, 0);
});

t.test('a bad setting stops start-up with a clear message and exit code 1', async (t) => {
  const { spawnSync } = await import('node:child_process');
  const { projectRoot } = await import('../src/config.js');
  const result = spawnSync(process.execPath, [`${projectRoot}/dist/src/server.js`], { env: { ...process.env, PORT: 'eighty' }, encoding: 'utf8' });
  t.equal(result.status, 1);
  t.match(result.stderr, /cannot start: invalid configuration:\n\s+PORT="eighty"/);
});
