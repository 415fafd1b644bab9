// The service as the container runs it: the Dockerfile's environment and command, under a bounded
// load of 12-megapixel images; its peak resident memory must leave room in a 1 GiB container. And
// the 512 MiB deployments' settings under the same load, in a memory cgroup of 512 MiB, as the
// container's limit: nothing killed, every request answered.
import { request } from 'undici';
import t from 'tap';
import { sceneImage } from '../helpers/images.js';
import { dockerEnv, dockerStages, MEMORY_512_ENV, parseDockerfile, readProjectFile } from '../helpers/deploy.js';
import { createMemoryCgroup } from '../helpers/memory-cgroup.js';
import { startServerProcess, waitForOk } from '../helpers/server-process.js';
import { startSourceServer } from '../helpers/source-server.js';

const LIMIT_MB = 1024;
const REQUESTS = 16;
const CONCURRENCY = 4;

t.setTimeout(300_000);

/** The Dockerfile's environment, on 127.0.0.1 and the free port the helper picks. */
const { PORT: _port, HOST: _host, ...dockerfileEnv } = dockerEnv(dockerStages(parseDockerfile(readProjectFile('Dockerfile'))).at(-1)!);

/** A photo-sized scene (4243x2829 is 12 MP, 6000x4000 24 MP) with a large subject, so the cutout is large too. */
async function photo(t: Parameters<typeof startSourceServer>[0], width = 4243, height = 2829) {
  const image = await sceneImage(width, height, [{ kind: 'circle', x: width / 2, y: height / 2, r: height * 0.4, fill: '#b03020' }], 'jpeg', '#e8e4dc');
  const source = await startSourceServer(t, { '/photo.jpg': image });
  return source.url('/photo.jpg');
}

/** REQUESTS requests of the image at CONCURRENCY; how many succeeded. */
async function load(origin: string, imageUrl: string): Promise<number> {
  let sent = 0;
  let ok = 0;
  const worker = async () => {
    while (sent < REQUESTS) {
      sent++;
      const response = await request(`${origin}/remove-background`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ image_url: imageUrl }),
        headersTimeout: 60_000,
        bodyTimeout: 60_000,
      });
      await response.body.arrayBuffer();
      if (response.statusCode === 200) ok++;
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return ok;
}

t.test(`${REQUESTS} requests of 12 MP at concurrency ${CONCURRENCY} stay well under ${LIMIT_MB} MiB`, async (t) => {
  const imageUrl = await photo(t);
  const server = await startServerProcess(t, { ...dockerfileEnv, LOG_LEVEL: 'warn' });
  await waitForOk(`${server.origin}/ready`);
  const idle = server.memory();
  const ok = await load(server.origin, imageUrl);
  const after = server.memory();

  t.equal(ok, REQUESTS, 'every request succeeded');
  t.comment(
    `with the Dockerfile's environment (${Object.entries(dockerfileEnv).map(([name, value]) => `${name}=${value}`).join(' ')}): ` +
      `idle ${idle.rssMb.toFixed(0)} MiB resident; peak ${after.peakMb.toFixed(0)} MiB under ${REQUESTS} requests of 12 MP at concurrency ${CONCURRENCY}`,
  );
  t.ok(after.peakMb < LIMIT_MB * 0.75, `peak ${after.peakMb.toFixed(0)} MiB leaves a quarter of ${LIMIT_MB} MiB free`);
});

const SMALL_LIMIT_MB = 512;

const cgroup = createMemoryCgroup('bg-removal-memory-test', SMALL_LIMIT_MB);
t.teardown(() => typeof cgroup !== 'string' && cgroup.remove());

t.test(
  `the 512 MiB settings: ${REQUESTS} requests of 24 MP (the largest they take) at concurrency ${CONCURRENCY} in a ${SMALL_LIMIT_MB} MiB memory cgroup`,
  { skip: typeof cgroup === 'string' ? `a memory limit needs a cgroup: ${cgroup}` : false },
  async (t) => {
    if (typeof cgroup === 'string') return;
    t.ok(6000 * 4000 <= Number(MEMORY_512_ENV.MAX_INPUT_PIXELS), 'the image is one the settings take');
    const imageUrl = await photo(t, 6000, 4000);
    const env = { ...dockerfileEnv, ...MEMORY_512_ENV, LOG_LEVEL: 'warn' };
    const server = await startServerProcess(t, env, { cgroup: cgroup.path });
    // The cgroup can be removed only once the process in it has gone.
    t.teardown(async () => {
      if (server.child.exitCode === null) server.child.kill('SIGKILL');
      await server.exited;
    });
    await waitForOk(`${server.origin}/ready`);
    const ok = await load(server.origin, imageUrl);
    const after = server.memory();

    t.equal(ok, REQUESTS, 'every request succeeded');
    t.equal(server.child.exitCode, null, 'the service is still running');
    t.equal(cgroup.oomKills(), 0, 'nothing was killed for memory');
    t.comment(
      `${Object.entries(MEMORY_512_ENV).map(([name, value]) => `${name}=${value}`).join(' ')} in ${SMALL_LIMIT_MB} MiB: ` +
        `peak ${cgroup.peakMb().toFixed(0)} MiB charged to the cgroup (the kernel's count, page cache included), ` +
        `VmHWM ${after.peakMb.toFixed(0)} MiB, limit reached ${cgroup.failures()} times`,
    );
    // The charge includes page cache, which varies from run to run: before the graph rewrite, 404 to
    // 471 MiB over seven runs of the same code at 12 MP, so a tenth's margin (461 MiB) failed one CI
    // run; a twentieth holds. Since, 24 MP: 368 MiB (bike.jpg) here.
    t.ok(cgroup.peakMb() < SMALL_LIMIT_MB * 0.95, `peak ${cgroup.peakMb().toFixed(0)} MiB charged leaves a twentieth of ${SMALL_LIMIT_MB} MiB free`);
  },
);
