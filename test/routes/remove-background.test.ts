import sharp from 'sharp';
import t from 'tap';
import { buildTestApp } from '../helpers/app.js';
import { blankImage, decodeImageBytes, discImage, sceneImage } from '../helpers/images.js';
import { startSourceServer } from '../helpers/source-server.js';

// Two red discs on white: the model sees both, the left one is larger.
const BIG = { x: 140, y: 180, r: 90 };
const SMALL = { x: 370, y: 180, r: 60 };
const twoDiscs = () =>
  sceneImage(480, 360, [
    { kind: 'circle', ...BIG, fill: '#d02020' },
    { kind: 'circle', ...SMALL, fill: '#d02020' },
  ]);

const alphaAt = (image: { data: Buffer; width: number; channels: number }, x: number, y: number) =>
  image.data[(y * image.width + x) * image.channels + image.channels - 1]!;

t.test('POST /remove-background', async (t) => {
  const app = await buildTestApp(t);
  const jpeg = await discImage(480, 360, 'jpeg');
  const source = await startSourceServer(t, {
    '/disc.jpg': jpeg,
    '/disc.png': await discImage(),
    '/two.png': await twoDiscs(),
    '/disc-large.jpg': await discImage(960, 720, 'jpeg'),
    '/blank.png': await blankImage(),
    '/page.html': Buffer.from('<!doctype html><html><body>not an image</body></html>'),
    '/truncated.jpg': jpeg.subarray(0, Math.floor(jpeg.length / 3)),
  });
  const post = (body: Record<string, unknown>) => app.inject({ method: 'POST', url: '/remove-background', payload: body });

  t.test('answers a cropped transparent PNG with the box in its headers', async (t) => {
    const response = await post({ image_url: source.url('/disc.jpg') });
    t.equal(response.statusCode, 200);
    t.equal(response.headers['content-type'], 'image/png');
    t.equal(response.headers['x-width'], '480');
    t.equal(response.headers['x-height'], '360');
    const png = await decodeImageBytes(response.rawPayload);
    t.equal(png.format, 'png');
    t.equal(png.channels, 4, 'has an alpha channel');
    t.equal(png.width, Number(response.headers['x-foreground-width']));
    t.equal(png.height, Number(response.headers['x-foreground-height']));
    // The disc (radius 90 at the centre) fills the box, give or take the soft edge.
    t.ok(Math.abs(png.width - 180) <= 12 && Math.abs(png.height - 180) <= 12, `box ${png.width}x${png.height}`);
    t.ok(Math.abs(Number(response.headers['x-foreground-left']) - 150) <= 6);
    const centre = (Math.floor(png.height / 2) * png.width + Math.floor(png.width / 2)) * 4;
    t.ok(png.data[centre + 3]! > 250, 'the subject is opaque');
    t.ok(png.data[centre]! > 180 && png.data[centre + 1]! < 70, 'with its own colour');
    t.equal(alphaAt(png, 0, 0), 0, 'corners are transparent');
    t.match(response.headers['server-timing'], /^fetch;dur=[\d.]+, decode;dur=[\d.]+, infer;dur=[\d.]+, mask;dur=[\d.]+, encode;dur=[\d.]+, total;dur=[\d.]+$/);
    t.ok(response.headers['x-request-id']);
  });

  t.test('colours stay straight: every visible pixel keeps the input colour exactly', async (t) => {
    const response = await post({ image_url: source.url('/disc.png'), crop: false });
    const png = await decodeImageBytes(response.rawPayload);
    const input = await decodeImageBytes(await discImage());
    let soft = 0;
    let changed = 0;
    for (let p = 0; p < png.width * png.height; p++) {
      const alpha = png.data[p * 4 + 3]!;
      if (alpha === 0) continue;
      if (alpha < 255) soft++;
      for (let c = 0; c < 3; c++) if (png.data[p * 4 + c] !== input.data[p * input.channels + c]) changed++;
    }
    t.ok(soft > 100, `the edge is soft (${soft} semi-transparent pixels)`);
    t.equal(changed, 0, 'no colour is premultiplied or otherwise changed');
  });

  t.test('subject "largest" keeps only the larger disc; everything else is fully transparent', async (t) => {
    const response = await post({ image_url: source.url('/two.png'), crop: false });
    t.equal(response.statusCode, 200);
    const png = await decodeImageBytes(response.rawPayload);
    t.equal(png.width, 480, 'crop:false keeps the size');
    t.equal(png.height, 360);
    t.ok(alphaAt(png, BIG.x, BIG.y) > 250, 'large disc kept');
    for (let y = SMALL.y - SMALL.r - 10; y <= SMALL.y + SMALL.r + 10; y += 2) {
      for (let x = SMALL.x - SMALL.r - 10; x <= SMALL.x + SMALL.r + 10; x += 2) {
        if (alphaAt(png, x, y) !== 0) return t.fail(`alpha ${alphaAt(png, x, y)} at ${x},${y} in the discarded disc`);
      }
    }
    t.pass('the smaller disc and its surroundings have alpha 0');
    const left = Number(response.headers['x-foreground-left']);
    const width = Number(response.headers['x-foreground-width']);
    t.ok(left + width < SMALL.x - SMALL.r, 'the box covers only the larger disc');
    // Outside the reported box, alpha is 0 everywhere.
    let outside = 0;
    const top = Number(response.headers['x-foreground-top']);
    const height = Number(response.headers['x-foreground-height']);
    for (let y = 0; y < png.height; y++) {
      for (let x = 0; x < png.width; x++) {
        const inBox = x >= left && x < left + width && y >= top && y < top + height;
        if (!inBox && alphaAt(png, x, y) !== 0) outside++;
      }
    }
    t.equal(outside, 0, 'no alpha outside the box');
  });

  t.test('subject "all" keeps both discs', async (t) => {
    const response = await post({ image_url: source.url('/two.png'), subject: 'all' });
    const png = await decodeImageBytes(response.rawPayload);
    t.ok(png.width > SMALL.x + SMALL.r - (BIG.x - BIG.r) - 12, `box ${png.width} spans both discs`);
    const left = Number(response.headers['x-foreground-left']);
    const top = Number(response.headers['x-foreground-top']);
    t.ok(alphaAt(png, SMALL.x - left, SMALL.y - top) > 250);
    t.ok(alphaAt(png, BIG.x - left, BIG.y - top) > 250);
  });

  t.test('subject "group" keeps the smaller disc too: it is more than a fifth of the larger', async (t) => {
    const response = await post({ image_url: source.url('/two.png'), subject: 'group', crop: false });
    t.equal(response.statusCode, 200);
    const png = await decodeImageBytes(response.rawPayload);
    t.ok(alphaAt(png, SMALL.x, SMALL.y) > 250);
    t.ok(alphaAt(png, BIG.x, BIG.y) > 250);
  });

  t.test('refine: false keeps the soft alpha of the model; refine steepens it', async (t) => {
    const soft = async (body: Record<string, unknown>) => {
      const response = await post({ image_url: source.url('/disc.png'), channels: 'alpha', crop: false, ...body });
      t.equal(response.statusCode, 200);
      const png = await decodeImageBytes(response.rawPayload);
      let count = 0;
      for (const value of png.data) if (value > 0 && value < 255) count++;
      return count;
    };
    const refined = await soft({});
    const raw = await soft({ refine: false });
    t.ok(refined < raw, `semi-transparent pixels: ${refined} refined, ${raw} as the model gives them`);
  });

  t.test('large images get the edge filter, timed as its own stage; quality "high" runs the model twice', async (t) => {
    const standard = await post({ image_url: source.url('/disc-large.jpg') });
    t.equal(standard.statusCode, 200);
    t.match(standard.headers['server-timing'], /mask;dur=[\d.]+, refine;dur=[\d.]+, encode/);
    const unrefined = await post({ image_url: source.url('/disc-large.jpg'), refine: false });
    t.notMatch(unrefined.headers['server-timing'], /refine/);
    const high = await post({ image_url: source.url('/disc-large.jpg'), quality: 'high' });
    t.equal(high.statusCode, 200);
    const inference = (r: typeof high) => Number(/infer;dur=([\d.]+)/.exec(String(r.headers['server-timing']))![1]);
    t.ok(inference(high) > inference(standard), `infer ${inference(high)} ms for high, ${inference(standard)} ms for standard`);
    for (const box of ['left', 'top', 'width', 'height']) {
      const key = `x-foreground-${box}`;
      t.ok(Math.abs(Number(high.headers[key]) - Number(standard.headers[key])) <= 8, `${key} agrees within 8 px`);
    }
  });

  t.test('margin pads the crop box, clamped to the image', async (t) => {
    const plain = await post({ image_url: source.url('/disc.png') });
    const padded = await post({ image_url: source.url('/disc.png'), margin: 20 });
    const huge = await post({ image_url: source.url('/disc.png'), margin: 5000 });
    const size = async (r: typeof plain) => {
      const png = await decodeImageBytes(r.rawPayload);
      return [png.width, png.height];
    };
    const [w, h] = await size(plain);
    t.same(await size(padded), [w! + 40, h! + 40]);
    t.equal(Number(padded.headers['x-foreground-left']), Number(plain.headers['x-foreground-left']) - 20);
    t.same(await size(huge), [480, 360]);
    t.equal(huge.headers['x-foreground-left'], '0');
  });

  t.test('channels "alpha" answers the mask as a greyscale PNG', async (t) => {
    const response = await post({ image_url: source.url('/disc.png'), channels: 'alpha', crop: false });
    t.equal(response.statusCode, 200);
    const png = await decodeImageBytes(response.rawPayload);
    t.equal(png.channels, 1);
    t.same([png.width, png.height], [480, 360]);
    t.equal(png.data[180 * 480 + 240], 255);
    t.equal(png.data[0], 0);
  });

  t.test('an image without a subject is 422 no_foreground', async (t) => {
    const response = await post({ image_url: source.url('/blank.png') });
    t.equal(response.statusCode, 422);
    t.same(response.json().error.code, 'no_foreground');
  });

  t.test('errors carry a stable code and the right status', async (t) => {
    const cases: [Record<string, unknown> | string, number, string][] = [
      [{}, 400, 'invalid_request'],
      [{ image_url: source.url('/disc.png'), extra: true }, 400, 'invalid_request'],
      [{ image_url: source.url('/disc.png'), crop: 'yes' }, 400, 'invalid_request'],
      [{ image_url: source.url('/disc.png'), margin: -1 }, 400, 'invalid_request'],
      [{ image_url: source.url('/disc.png'), subject: 'biggest' }, 400, 'invalid_request'],
      [{ image_url: source.url('/disc.png'), refine: 'yes' }, 400, 'invalid_request'],
      [{ image_url: source.url('/disc.png'), quality: 'best' }, 400, 'invalid_request'],
      [{ image_url: 'not a url' }, 400, 'invalid_request'],
      [{ image_url: 'ftp://127.0.0.1/disc.png' }, 400, 'unsupported_url'],
      [{ image_url: `http://user:pw@127.0.0.1:1/x.png` }, 400, 'unsupported_url'],
      [{ image_url: source.url('/missing.png') }, 502, 'source_status'],
      [{ image_url: 'http://127.0.0.1:1/nothing-listens-here.png' }, 502, 'source_unreachable'],
      [{ image_url: source.url('/page.html') }, 415, 'unsupported_media_type'],
      [{ image_url: source.url('/truncated.jpg') }, 422, 'image_decode_failed'],
    ];
    for (const [body, status, code] of cases) {
      const response = await post(body as Record<string, unknown>);
      t.equal(response.statusCode, status, `${JSON.stringify(body)} -> ${status}`);
      t.equal(response.json().error.code, code);
      t.type(response.json().error.message, 'string');
    }
    const missing = await post({ image_url: source.url('/missing.png') });
    t.match(missing.json().error.message, /404/, 'the source status is in the message');
  });

  t.test('a body that is not JSON is refused', async (t) => {
    const text = await app.inject({ method: 'POST', url: '/remove-background', payload: 'image_url=x', headers: { 'content-type': 'text/plain' } });
    t.equal(text.statusCode, 415);
    t.equal(text.json().error.code, 'unsupported_media_type');
    const broken = await app.inject({ method: 'POST', url: '/remove-background', payload: '{"image_url":', headers: { 'content-type': 'application/json' } });
    t.equal(broken.statusCode, 400);
    t.equal(broken.json().error.code, 'invalid_request');
  });

  t.test('the service keeps answering after every error', async (t) => {
    const response = await post({ image_url: source.url('/disc.png') });
    t.equal(response.statusCode, 200);
  });

  t.test('unknown routes answer 404 not_found in the same shape', async (t) => {
    const response = await app.inject({ method: 'GET', url: '/nope' });
    t.equal(response.statusCode, 404);
    t.equal(response.json().error.code, 'not_found');
  });

  t.test('a caller-supplied request id is echoed; a hostile one is replaced', async (t) => {
    const kept = await app.inject({ method: 'GET', url: '/health', headers: { 'x-request-id': 'abc-123' } });
    t.equal(kept.headers['x-request-id'], 'abc-123');
    const replaced = await app.inject({ method: 'GET', url: '/health', headers: { 'x-request-id': 'bad id\nwith newline' } });
    t.not(replaced.headers['x-request-id'], 'bad id\nwith newline');
  });
});

