import sharp from 'sharp';
import t from 'tap';
import { buildTestApp } from '../helpers/app.js';
import { fields, formBody } from '../helpers/form.js';
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
const pixelAt = (image: { data: Buffer; width: number; channels: number }, x: number, y: number) =>
  [...image.data.subarray((y * image.width + x) * image.channels, (y * image.width + x + 1) * image.channels)];
const near = (actual: number[], expected: number[], tolerance: number) => actual.every((value, i) => Math.abs(value - expected[i]!) <= tolerance);
/** The X-Foreground-* box: left, top, width, height. */
const box = (headers: Record<string, unknown>): [number, number, number, number] => [
  Number(headers['x-foreground-left']),
  Number(headers['x-foreground-top']),
  Number(headers['x-foreground-width']),
  Number(headers['x-foreground-height']),
];

// Many requests, each with an inference, on a shared machine (the product-photo tests alone take
// about 100 s there).
t.setTimeout(720_000);

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
    t.match(response.headers['server-timing'], /^fetch;dur=[\d.]+, decode;dur=[\d.]+, infer;dur=[\d.]+, mask;dur=[\d.]+, colour;dur=[\d.]+, encode;dur=[\d.]+, total;dur=[\d.]+$/);
    t.ok(response.headers['x-request-id']);
  });

  t.test('colours stay straight: the disc keeps its red exactly, and its edge loses the white around it', async (t) => {
    const response = await post({ image_url: source.url('/disc.png'), crop: false });
    const png = await decodeImageBytes(response.rawPayload);
    const input = await decodeImageBytes(await discImage());
    const red = [0xd0, 0x20, 0x20];
    const distance = (data: Buffer, at: number) => Math.hypot(...red.map((v, c) => data[at + c]! - v));
    let soft = 0;
    let redChanged = 0;
    // How far the edge's colours are from the disc's red: pixels the input shows mixed with white.
    let mixed = 0;
    let inputDistance = 0;
    let cutoutDistance = 0;
    for (let p = 0; p < png.width * png.height; p++) {
      const alpha = png.data[p * 4 + 3]!;
      if (alpha === 0) continue;
      if (alpha < 255) soft++;
      const before = distance(input.data, p * input.channels);
      if (before === 0) {
        if (distance(png.data, p * 4) !== 0) redChanged++;
        continue;
      }
      mixed++;
      inputDistance += before;
      cutoutDistance += distance(png.data, p * 4);
    }
    t.ok(soft > 100, `the edge is soft (${soft} semi-transparent pixels)`);
    t.equal(redChanged, 0, 'no pixel of the disc\'s own red is premultiplied or otherwise changed');
    t.ok(mixed > 100 && cutoutDistance < inputDistance / 4, `the ${mixed} visible pixels mixed with white are the disc's colour: ${(cutoutDistance / mixed).toFixed(1)} from its red, ${(inputDistance / mixed).toFixed(1)} in the input`);
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

  t.test('large images get the edge filter, timed as its own stage; accuracy "high" runs the model twice', async (t) => {
    const standard = await post({ image_url: source.url('/disc-large.jpg') });
    t.equal(standard.statusCode, 200);
    t.match(standard.headers['server-timing'], /mask;dur=[\d.]+, refine;dur=[\d.]+, colour;dur=[\d.]+, encode/);
    const unrefined = await post({ image_url: source.url('/disc-large.jpg'), refine: false });
    t.notMatch(unrefined.headers['server-timing'], /refine/);
    const high = await post({ image_url: source.url('/disc-large.jpg'), accuracy: 'high' });
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
      [{ image_url: source.url('/disc.png'), accuracy: 'best' }, 400, 'invalid_request'],
      [{ image_url: 'not a url' }, 400, 'unsupported_url'],
      [{ image_url: 'photo.jpg' }, 400, 'unsupported_url'],
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

  t.test('every kind of mistake says the field, what is wrong and what it takes, the same as JSON and as a form', async (t) => {
    const form = (options: Record<string, string>) =>
      app.inject({ method: 'POST', url: '/remove-background', ...formBody([{ name: 'image_file', filename: 'disc.png', content: jpeg }, ...fields(options)]) });
    const url = source.url('/disc.png');
    // [kind, JSON options, the same as form fields, code, message]
    const cases: [string, Record<string, unknown>, Record<string, string>, string, RegExp][] = [
      ['a value not in the list', { format: 'gif' }, { format: 'gif' }, 'invalid_request', /^format must be one of png, webp, jpeg \(got "gif"\)$/],
      ['an integer out of range', { quality: 0 }, { quality: '0' }, 'invalid_request', /^quality must be an integer from 1 to 100 \(got 0\)$/],
      ['a number out of range', { threshold: 2 }, { threshold: '2' }, 'invalid_request', /^threshold must be a number from 0\.05 to 0\.95 \(got 2\)$/],
      ['not a boolean', { crop: 'maybe' }, { crop: 'maybe' }, 'invalid_request', /^crop must be true or false \(got "maybe"\)$/],
      ['neither pixels nor a percentage', { margin: '200%' }, { margin: '200%' }, 'invalid_request', /^margin must be an integer from 0 to 10000 or a percentage from 0% to 100% such as "10%" \(got "200%"\)$/],
      ['none of a union', { background: 'red' }, { background: 'red' }, 'invalid_request', /^background must be transparent, blur, a colour such as #f4f4f4 \(#rgb, #rrggbb, #rrggbbaa\) or an object with the field image_url \(got "red"\)$/],
      ['a bad URL inside an object', { background: { image_url: 'nope' } }, { background: '{"image_url":"nope"}' }, 'unsupported_url', /^background\.image_url must be an absolute http or https URL \(got "nope"\)$/],
      ['an unknown field inside an object', { background: { image_url: url, fit: 'contain' } }, { background: JSON.stringify({ image_url: url, fit: 'contain' }) }, 'invalid_request', /^unknown field background\.fit: the fields of background are image_url$/],
      ['a missing field inside an object', { background: {} }, { background: '{}' }, 'invalid_request', /^background\.image_url is required: an absolute http or https URL$/],
    ];
    for (const [kind, json, formFields, code, message] of cases) {
      const asJson = (await post({ image_url: url, ...json })).json().error;
      const asForm = (await form(formFields)).json().error;
      t.match(asJson, { code, message }, `${kind}, as JSON`);
      t.same(asForm, asJson, `${kind}: the form says the same`);
    }
    // The fields differ by the image's: image_url in JSON, image_file in a form.
    t.match((await post({ image_url: url, colour: 'red' })).json().error, { code: 'invalid_request', message: /^unknown field colour: the fields are image_url, crop, margin, / });
    t.match((await form({ colour: 'red' })).json().error, { code: 'invalid_request', message: /^unknown field colour: the fields are crop, margin, / });
    t.match((await post({ crop: false })).json().error, { code: 'invalid_request', message: /^image_url is required: an absolute http or https URL$/ });
    t.match((await post({ image_url: 'photo.jpg' })).json().error, { code: 'unsupported_url', message: 'image_url must be an absolute http or https URL (got "photo.jpg")' });
    const notObject = await app.inject({ method: 'POST', url: '/remove-background', payload: '[1]', headers: { 'content-type': 'application/json' } });
    t.match(notObject.json().error, { code: 'invalid_request', message: /^the body must be an object with the fields image_url, .* \(got a list of 1 item\)$/ });
  });

  t.test('a request without a body is refused with 400', async (t) => {
    const response = await app.inject({ method: 'POST', url: '/remove-background' });
    t.equal(response.statusCode, 400);
    t.match(response.json().error, { code: 'invalid_request', message: /image_url.*image_file/ });
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

  t.test('a known path asked with another method is 405 with Allow', async (t) => {
    const response = await app.inject({ method: 'GET', url: '/remove-background' });
    t.equal(response.statusCode, 405);
    t.equal(response.headers.allow, 'POST');
    t.match(response.json().error, { code: 'method_not_allowed', message: '/remove-background takes POST, not GET' });
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
    // The message names the setting that opens private addresses (and only for those), never the range's internal name.
    const { message } = response.json().error as { message: string };
    if (url.includes('169.254.')) t.match(message, /never connects to \(link-local, cloud metadata/, url);
    else t.match(message, /private address .* only when its ALLOW_PRIVATE_NETWORKS setting is true$/, url);
    t.notMatch(message, /linkLocal|loopback\)|private\)|\(ipv4/i, `${url}: no internal range names`);
  }
  t.equal(source.connections, 0, 'no connection reached the server');
  const metadata = await (await buildTestApp(t)).inject({ method: 'POST', url: '/remove-background', payload: { image_url: 'http://169.254.169.254/latest/' } });
  t.notMatch(metadata.json().error.message, /ALLOW_PRIVATE_NETWORKS/, 'with the setting on, the metadata address does not suggest it');
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
  const source = await startSourceServer(t, { '/disc.png': await discImage() });
  const { request } = await import('undici');
  const endpoint = `http://127.0.0.1:${address.port}/remove-background`;

  // The test holds the only slot itself until it lets go, so the order of events does not depend
  // on how fast this machine runs a real request.
  const holder = app.queue.admit();
  let letGo!: () => void;
  const held = holder.run(() => new Promise<void>((resolve) => (letGo = resolve)));
  const completedBefore = app.queue.stats.completed;

  const controller = new AbortController();
  const leaving = request(endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ image_url: source.url('/disc.png') }),
    signal: controller.signal,
  });
  while (app.queue.stats.queued === 0) await new Promise((resolve) => setTimeout(resolve, 5));
  controller.abort();
  await t.rejects(leaving);
  // The service notices the closed connection while the slot is still held: the request leaves the
  // line and gives its place back without ever running.
  while (app.queue.stats.admitted > 1) await new Promise((resolve) => setTimeout(resolve, 5));
  t.equal(app.queue.stats.queued, 0, 'the request that left is out of the line');
  t.equal(app.queue.stats.running, 1, 'while the slot was still held');

  letGo();
  await held;
  holder.release();
  t.equal(app.queue.stats.completed, completedBefore + 1, 'only the held job ran; the request that left never reached inference');
  t.equal(app.queue.stats.admitted, 0, 'every place was given back');

  const response = await request(endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ image_url: source.url('/disc.png') }),
  });
  t.equal(response.statusCode, 200, 'and the service serves the next request');
  await response.body.arrayBuffer();
});

