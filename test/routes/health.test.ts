import t from 'tap';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';

t.test('/health answers while alive; /ready only once the model is warm', async (t) => {
  const app = await buildApp(loadConfig({ LOG_LEVEL: 'silent' }));
  t.teardown(() => app.close());
  await app.ready();
  const health = await app.inject({ method: 'GET', url: '/health' });
  t.equal(health.statusCode, 200);
  t.same(health.json(), { status: 'ok' });

  const early = await app.inject({ method: 'GET', url: '/ready' });
  if (!app.model.warm) {
    t.equal(early.statusCode, 503, 'not ready before the warm-up inference');
    t.same(early.json(), { status: 'starting' });
  }
  await app.model.warmed;
  const ready = await app.inject({ method: 'GET', url: '/ready' });
  t.equal(ready.statusCode, 200);
  t.same(ready.json(), { status: 'ready' });
});

t.test('a missing model stops start-up with a message naming the fetch command', async (t) => {
  await t.rejects(buildApp(loadConfig({ LOG_LEVEL: 'silent', MODEL_PATH: '/nonexistent/u2netp.onnx' })), /npm run fetch-model/);
});

t.test('a corrupt model stops start-up too', async (t) => {
  const dir = t.testdir({ 'u2netp.onnx': 'not a model' });
  await t.rejects(buildApp(loadConfig({ LOG_LEVEL: 'silent', MODEL_PATH: `${dir}/u2netp.onnx` })), /corrupt or unknown.*npm run fetch-model/);
});
