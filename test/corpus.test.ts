// The hostile and unusual inputs of scripts/generate-corpus.ts, over HTTP: each gets its documented
// status and code, and after each one the service still removes a background.
import t from 'tap';
import { buildCorpus, SCENE } from '../scripts/generate-corpus.js';
import { buildTestApp } from './helpers/app.js';
import { decodeImageBytes, discImage } from './helpers/images.js';
import { startSourceServer } from './helpers/source-server.js';

// About a hundred requests, most of them with an inference: longer than the default per-file limit.
t.setTimeout(300_000);

t.test('every corpus file gets its documented answer, and the service keeps serving', async (t) => {
  const corpus = await buildCorpus();
  t.ok(corpus.length >= 40, `${corpus.length} files`);
  const app = await buildTestApp(t);
  const source = await startSourceServer(t, {
    ...Object.fromEntries(corpus.map((item) => [`/${item.name}`, item.bytes])),
    '/good.png': await discImage(),
  });
  const post = (path: string, extra: Record<string, unknown> = {}) =>
    app.inject({ method: 'POST', url: '/remove-background', payload: { image_url: source.url(path), ...extra } });

  for (const item of corpus) {
    const hidesPixels = /hidden|alpha\.webp|palette-alpha/.test(item.name);
    const response = await post(`/${item.name}`, hidesPixels ? { crop: false } : {});
    t.equal(response.statusCode, item.expect.status, `${item.name}: ${item.note}`);
    if ('code' in item.expect) {
      t.equal(response.json().error.code, item.expect.code, `${item.name} code`);
    } else if (item.name.startsWith('orientation-') || item.name.endsWith('.jpg')) {
      // Upright: the input is 400x300 and the disc is in its top-left quadrant.
      t.same([response.headers['x-width'], response.headers['x-height']], [String(SCENE.width), String(SCENE.height)], `${item.name} size`);
      t.ok(Number(response.headers['x-foreground-left']) < SCENE.width / 2 && Number(response.headers['x-foreground-top']) < SCENE.height / 2, `${item.name} disc top-left`);
    }
    if (hidesPixels && response.statusCode === 200) {
      // The input hides everything right of x = disc centre; so must the output, at full size.
      const png = await decodeImageBytes(response.rawPayload);
      let shown = 0;
      for (let y = 0; y < png.height; y++) for (let x = SCENE.disc.x + 1; x < png.width; x++) if (png.data[(y * png.width + x) * 4 + 3] !== 0) shown++;
      t.equal(shown, 0, `${item.name}: nothing the input hid is shown`);
    }
    const good = await post('/good.png');
    t.equal(good.statusCode, 200, `a good request after ${item.name}`);
  }
});