t.test('output options', async (t) => {
  const app = await buildTestApp(t);
  // A red disc (radius 90) in the middle, a blue square in a corner: the disc is the subject, the
  // square is background with edges a blur must soften.
  const scene = await sceneImage(480, 360, [
    { kind: 'circle', x: 240, y: 180, r: 90, fill: '#d02020' },
    { kind: 'rect', x: 10, y: 10, w: 60, h: 60, fill: '#2040d0' },
  ]);
  // 200x100: yellow on the left, cyan on the right.
  const halves = await sharp({ create: { width: 200, height: 100, channels: 3, background: '#00ffff' } })
    .composite([{ input: { create: { width: 100, height: 100, channels: 3, background: '#ffff00' } }, left: 0, top: 0 }])
    .png()
    .toBuffer();
  const source = await startSourceServer(t, {
    '/disc.png': await discImage(),
    '/scene.png': scene,
    '/halves.png': halves,
    '/page.html': Buffer.from('<!doctype html><p>not an image</p>'),
  });
  const post = (body: Record<string, unknown>) => app.inject({ method: 'POST', url: '/remove-background', payload: { image_url: source.url('/disc.png'), ...body } });
  const plain = await post({});
  t.equal(plain.statusCode, 200);
  const [left, top, width, height] = box(plain.headers);
  t.equal(plain.headers['x-output-width'], String(width), 'by default the result is the crop box');
  t.equal(plain.headers['x-output-height'], String(height));

  t.test('webp with crop:false: the whole input, transparent around the subject', async (t) => {
    const response = await post({ format: 'webp', crop: false });
    t.equal(response.statusCode, 200);
    t.equal(response.headers['content-type'], 'image/webp');
    const image = await decodeImageBytes(response.rawPayload);
    t.match(image, { format: 'webp', channels: 4, width: 480, height: 360 });
    t.equal(alphaAt(image, 5, 5), 0);
    t.ok(alphaAt(image, 240, 180) > 250);
    t.same(box(response.headers), [left, top, width, height], 'the headers still give the subject box');
  });

  t.test('jpeg on a colour: the background has that colour, no alpha', async (t) => {
    const response = await post({ format: 'jpeg', background: '#00ff00', quality: 95 });
    t.equal(response.headers['content-type'], 'image/jpeg');
    const image = await decodeImageBytes(response.rawPayload);
    t.match(image, { format: 'jpeg', channels: 3, width, height });
    t.ok(near(pixelAt(image, 2, 2), [0, 255, 0], 6), `corner ${pixelAt(image, 2, 2)}`);
    t.ok(near(pixelAt(image, Math.floor(width / 2), Math.floor(height / 2)), [208, 32, 32], 10), `subject ${pixelAt(image, Math.floor(width / 2), Math.floor(height / 2))}`);
  });

  t.test('jpeg without a background is put on white', async (t) => {
    const image = await decodeImageBytes((await post({ format: 'jpeg' })).rawPayload);
    t.match(image, { format: 'jpeg', channels: 3 });
    t.ok(near(pixelAt(image, 2, 2), [255, 255, 255], 3), `corner ${pixelAt(image, 2, 2)}`);
  });

  t.test('png on an opaque colour is flattened: no alpha channel, no partial transparency', async (t) => {
    const image = await decodeImageBytes((await post({ background: '#00f' })).rawPayload);
    t.match(image, { format: 'png', channels: 3, width, height });
    t.same(pixelAt(image, 2, 2), [0, 0, 255]);
  });

  t.test('a translucent colour leaves the background at that alpha', async (t) => {
    const image = await decodeImageBytes((await post({ background: '#0000ff80', format: 'webp', quality: 100 })).rawPayload);
    t.equal(image.channels, 4);
    t.ok(near(pixelAt(image, 2, 2), [0, 0, 255, 128], 3), `corner ${pixelAt(image, 2, 2)}`);
    t.ok(alphaAt(image, Math.floor(width / 2), Math.floor(height / 2)) > 250, 'the subject stays opaque');
  });

  t.test('max_dimension scales the result after cropping; the headers keep the input box', async (t) => {
    const response = await post({ channels: 'alpha', max_dimension: 100 });
    const image = await decodeImageBytes(response.rawPayload);
    const scale = 100 / Math.max(width, height);
    t.match(image, { format: 'png', channels: 1, width: Math.round(width * scale), height: Math.round(height * scale) });
    t.same([response.headers['x-output-width'], response.headers['x-output-height']], [String(image.width), String(image.height)]);
    t.same(box(response.headers), [left, top, width, height]);
    t.equal(pixelAt(image, Math.floor(image.width / 2), Math.floor(image.height / 2))[0], 255, 'the mask is there, scaled');
    const uncropped = await post({ crop: false, max_dimension: 240 });
    t.same([uncropped.headers['x-output-width'], uncropped.headers['x-output-height']], ['240', '180']);
    const larger = await post({ max_dimension: 5000 });
    t.equal(larger.headers['x-output-width'], String(width), 'never scaled up');
  });

  t.test('margin as a percentage of the larger side of the subject box', async (t) => {
    const response = await post({ margin: '10%' });
    const grow = Math.round(0.1 * Math.max(width, height));
    t.same(box(response.headers), [left - grow, top - grow, width + 2 * grow, height + 2 * grow]);
    const image = await decodeImageBytes(response.rawPayload);
    t.same([image.width, image.height], [width + 2 * grow, height + 2 * grow]);
  });

  t.test('threshold: per request, within bounds; absent means MASK_THRESHOLD', async (t) => {
    // The model's map replaced by one made to measure: a large block and a small one, joined by a
    // bridge at 0.3. Cut below 0.3 they are one subject; above it, only the large block is kept.
    const map = new Float32Array(320 * 320);
    const fill = (x0: number, x1: number, y0: number, y1: number, value: number) => {
      for (let y = y0; y < y1; y++) map.fill(value, y * 320 + x0, y * 320 + x1);
    };
    fill(40, 140, 100, 200, 1);
    fill(200, 240, 120, 180, 1);
    fill(140, 200, 140, 160, 0.3);
    const withMap = async (app: Awaited<ReturnType<typeof buildTestApp>>, body: Record<string, unknown>) => {
      const { segmenter } = app.model;
      const predict = segmenter.predict;
      segmenter.predict = async () => map.slice();
      try {
        return await app.inject({ method: 'POST', url: '/remove-background', payload: { image_url: source.url('/disc.png'), ...body } });
      } finally {
        segmenter.predict = predict;
      }
    };
    const joined = box((await withMap(app, { threshold: 0.2 })).headers);
    const alone = box((await withMap(app, { threshold: 0.5 })).headers);
    t.ok(joined[2] > 280, `threshold 0.2 keeps both blocks: box ${joined}`);
    t.ok(alone[2] < 180, `threshold 0.5 keeps the large one: box ${alone}`);
    const configured = box((await withMap(app, { threshold: app.config.MASK_THRESHOLD })).headers);
    t.same(box((await withMap(app, {})).headers), configured, `absent: MASK_THRESHOLD (${app.config.MASK_THRESHOLD})`);
    const lowSetting = await buildTestApp(t, { MASK_THRESHOLD: '0.2' });
    t.same(box((await withMap(lowSetting, {})).headers), joined, 'absent, with MASK_THRESHOLD=0.2');
    for (const threshold of [0.01, 0.99, 'high']) {
      t.equal((await post({ threshold })).json().error.code, 'invalid_request', `threshold ${threshold}`);
    }
  });

  t.test('blur: the original, blurred, behind a subject that stays sharp', async (t) => {
    const cutout = await decodeImageBytes((await post({ image_url: source.url('/scene.png'), crop: false })).rawPayload);
    const response = await post({ image_url: source.url('/scene.png'), crop: false, background: 'blur' });
    t.equal(response.statusCode, 200);
    const image = await decodeImageBytes(response.rawPayload);
    t.match(image, { format: 'png', channels: 3, width: 480, height: 360 });
    let opaque = 0;
    let changed = 0;
    for (let y = 0; y < 360; y++) {
      for (let x = 0; x < 480; x++) {
        if (alphaAt(cutout, x, y) !== 255) continue;
        opaque++;
        if (!near(pixelAt(image, x, y), pixelAt(cutout, x, y).slice(0, 3), 0)) changed++;
      }
    }
    t.ok(opaque > 20_000, `${opaque} opaque subject pixels`);
    t.equal(changed, 0, 'every opaque subject pixel is exactly the original');
    // The square's edge at x = 70: sharp in the input, spread out behind the subject.
    const red = (x: number) => pixelAt(image, x, 40)[0]!;
    t.ok(red(40) < 90, `inside the square, still blue-ish (${red(40)})`);
    t.ok(red(66) > 60 && red(74) < 220, `its edge is soft: ${red(66)} .. ${red(74)}`);
    t.ok(red(200) > 240, 'far from it, white');
  });

  t.test('a background image, fetched like the image and cover-fitted behind the subject', async (t) => {
    const response = await post({ background: { image_url: source.url('/halves.png') } });
    t.equal(response.statusCode, 200);
    const image = await decodeImageBytes(response.rawPayload);
    t.match(image, { channels: 3, width, height });
    t.ok(near(pixelAt(image, 2, 2), [255, 255, 0], 2), `left: yellow ${pixelAt(image, 2, 2)}`);
    t.ok(near(pixelAt(image, width - 3, 2), [0, 255, 255], 2), `right: cyan ${pixelAt(image, width - 3, 2)}`);
    t.ok(near(pixelAt(image, Math.floor(width / 2), Math.floor(height / 2)), [208, 32, 32], 2), 'the subject on top');

    const missing = await post({ background: { image_url: source.url('/missing.png') } });
    t.equal(missing.statusCode, 502);
    t.match(missing.json().error, { code: 'source_status', message: /^background image: .*404/ });
    const notImage = await post({ background: { image_url: source.url('/page.html') } });
    t.equal(notImage.statusCode, 415);
    t.match(notImage.json().error, { code: 'unsupported_media_type', message: /^background image: / });
    const forbidden = await buildTestApp(t, { ALLOW_PRIVATE_NETWORKS: 'false' });
    const refused = await forbidden.inject({
      method: 'POST',
      url: '/remove-background',
      payload: { image_url: 'https://example.com/a.png', background: { image_url: 'http://169.254.169.254/latest/meta-data/' } },
    });
    t.equal(refused.statusCode, 403, 'the same address guard');
  });

  t.test('bad options are refused with 400 before any work', async (t) => {
    const bodies: Record<string, unknown>[] = [
      { format: 'gif' },
      { quality: 0 },
      { quality: 101 },
      { margin: '150%' },
      { margin: '10 %' },
      { margin: -1 },
      { background: 'red' },
      { background: '#12345' },
      { background: { image_url: source.url('/halves.png'), fit: 'contain' } },
      { max_dimension: 0 },
      { max_dimension: 1.5 },
      { channels: 'alpha', background: '#fff' },
    ];
    for (const body of bodies) {
      const response = await post(body);
      t.equal(response.statusCode, 400, JSON.stringify(body));
      t.equal(response.json().error.code, 'invalid_request');
    }
  });
});

