// The platform files: render.yaml (Render), Procfile and app.json (Heroku). They start the service
// the way the image does and set only variables something reads.
import { existsSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { loadConfig, projectRoot, RUNTIME_ENV } from '../../src/config.js';
import { buildTestApp } from '../helpers/app.js';
import {
  argsOf,
  buildVariables,
  dockerStages,
  execForm,
  parseDockerfile,
  readProjectFile,
  readYaml,
  runtimeVariables,
  startCommand,
  settingNames,
} from '../helpers/deploy.js';

interface RenderService {
  type: string;
  name: string;
  runtime: string;
  dockerfilePath?: string;
  plan: string;
  healthCheckPath: string;
  envVars?: { key: string; value?: string; sync?: boolean }[];
}
interface HerokuApp {
  name: string;
  description: string;
  buildpacks: { url: string }[];
  formation?: Record<string, { quantity: number; size: string }>;
  env: Record<string, { description: string; value?: string; required?: boolean }>;
}

const packageJson = JSON.parse(readProjectFile('package.json')) as { scripts: Record<string, string> };
const dockerCmd = execForm(argsOf(dockerStages(parseDockerfile(readProjectFile('Dockerfile'))).at(-1)!, 'CMD')[0]!).join(' ');
const isKnown = (name: string) => settingNames.includes(name) || runtimeVariables.includes(name);

t.test('Procfile: one web process, the same command as the image and `npm start`', async (t) => {
  const lines = readProjectFile('Procfile').split('\n').filter((line) => line.trim() !== '');
  t.equal(lines.length, 1);
  const match = /^web:\s*(.+)$/.exec(lines[0]!);
  t.ok(match, 'a web process');
  t.equal(match?.[1]?.trim(), dockerCmd, 'the Dockerfile CMD');
  t.equal(match?.[1]?.trim(), startCommand(packageJson.scripts.start!), 'npm start, without the variables it sets');
});

t.test('npm start sets the process-level variables of RUNTIME_ENV, unless the environment does', async (t) => {
  for (const [name, value] of Object.entries(RUNTIME_ENV)) t.match(packageJson.scripts.start, `${name}=\${${name}:-${value}}`, name);
});

t.test("npm start execs node, so npm's signals reach the service (test/server.test.ts stops it so)", async (t) => {
  t.match(packageJson.scripts.start, /\sexec node /);
});

t.test('render.yaml: a web service from the Dockerfile, health-checked on a route the app serves', async (t) => {
  const [blueprint] = readYaml('render.yaml') as [{ services: RenderService[] }];
  t.equal(blueprint.services.length, 1);
  const service = blueprint.services[0]!;
  t.equal(service.type, 'web');
  t.equal(service.runtime, 'docker');
  t.ok(existsSync(path.join(projectRoot, service.dockerfilePath ?? 'Dockerfile')), 'the Dockerfile it names exists');
  t.ok(service.plan, 'a plan is named');

  const env = Object.fromEntries((service.envVars ?? []).filter((variable) => variable.value !== undefined).map(({ key, value }) => [key, value!]));
  for (const { key } of service.envVars ?? []) t.ok(isKnown(key) || buildVariables.includes(key), `${key} is known`);
  t.doesNotThrow(() => loadConfig(env), 'the service accepts the values');
  if (env.PORT !== undefined) t.equal(Number(env.PORT), loadConfig({}).PORT, 'PORT is the port the image exposes');

  const app = await buildTestApp(t);
  const response = await app.inject({ method: 'GET', url: service.healthCheckPath });
  t.equal(response.statusCode, 200, `GET ${service.healthCheckPath} answers 200`);
});

t.test('app.json: the Node.js buildpack, a 1 GB dyno, known variables', async (t) => {
  const app = JSON.parse(readProjectFile('app.json')) as HerokuApp;
  t.equal(app.name, 'bg-removal-service');
  t.ok(app.description.length > 20);
  t.same(app.buildpacks, [{ url: 'heroku/nodejs' }]);
  t.equal(app.formation?.web?.size, 'standard-2x', 'Standard-2X is the 1 GB dyno');

  for (const [name, variable] of Object.entries(app.env)) {
    t.ok(isKnown(name) || buildVariables.includes(name), `${name} is known`);
    t.ok(variable.description.length > 10, `${name} says what it is for`);
  }
  t.equal(app.env.MODEL_MIRROR?.required, false, 'MODEL_MIRROR is optional');
  const values = Object.fromEntries(Object.entries(app.env).flatMap(([name, { value }]) => (value === undefined ? [] : [[name, value]])));
  t.doesNotThrow(() => loadConfig(values), 'the service accepts the values');
  for (const [name, value] of Object.entries(RUNTIME_ENV)) t.equal(values[name], value, `${name} as in RUNTIME_ENV (the buildpack runs no Dockerfile)`);
});