t.test('with default settings, sources inside the network are refused and never contacted', async (t) => {
  const app = await buildTestApp(t, { ALLOW_PRIVATE_NETWORKS: 'false' });
  const source = await startSourceServer(t, { '/disc.png': await discImage() });
  const port = new URL(source.origin).port;
  for (const url of [
    `http://127.0.0.1:${port}/disc.png`,
    `http://localhost:${port}/disc.png`,
    `http://[::1]:${port}/disc.png`,
    `http://[::ffff:127.0.0.1]:${port}/disc.png`,
    `http://2130706433:${port}/disc.png`,
    'http://169.254.169.254/latest/meta-data/iam/',
    'http://10.1.2.3/disc.png',
  ]) {
    const response = await app.inject({ method: 'POST', url: '/remove-background', payload: { image_url: url } });
    t.equal(response.statusCode, 403, url);
    t.equal(response.json().error.code, 'forbidden_address');
  }
  t.equal(source.connections, 0, 'no connection reached the server');
});

t.test('ALLOWED_HOSTS limits the hosts images come from', async (t) => {
  const app = await buildTestApp(t, { ALLOWED_HOSTS: 'images.example.com' });
  const source = await startSourceServer(t, { '/disc.png': await discImage() });
  const response = await app.inject({ method: 'POST', url: '/remove-background', payload: { image_url: source.url('/disc.png') } });
  t.equal(response.statusCode, 403);
  t.equal(response.json().error.code, 'forbidden_host');
  t.equal(source.connections, 0);
});

