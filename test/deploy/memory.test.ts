// The service as the container runs it: the Dockerfile's environment and command, under a bounded
// load of 12-megapixel images; its peak resident memory must leave room in a 1 GiB container.
import { request } from 'undici';
import t from 'tap';
import { sceneImage } from '../helpers/images.js';
import { dockerEnv, dockerStages, parseDockerfile, readProjectFile } from '../helpers/deploy.js';
import { startServerProcess, waitForOk } from '../helpers/server-process.js';
import { startSourceServer } from '../helpers/source-server.js';

const LIMIT_MB = 1024;
const REQUESTS = 16;
const CONCURRENCY = 4;

t.setTimeout(300_000);

t.test(`${REQUESTS} requests of 12 MP at concurrency ${CONCURRENCY} stay well under ${LIMIT_MB} MiB`, async (t) => {
  // The image's environment, but on 127.0.0.1 and the free port the helper picks.
  const { PORT: _port, HOST: _host, ...env } = dockerEnv(dockerStages(parseDockerfile(readProjectFile('Dockerfile'))).at(-1)!);
  // A photo-sized scene: 4243x2829 (12 MP) with a large subject, so the cutout is large too.
  const width = 4243;
  const height = 2829;
  const image = await sceneImage(width, height, [{ kind: 'circle', x: width / 2, y: height / 2, r: height * 0.4, fill: '#b03020' }], 'jpeg', '#e8e4dc');
  const source = await startSourceServer(t, { '/12mp.jpg': image });
  const server = await startServerProcess(t, { ...env, LOG_LEVEL: 'warn' });
  await waitForOk(`${server.origin}/ready`);
  const idle = server.memory();

  let sent = 0;
  let ok = 0;
  const worker = async () => {
    while (sent < REQUESTS) {
      sent++;
      const response = await request(`${server.origin}/remove-background`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ image_url: source.url('/12mp.jpg') }),
        headersTimeout: 60_000,
        bodyTimeout: 60_000,
      });
      await response.body.arrayBuffer();
      if (response.statusCode === 200) ok++;
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const after = server.memory();

  t.equal(ok, REQUESTS, 'every request succeeded');
  t.comment(
    `with the Dockerfile's environment (${Object.entries(env).map(([name, value]) => `${name}=${value}`).join(' ')}): ` +
      `idle ${idle.rssMb.toFixed(0)} MiB resident; peak ${after.peakMb.toFixed(0)} MiB under ${REQUESTS} requests of 12 MP at concurrency ${CONCURRENCY}`,
  );
  t.ok(after.peakMb < LIMIT_MB * 0.75, `peak ${after.peakMb.toFixed(0)} MiB leaves a quarter of ${LIMIT_MB} MiB free`);
});
