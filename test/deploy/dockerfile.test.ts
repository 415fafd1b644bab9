// The Dockerfile and .dockerignore, checked by reading them (no Docker engine in the test run) and
// by running the image's HEALTHCHECK command against a real server.
import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import path from 'node:path';
import t from 'tap';
import { loadConfig, projectRoot, RUNTIME_ENV } from '../../src/config.js';
import { buildTestApp } from '../helpers/app.js';
import {
  argsOf,
  buildVariables,
  dockerEnv,
  dockerIgnores,
  dockerignorePatterns,
  dockerStages,
  execForm,
  parseDockerfile,
  readProjectFile,
  runtimeVariables,
  startCommand,
  settingNames,
} from '../helpers/deploy.js';

const stages = dockerStages(parseDockerfile(readProjectFile('Dockerfile')));
const build = stages[0]!;
const runtime = stages.at(-1)!;
const packageJson = JSON.parse(readProjectFile('package.json')) as { scripts: Record<string, string> };

t.test('two stages on the same glibc Node LTS base', async (t) => {
  t.equal(stages.length, 2);
  t.equal(build.name, 'build');
  t.equal(build.image, 'node:22-bookworm-slim');
  // Native modules (sharp, onnxruntime-node) are installed in the build stage and run in the runtime one.
  t.equal(runtime.image, build.image, 'the runtime stage runs on the image the native modules were installed on');
});

t.test('the build stage installs, builds, fetches the model and prunes dev dependencies', async (t) => {
  const run = argsOf(build, 'RUN').join('\n');
  t.match(run, /^npm ci\b/, 'npm ci runs the prepare script: tsc and fetch-model');
  t.match(run, /npm prune --omit=dev/);
  t.same(argsOf(build, 'ARG').map((arg) => arg.split('=')[0]), ['MODEL_MIRROR']);
  t.match(readProjectFile('scripts', 'fetch-model.ts'), 'process.env.MODEL_MIRROR', 'fetch-model reads the build argument');
});

t.test('the build context holds what the build copies, and not local state or weights', async (t) => {
  const patterns = dockerignorePatterns(readProjectFile('.dockerignore'));
  for (const args of argsOf(build, 'COPY')) {
    const sources = args.split(/\s+/).slice(0, -1);
    for (const source of sources) {
      const folder = path.join(projectRoot, path.dirname(source));
      const matches = source.includes('*')
        ? readdirMatching(folder, path.basename(source))
        : existsSync(path.join(projectRoot, source))
          ? [path.basename(source)]
          : [];
      t.ok(matches.length > 0, `${source} exists`);
      for (const name of matches) {
        const file = path.posix.join(path.dirname(source), name).replace(/^\.\//, '');
        t.notOk(dockerIgnores(patterns, file), `${file} is sent to the build`);
      }
    }
  }
  for (const kept of ['src/server.ts', 'model-mirror/u2netp.onnx', 'model-mirror/SHA256SUMS']) {
    t.notOk(dockerIgnores(patterns, kept), `${kept} reaches the build`);
  }
  for (const left of ['node_modules/fastify/package.json', 'dist/src/server.js', '.git/HEAD', 'models/u2netp.onnx', 'coverage/x', '.tap/x', 'bench-results/x', '.env']) {
    t.ok(dockerIgnores(patterns, left), `${left} stays out of the context`);
  }
});

t.test('the runtime stage holds production files only, runs as a non-root user under tini', async (t) => {
  const copies = argsOf(runtime, 'COPY');
  t.ok(copies.every((args) => args.startsWith('--from=build ')), 'everything comes from the build stage');
  t.same(copies.map((args) => args.split(/\s+/)[1]).sort(), ['/app/dist', '/app/models', '/app/node_modules', '/app/package.json']);

  const user = argsOf(runtime, 'USER');
  t.equal(user.length, 1);
  t.match(user[0], /^[1-9][0-9]*(:[0-9]+)?$/, 'a numeric, non-root user');

  t.same(execForm(argsOf(runtime, 'ENTRYPOINT')[0]!), ['/usr/bin/tini', '--']);
  t.match(argsOf(runtime, 'RUN').join('\n'), /apt-get install -y --no-install-recommends tini/);
  t.same(execForm(argsOf(runtime, 'CMD')[0]!).join(' '), startCommand(packageJson.scripts.start!), 'CMD is `npm start` without npm');
});

t.test('the runtime environment: known variables, valid values, port matches EXPOSE', async (t) => {
  const env = dockerEnv(runtime);
  for (const [name, value] of Object.entries(RUNTIME_ENV)) t.equal(env[name], value, `${name} as in RUNTIME_ENV`);
  for (const name of Object.keys(env)) {
    t.ok(settingNames.includes(name) || runtimeVariables.includes(name), `${name} is a setting or a runtime variable`);
    t.notOk(buildVariables.includes(name), `${name} is not a build-time variable leaking into the image`);
  }
  t.doesNotThrow(() => loadConfig(env), 'the service accepts the values');
  t.same(
    { NODE_ENV: env.NODE_ENV, HOST: env.HOST, PORT: env.PORT, MALLOC_ARENA_MAX: env.MALLOC_ARENA_MAX, UV_THREADPOOL_SIZE: env.UV_THREADPOOL_SIZE },
    { NODE_ENV: 'production', HOST: '0.0.0.0', PORT: String(loadConfig({}).PORT), MALLOC_ARENA_MAX: '2', UV_THREADPOOL_SIZE: '2' },
  );
  t.same(argsOf(runtime, 'EXPOSE'), [String(loadConfig({}).PORT)]);
});

t.test('the HEALTHCHECK command passes against a live service and fails when none answers', async (t) => {
  const healthcheck = argsOf(runtime, 'HEALTHCHECK');
  t.equal(healthcheck.length, 1);
  const [options, command] = healthcheck[0]!.split(/\s+CMD\s+/);
  t.match(options, /--interval=\d+s/);
  t.match(options, /--start-period=\d+s/, 'model loading gets a grace period');
  const [executable, ...args] = execForm(command!);
  t.equal(executable, 'node', 'slim images have no curl');
  t.match(args.join(' '), /'\/health'/, 'it asks /health');

  const app = await buildTestApp(t);
  await app.listen({ host: '127.0.0.1', port: 0 });
  const port = (app.server.address() as AddressInfo).port;
  t.equal(await exitCode(args, { PORT: String(port) }), 0, 'healthy service: exit 0');
  t.equal(await exitCode(args, { PORT: String(await closedPort()) }), 1, 'nothing listening: exit 1');
});

function readdirMatching(folder: string, glob: string): string[] {
  const pattern = new RegExp(`^${glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`);
  return existsSync(folder) ? readdirSync(folder).filter((name) => pattern.test(name)) : [];
}

function exitCode(args: string[], env: NodeJS.ProcessEnv): Promise<number | string> {
  return new Promise((resolve) => {
    execFile(process.execPath, args, { env, timeout: 10_000 }, (error) => resolve(error ? (error.code ?? 'killed') : 0));
  });
}

/** A port on 127.0.0.1 that nothing listens on (just opened and closed again). */
function closedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