t.test('a source larger than MAX_DOWNLOAD_BYTES is 413 too_large', async (t) => {
  const app = await buildTestApp(t, { MAX_DOWNLOAD_BYTES: '1000' });
  const source = await startSourceServer(t, { '/disc.png': await discImage() });
  const response = await app.inject({ method: 'POST', url: '/remove-background', payload: { image_url: source.url('/disc.png') } });
  t.equal(response.statusCode, 413);
  t.equal(response.json().error.code, 'too_large');
});

t.test('overload: past the slots and the queue, requests get 503 with Retry-After at once', async (t) => {
  const app = await buildTestApp(t, { MAX_CONCURRENCY: '1', QUEUE_LIMIT: '2' });
  const source = await startSourceServer(t, { '/disc.jpg': await discImage(1600, 1200, 'jpeg') });
  const started = Date.now();
  const responses = await Promise.all(
    Array.from({ length: 8 }, () => app.inject({ method: 'POST', url: '/remove-background', payload: { image_url: source.url('/disc.jpg') } })),
  );
  const statuses = responses.map((r) => r.statusCode).sort();
  t.same(statuses, [200, 200, 200, 503, 503, 503, 503, 503], 'one running and two queued succeed; the rest are refused');
  for (const response of responses.filter((r) => r.statusCode === 503)) {
    t.equal(response.json().error.code, 'overloaded');
    t.match(response.headers['retry-after'], /^[1-9]\d*$/);
  }
  t.ok(Date.now() - started < 60_000, 'bounded');
  t.same(app.queue.stats.admitted, 0, 'every place was given back');
  const after = await app.inject({ method: 'POST', url: '/remove-background', payload: { image_url: source.url('/disc.jpg') } });
  t.equal(after.statusCode, 200, 'and the service serves again');
});

