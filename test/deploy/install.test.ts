// The install: `npm ci` must never run onnxruntime-node's install script, which downloads its CUDA
// binaries from NuGet (hundreds of MB, and a failure offline). package.json's allowScripts denies it;
// npm 11.16 and later honour that (npm 12 blocks every script not allowed). The Dockerfile's npm is
// older and is told through the script's own variable instead.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { projectRoot } from '../../src/config.js';
import { parseDockerfile, readProjectFile } from '../helpers/deploy.js';

const packageJson = JSON.parse(readProjectFile('package.json')) as { allowScripts?: Record<string, boolean>; engines?: Record<string, string> };
/** The environment without anything that would tell the script to skip by itself: only allowScripts may stop it. */
const plainEnv = Object.fromEntries(Object.entries(process.env).filter(([name]) => !/onnxruntime/i.test(name)));
const npmVersion = spawnSync('npm', ['--version'], { encoding: 'utf8', env: plainEnv }).stdout.trim();
const [major = 0, minor = 0] = npmVersion.split('.').map(Number);
const npmReadsAllowScripts = major > 11 || (major === 11 && minor >= 16);

t.test('package.json denies onnxruntime-node its install script; no npm config of our own is needed', async (t) => {
  t.equal(packageJson.allowScripts?.['onnxruntime-node'], false);
  t.notOk(existsSync(path.join(projectRoot, '.npmrc')), 'no .npmrc (npm warns about keys it does not know, and will stop reading them)');
  t.equal(packageJson.engines?.node, '>=20.20.0', 'the oldest Node the suite runs on');
});

t.test("this machine's npm does not run the script", { skip: npmReadsAllowScripts ? false : `npm ${npmVersion} does not read allowScripts (11.16 or later does)` }, async (t) => {
  // What npm ci does to each package after unpacking it, for this one package alone.
  const result = spawnSync('npm', ['rebuild', 'onnxruntime-node', '--foreground-scripts'], { cwd: projectRoot, encoding: 'utf8', env: plainEnv, timeout: 60_000 });
  t.equal(result.status, 0, result.stderr);
  t.notMatch(`${result.stdout}${result.stderr}`, /script\/install|nuget|not yet covered by allowScripts/i, 'the script did not run, and npm has nothing to ask about it');
  t.notOk(existsSync(path.join(projectRoot, 'node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime_providers_cuda.so')), 'no CUDA binaries');
});

t.test('the Dockerfile tells the script to skip, for the npm its image bundles', async (t) => {
  const build = parseDockerfile(readProjectFile('Dockerfile')).filter((instruction) => instruction.keyword === 'ENV');
  t.ok(build.some((instruction) => /\bONNXRUNTIME_NODE_INSTALL=skip\b/.test(instruction.args)));
});