t.test('product photos: canvas, fill, position, shadow, roi, preset', async (t) => {
  const app = await buildTestApp(t);
  // A product: a dark blue box standing left of centre on a light floor, 600x400.
  const product = await sceneImage(600, 400, [{ kind: 'rect', x: 150, y: 100, w: 160, h: 240, fill: '#203070' }], 'jpeg', '#f4f1ea');
  const source = await startSourceServer(t, { '/product.jpg': product, '/two.png': await twoDiscs() });
  const post = (body: Record<string, unknown>, path = '/product.jpg') =>
    app.inject({ method: 'POST', url: '/remove-background', payload: { image_url: source.url(path), ...body } });
  /** The X-Subject-* box: left, top, width, height. */
  const subjectBox = (headers: Record<string, unknown>) =>
    ['left', 'top', 'width', 'height'].map((side) => Number(headers[`x-subject-${side}`])) as [number, number, number, number];
  const middle = ([left, , width]: number[]) => left! + Math.floor(width! / 2);
  /** Pixels more than `gap` px from the box whose colour is not `colour` exactly. */
  const offColour = (image: { data: Buffer; width: number; height: number; channels: number }, [left, top, width, height]: number[], colour: number[], gap = 8) => {
    let count = 0;
    for (let y = 0; y < image.height; y++) {
      for (let x = 0; x < image.width; x++) {
        if (x >= left! - gap && x < left! + width! + gap && y >= top! - gap && y < top! + height! + gap) continue;
        const at = (y * image.width + x) * image.channels;
        if (image.data[at] !== colour[0] || image.data[at + 1] !== colour[1] || image.data[at + 2] !== colour[2]) count++;
      }
    }
    return count;
  };

  t.test('without a canvas the subject box in the result is the subject within the crop', async (t) => {
    const response = await post({ margin: 20 });
    t.equal(response.statusCode, 200);
    const [left, top, width, height] = subjectBox(response.headers);
    t.equal(left, 20, 'the margin lies left of the subject');
    t.equal(top, 20);
    t.equal(width + 40, Number(response.headers['x-output-width']), 'and right of it');
    t.equal(height + 40, Number(response.headers['x-output-height']));
    t.equal(response.headers['x-subject-scale'], '1');
    t.equal(response.headers['x-subject-upscaled'], 'false');
  });

  t.test('preset "marketplace": 2000x2000 JPEG on pure white, the subject filling 85 % of the binding side', async (t) => {
    const response = await post({ preset: 'marketplace' });
    t.equal(response.statusCode, 200);
    t.equal(response.headers['content-type'], 'image/jpeg');
    const image = await decodeImageBytes(response.rawPayload);
    t.same([image.width, image.height], [2000, 2000]);
    t.same([response.headers['x-output-width'], response.headers['x-output-height']], ['2000', '2000']);
    const [left, top, width, height] = subjectBox(response.headers);
    t.equal(height, 1700, 'the subject is taller than wide: its height binds at 85 %');
    t.ok(Math.abs(width - 1700 * (160 / 240)) <= 20, `width ${width} keeps the proportions`);
    t.ok(Math.abs(left - (2000 - width) / 2) <= 1 && Math.abs(top - 150) <= 1, 'centred');
    t.equal(response.headers['x-subject-upscaled'], 'true', 'a 240 px subject made 1700 px tall');
    t.ok(Number(response.headers['x-subject-scale']) > 6);
    t.same(box(response.headers).slice(2), [Number(response.headers['x-foreground-width']), Number(response.headers['x-foreground-height'])]);
    t.ok(Math.abs(box(response.headers)[0] - 150) <= 4, 'X-Foreground-* stays the crop box in input pixels');
    t.equal(offColour(image, [left, top, width, height], [255, 255, 255]), 0, 'every pixel more than 8 px from the subject is exactly white');
    t.ok(near(pixelAt(image, 1000, 1000), [0x20, 0x30, 0x70], 12), 'the subject is in the middle');
  });

  t.test("a preset's values give way to the fields sent with it", async (t) => {
    const response = await post({ preset: 'marketplace', format: 'png', canvas: { width: 300, height: 200 }, fill: '50%' });
    t.equal(response.statusCode, 200);
    t.equal(response.headers['content-type'], 'image/png');
    const image = await decodeImageBytes(response.rawPayload);
    t.same([image.width, image.height, image.channels], [300, 200, 3], 'still on the preset\'s white, so no alpha');
    t.equal(subjectBox(response.headers)[3], 100);
  });

  t.test('pure colour: PNG and WebP keep an opaque background exact, on a canvas and without', async (t) => {
    for (const body of [
      { format: 'png', background: '#3366cc', canvas: { width: 500, height: 500 } },
      { format: 'webp', background: '#3366cc', canvas: { width: 500, height: 500 } },
      { format: 'webp', background: '#c81163', crop: false },
      { format: 'jpeg', background: '#ffffff', crop: false },
      { format: 'jpeg', background: '#ffffff', quality: 75, canvas: 'square', position: 'bottom' },
    ]) {
      const response = await post(body);
      t.equal(response.statusCode, 200, JSON.stringify(body));
      const image = await decodeImageBytes(response.rawPayload);
      const colour = [1, 3, 5].map((at) => Number.parseInt(body.background.slice(at, at + 2), 16));
      t.equal(offColour(image, subjectBox(response.headers), colour), 0, `${JSON.stringify(body)}: the background is exactly ${body.background}`);
    }
  });

  t.test('fill scales down too, and the binding side decides', async (t) => {
    // A wide canvas: the subject's height binds.
    const response = await post({ canvas: { width: 800, height: 200 }, fill: '50%' });
    const [left, top, width, height] = subjectBox(response.headers);
    t.equal(height, 100);
    t.ok(Math.abs(width - 67) <= 3);
    t.same([left, top], [Math.round((800 - width) / 2), 50]);
    t.equal(response.headers['x-subject-upscaled'], 'false');
    t.ok(Number(response.headers['x-subject-scale']) < 1);
  });

  t.test('position "bottom" rests the subject on the bottom, as far from it as from the binding sides', async (t) => {
    const tall = subjectBox((await post({ canvas: { width: 400, height: 400 }, fill: '80%', position: 'bottom' })).headers);
    // Height binds (the subject is taller than wide): the gaps above and below were 40 each; now 80 above, 40 below.
    t.equal(tall[3], 320);
    t.equal(400 - tall[1] - tall[3], 40);
    const wide = subjectBox((await post({ canvas: { width: 200, height: 600 }, fill: '80%', position: 'bottom' })).headers);
    // Width binds: 20 px on either side, so 20 px below.
    t.equal(wide[2], 160);
    t.equal(200 - wide[0] - wide[2], 20);
    t.equal(600 - wide[1] - wide[3], 20);
  });

  t.test('position "original" keeps the gaps in the same proportion as in the input', async (t) => {
    const response = await post({ canvas: { width: 1000, height: 1000 }, fill: '50%', position: 'original', crop: false });
    t.equal(response.statusCode, 200);
    const [left, top, width, height] = subjectBox(response.headers);
    const [inLeft, inTop, inWidth, inHeight] = box((await post({})).headers);
    const share = (before: number, spare: number) => before / spare;
    t.ok(Math.abs(share(left, 1000 - width) - share(inLeft, 600 - inWidth)) < 0.01, 'the same share of the room left of it');
    t.ok(Math.abs(share(top, 1000 - height) - share(inTop, 400 - inHeight)) < 0.01, 'and above it');
  });

  t.test('canvas "square": the side is the larger side of the result it would otherwise be', async (t) => {
    const plain = await post({ margin: 10 });
    const side = Math.max(Number(plain.headers['x-output-width']), Number(plain.headers['x-output-height']));
    const response = await post({ margin: 10, canvas: 'square' });
    const image = await decodeImageBytes(response.rawPayload);
    t.same([image.width, image.height], [side, side]);
    t.equal(image.channels, 4, 'transparent');
    t.equal(subjectBox(response.headers)[3], Math.round(side * 0.9), 'fill defaults to 90 %');
    const uncropped = await post({ crop: false, canvas: 'square', max_dimension: 300 });
    t.same([uncropped.headers['x-output-width'], uncropped.headers['x-output-height']], ['300', '300'], 'from the whole input, shrunk by max_dimension');
  });

  t.test('a drop shadow on a transparent result is translucent black under and below the subject', async (t) => {
    const response = await post({ canvas: { width: 600, height: 600 }, shadow: 'drop', shadow_opacity: 60 });
    t.equal(response.statusCode, 200);
    const image = await decodeImageBytes(response.rawPayload);
    const [left, top, width, height] = subjectBox(response.headers);
    const below = pixelAt(image, middle([left, top, width]), top + height + 4);
    t.same(below.slice(0, 3), [0, 0, 0], 'black');
    t.ok(below[3]! > 40 && below[3]! < 255 * 0.6 + 1, `translucent (alpha ${below[3]})`);
    t.equal(alphaAt(image, middle([left, top, width]), Math.max(0, top - 30)), 0, 'nothing far above the subject');
    let darkest = 0;
    for (let i = 3; i < image.data.length; i += 4) if (image.data[i - 1] === 0 && image.data[i - 2] === 0 && image.data[i - 3] === 0) darkest = Math.max(darkest, image.data[i]!);
    // Its darkest point (60 %) may lie under the subject; what shows is no darker.
    t.ok(darkest > 60 && darkest <= 154, `the darkest visible shadow pixel is within 60 % opacity (${darkest})`);
    t.ok(near(pixelAt(image, middle([left, top, width]), top + Math.floor(height / 2)), [0x20, 0x30, 0x70, 255], 12), 'the subject covers its shadow');
  });

  t.test('a contact shadow darkens the floor at the base only, on any background, with or without a canvas', async (t) => {
    for (const body of [{ canvas: { width: 600, height: 600 }, fill: '50%', background: '#ffffff' }, { margin: 40, background: '#ffffff' }, { margin: 40, format: 'jpeg' }]) {
      const response = await post({ ...body, shadow: 'contact' });
      t.equal(response.statusCode, 200);
      const image = await decodeImageBytes(response.rawPayload);
      const [left, top, width, height] = subjectBox(response.headers);
      const x = middle([left, top, width]);
      const base = pixelAt(image, x, top + height + 2);
      t.ok(base[0]! < 235, `${JSON.stringify(body)}: darker just under the base (${base[0]})`);
      t.ok(pixelAt(image, x, top - 5)[0]! >= 250, 'not above the subject');
      t.ok(pixelAt(image, x, Math.min(image.height - 1, top + height + Math.ceil(height * 0.15)))[0]! >= 250, 'nor far below it');
    }
    const none = await decodeImageBytes((await post({ canvas: { width: 600, height: 600 }, background: '#ffffff', shadow: 'contact', shadow_opacity: 0 })).rawPayload);
    t.equal(offColour(none, subjectBox((await post({ canvas: { width: 600, height: 600 } })).headers), [255, 255, 255], 1), 0, 'shadow_opacity 0 leaves no shadow');
  });

  t.test('roi: only what lies inside can be the subject; outside, the alpha is zero at full resolution', async (t) => {
    // Two discs: the larger on the left (x 50-230), the smaller on the right (x 310-430).
    const response = await post({ roi: '260 0 480 360', crop: false, subject: 'all' }, '/two.png');
    t.equal(response.statusCode, 200);
    const image = await decodeImageBytes(response.rawPayload);
    t.ok(Math.abs(box(response.headers)[0] - 310) <= 8, `the small disc is the subject (left ${box(response.headers)[0]})`);
    let outside = 0;
    for (let y = 0; y < 360; y++) for (let x = 0; x < 260; x++) outside += alphaAt(image, x, y);
    t.equal(outside, 0, 'nothing left of the roi keeps any alpha');
    const cut = await decodeImageBytes((await post({ roi: '50% 0% 80% 100%', crop: false }, '/two.png')).rawPayload);
    let beyond = 0;
    for (let y = 0; y < 360; y++) for (let x = 384; x < 480; x++) beyond += alphaAt(cut, x, y);
    t.equal(beyond, 0, 'a roi through the subject cuts it at its edge (80 % of 480 = 384)');
    t.ok(alphaAt(cut, 370, 180) > 250, 'and keeps what lies inside');
  });

  t.test('a roi with no subject in it is 422 no_foreground', async (t) => {
    const response = await post({ roi: '0 0 40 40' }, '/two.png');
    t.equal(response.statusCode, 422);
    t.equal(response.json().error.code, 'no_foreground');
    t.match(response.json().error.message, /roi/);
  });

  t.test('contradictions and impossible requests are 400 invalid_request naming the fields', async (t) => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ channels: 'alpha', shadow: 'drop' }, /channels.*shadow/],
      [{ roi: '100 0 100 400' }, /roi has no area.*x2/],
      [{ roi: '0 50% 100% 10%' }, /roi has no area.*y2/],
      [{ roi: '0 0 700 400' }, /roi's x2 \(700 px\) lies outside the image, which is 600x400/],
      [{ roi: '0 0 50% 401' }, /roi's y2/],
      [{ roi: '10 20 30' }, /roi/],
      [{ fill: '50%' }, /fill.*canvas/],
      [{ position: 'bottom' }, /position.*canvas/],
      [{ canvas: { width: 2000, height: 2000 }, max_dimension: 500 }, /canvas.*max_dimension/],
      [{ canvas: { width: 5000, height: 5000 } }, /canvas.*25\.0 megapixels.*16\.0 megapixels \(MAX_CANVAS_PIXELS\)/],
      [{ canvas: { width: 0, height: 10 } }, /canvas/],
      [{ canvas: { width: 10_001, height: 10 } }, /canvas/],
      [{ canvas: 'round' }, /canvas/],
      [{ canvas: 'square', fill: '0%' }, /fill/],
      [{ canvas: 'square', fill: '101%' }, /fill/],
      [{ shadow: 'soft' }, /shadow/],
      [{ shadow_opacity: 101 }, /shadow_opacity/],
      [{ preset: 'catalogue' }, /preset/],
    ];
    for (const [body, message] of cases) {
      const response = await post(body);
      t.equal(response.statusCode, 400, JSON.stringify(body));
      t.equal(response.json().error.code, 'invalid_request');
      t.match(response.json().error.message, message, JSON.stringify(body));
    }
  });

  t.test('a canvas "square" too large for MAX_CANVAS_PIXELS is refused once its size is known', async (t) => {
    const small = await buildTestApp(t, { MAX_CANVAS_PIXELS: '10000' });
    const response = await small.inject({ method: 'POST', url: '/remove-background', payload: { image_url: source.url('/product.jpg'), canvas: 'square', crop: false } });
    t.equal(response.statusCode, 400);
    t.match(response.json().error.message, /canvas would make a 600x600 result .* "square".*MAX_CANVAS_PIXELS/);
  });

  t.test('forms take the same fields: a canvas as "WxH" or JSON, a preset, the checks across fields', async (t) => {
    const upload = (options: Record<string, string>) => {
      const form = formBody([{ name: 'image_file', filename: 'product.jpg', content: product }, ...fields(options)]);
      return app.inject({ method: 'POST', url: '/remove-background', ...form });
    };
    const sized = await upload({ canvas: '300x200', fill: '50%', position: 'bottom', shadow: 'contact' });
    t.equal(sized.statusCode, 200);
    t.same([sized.headers['x-output-width'], sized.headers['x-output-height'], sized.headers['x-subject-height']], ['300', '200', '100']);
    const json = await upload({ canvas: '{"width":320,"height":240}' });
    t.equal(json.headers['x-output-width'], '320');
    const preset = await upload({ preset: 'marketplace', quality: '80' });
    t.equal(preset.headers['content-type'], 'image/jpeg');
    t.equal(preset.headers['x-output-width'], '2000');
    const contradiction = await upload({ channels: 'alpha', shadow: 'drop' });
    t.equal(contradiction.statusCode, 400);
    t.match(contradiction.json().error.message, /channels.*shadow/);
  });
});