t.test('a request past its deadline gets 503 deadline_exceeded', async (t) => {
  const app = await buildTestApp(t, { REQUEST_DEADLINE_MS: '300' });
  const source = await startSourceServer(t, {
    '/slow.png': (_request, response) => {
      const timer = setTimeout(() => response.end(), 3000);
      response.on('close', () => clearTimeout(timer));
    },
  });
  const started = Date.now();
  const response = await app.inject({ method: 'POST', url: '/remove-background', payload: { image_url: source.url('/slow.png') } });
  t.equal(response.statusCode, 503);
  t.equal(response.json().error.code, 'deadline_exceeded');
  t.match(response.headers['retry-after'], /^\d+$/);
  t.ok(Date.now() - started < 2000, 'answered at the deadline, not when the source finished');
  t.equal(app.queue.stats.admitted, 0);
});

t.test('a client that leaves while queued is dropped before inference, and its place is freed', async (t) => {
  const app = await buildTestApp(t, { MAX_CONCURRENCY: '1', QUEUE_LIMIT: '4' });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address() as { port: number };
  const source = await startSourceServer(t, { '/big.jpg': await discImage(3000, 2000, 'jpeg'), '/disc.png': await discImage() });
  const { request } = await import('undici');
  const endpoint = `http://127.0.0.1:${address.port}/remove-background`;
  const send = (path: string, signal?: AbortSignal) =>
    request(endpoint, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ image_url: source.url(path) }), ...(signal && { signal }) });

  const first = send('/big.jpg');
  // Wait until the first request holds the slot, then queue a second one and leave.
  while (app.queue.stats.running === 0) await new Promise((resolve) => setTimeout(resolve, 5));
  const controller = new AbortController();
  const second = send('/disc.png', controller.signal);
  while (app.queue.stats.queued === 0) await new Promise((resolve) => setTimeout(resolve, 5));
  controller.abort();
  await t.rejects(second);
  const completedBefore = app.queue.stats.completed;
  const firstResponse = await first;
  t.equal(firstResponse.statusCode, 200);
  await firstResponse.body.arrayBuffer();
  while (app.queue.stats.admitted > 0) await new Promise((resolve) => setTimeout(resolve, 5));
  t.equal(app.queue.stats.completed, completedBefore + 1, 'only the first request ran; the one that left never reached inference');
  t.equal(app.queue.stats.queued, 0);
});
