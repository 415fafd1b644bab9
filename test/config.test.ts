import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { describeSettings, loadConfig, projectRoot } from '../src/config.js';
import { envExample } from '../scripts/env-example.js';

t.test('defaults', async (t) => {
  const config = loadConfig({});
  t.equal(config.PORT, 8000);
  t.equal(config.HOST, '0.0.0.0');
  t.equal(config.MASK_THRESHOLD, 0.3);
  t.equal(config.MAX_REDIRECTS, 3);
  t.equal(config.MODEL_PATH, path.join(projectRoot, 'models', 'u2netp.onnx'));
  t.equal(config.INFERENCE_THREADS, os.availableParallelism(), '0 means one thread per core');
});

t.test('values from the environment are converted and checked', async (t) => {
  const config = loadConfig({ PORT: '9000', MASK_THRESHOLD: '0.6', LOG_LEVEL: 'warn', MODEL_PATH: '/tmp/x.onnx', INFERENCE_THREADS: '1' });
  t.equal(config.PORT, 9000);
  t.equal(config.MASK_THRESHOLD, 0.6);
  t.equal(config.LOG_LEVEL, 'warn');
  t.equal(config.MODEL_PATH, '/tmp/x.onnx');
  t.equal(config.INFERENCE_THREADS, 1);
});

t.test('empty values count as unset; unrelated variables are ignored', async (t) => {
  const config = loadConfig({ PORT: '  ', PATH: '/usr/bin' });
  t.equal(config.PORT, 8000);
  t.notOk('PATH' in config);
});

t.test('a bad value stops start-up with a message that names it', async (t) => {
  for (const [name, value] of [['PORT', 'eighty'], ['PORT', '70000'], ['MASK_THRESHOLD', '1.5'], ['LOG_LEVEL', 'loud'], ['MAX_DOWNLOAD_BYTES', '0']]) {
    t.throws(() => loadConfig({ [name!]: value }), { name: 'ConfigError', message: new RegExp(`${name}=`) }, `${name}=${value}`);
  }
});

t.test('the config is frozen', async (t) => {
  const config = loadConfig({});
  t.ok(Object.isFrozen(config));
  t.throws(() => {
    (config as { PORT: number }).PORT = 1;
  });
});

t.test('every setting has a default and a description, and .env.example mirrors them', async (t) => {
  for (const setting of describeSettings()) {
    t.not(setting.default, undefined, `${setting.name} has a default`);
    t.ok(setting.description.length > 20, `${setting.name} says what it is for`);
  }
  t.equal(readFileSync(path.join(projectRoot, '.env.example'), 'utf8'), envExample(), 'run `npm run env-example` after changing src/config.ts');
});

t.test('the README documents every setting', async (t) => {
  const readme = readFileSync(path.join(projectRoot, 'README.md'), 'utf8');
  for (const setting of describeSettings()) t.match(readme, `\`${setting.name}\``, setting.name);
});

t.test('HEAP_GROWING_PERCENT reaches V8: the limit its next full collection sets', async (t) => {
  // In a process of its own (the flag is process-wide), from dist/ as the service runs it (`npm test`
  // compiles first): after a full collection V8 traces the factor it grew the limit by.
  const factorAfterCollection = (percent: number): number => {
    const script = [
      `const { applyHeapGrowth } = await import(${JSON.stringify(path.join(projectRoot, 'dist/src/config.js'))});`,
      `applyHeapGrowth({ HEAP_GROWING_PERCENT: ${percent} });`,
      'globalThis.kept = Array.from({ length: 200000 }, (_, i) => ({ i, pair: [i, i + 1] }));',
      'gc();',
    ].join('\n');
    const child = spawnSync(process.execPath, ['--expose-gc', '--trace-gc-verbose', '--input-type=module', '-e', script], { encoding: 'utf8' });
    const factors = [...child.stdout.matchAll(/\[HeapController\] Limit: .*\(([\d.]+)\)/g)].map((match) => Number(match[1]));
    t.equal(child.status, 0, `percent ${percent}: ${child.stderr}`);
    return factors.at(-1) ?? NaN;
  };
  t.equal(factorAfterCollection(400), 5, '400 % grows the limit to five times what the collection kept');
  const own = factorAfterCollection(0);
  t.ok(own > 1 && own < 5, `0 leaves V8's own factor (${own})`);
  t.equal(loadConfig({}).HEAP_GROWING_PERCENT, 400, 'the default');
});

t.test('storage and the public base URL', async (t) => {
  const config = loadConfig({ STORAGE_DIR: 'results', PUBLIC_BASE_URL: 'https://api.example.com/bg/' });
  t.equal(config.STORAGE_DIR, path.join(projectRoot, 'results'), 'relative to the project folder');
  t.equal(config.PUBLIC_BASE_URL, 'https://api.example.com/bg', 'trailing slash dropped');
  t.equal(loadConfig({}).PUBLIC_BASE_URL, '', "empty: the request's origin");
  for (const value of ['api.example.com', 'ftp://example.com', 'https://example.com/?x=1', 'https://u:p@example.com']) {
    t.throws(() => loadConfig({ PUBLIC_BASE_URL: value }), { name: 'ConfigError', message: /PUBLIC_BASE_URL/ }, value);
  }
});
