// POST /remove-bg, the older Flask API: a multipart upload in `image`, a JPEG on white saved in
// STORAGE_DIR, {"url": ...} where a GET serves it.
import { readdir, utimes } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import t from 'tap';
import { buildTestApp } from '../helpers/app.js';
import { fields, formBody, type FormPart } from '../helpers/form.js';
import { decodeImageBytes, discImage } from '../helpers/images.js';

t.setTimeout(180_000);

const KEY = 'k-0123456789abcdef';
const image = (content: Buffer, filename = 'photo.png'): FormPart => ({ name: 'image', filename, content, type: 'image/png' });
const near = (actual: number[], expected: number[], tolerance: number) => actual.every((value, i) => Math.abs(value - expected[i]!) <= tolerance);

t.test('POST /remove-bg', async (t) => {
  const dir = path.join(t.testdir({}), 'processed_images');
  const app = await buildTestApp(t, { STORAGE_DIR: dir });
  const disc = await discImage(480, 360);
  const post = (parts: FormPart[], headers: Record<string, string> = {}) => {
    const form = formBody(parts);
    return app.inject({ method: 'POST', url: '/remove-bg', payload: form.payload, headers: { ...form.headers, ...headers } });
  };

  t.test('saves a JPEG on white at the input size, served at the URL it answers with', async (t) => {
    const response = await post([image(disc), ...fields({ unrelated: 'ignored, as the old app did' })], { host: 'bg.example.com:8000' });
    t.equal(response.statusCode, 200);
    t.match(response.headers['content-type'], /^application\/json/);
    const { url } = response.json() as { url: string };
    t.match(url, /^http:\/\/bg\.example\.com:8000\/static\/processed_images\/[0-9a-f]{32}\.jpg$/, "the request's origin by default");
    const name = url.split('/').pop()!;
    t.same(await readdir(dir), [name], 'written in STORAGE_DIR under a random name, never the uploaded one');

    const served = await app.inject({ method: 'GET', url: new URL(url).pathname });
    t.equal(served.statusCode, 200);
    t.equal(served.headers['content-type'], 'image/jpeg');
    t.equal(Number(served.headers['content-length']), served.rawPayload.length);
    t.match(served.headers['cache-control'], /max-age=\d+/);
    const jpeg = await decodeImageBytes(served.rawPayload);
    t.match(jpeg, { format: 'jpeg', channels: 3, width: 480, height: 360 }, 'not cropped, like rembg');
    const pixel = (x: number, y: number) => [...jpeg.data.subarray((y * 480 + x) * 3, (y * 480 + x) * 3 + 3)];
    t.ok(near(pixel(5, 5), [255, 255, 255], 3), `white background ${pixel(5, 5)}`);
    t.ok(near(pixel(240, 180), [208, 32, 32], 10), `the subject ${pixel(240, 180)}`);
    const head = await app.inject({ method: 'HEAD', url: new URL(url).pathname });
    t.equal(head.statusCode, 200);
    t.equal(head.rawPayload.length, 0, 'HEAD: headers only');
  });

  t.test('answers 400 when no image is uploaded or its filename is empty', async (t) => {
    const cases: [string, () => ReturnType<typeof post>, RegExp][] = [
      ['no image part', () => post(fields({ other: 'x' })), /no image uploaded/],
      ['the image in another field', () => post([{ name: 'file', filename: 'a.png', content: disc }]), /no image uploaded/],
      ['an empty filename', () => post([image(Buffer.alloc(0), '')]), /empty filename/],
      ['an empty text field', () => post(fields({ image: '' })), /empty filename/],
      ['a JSON body', () => app.inject({ method: 'POST', url: '/remove-bg', payload: { image: 'x' } }), /no image uploaded/],
      ['no body', () => app.inject({ method: 'POST', url: '/remove-bg' }), /no image uploaded/],
    ];
    for (const [name, send, message] of cases) {
      const response = await send();
      t.equal(response.statusCode, 400, name);
      t.match(response.json(), { error: { code: 'invalid_request', message } }, name);
    }
  });

  t.test('other failures are JSON errors with a useful message', async (t) => {
    const notImage = await post([image(Buffer.from('<!doctype html>'), 'page.png')]);
    t.equal(notImage.statusCode, 415);
    t.match(notImage.json(), { error: { code: 'unsupported_media_type', message: /supported format/ } });
    const empty = await post([image(Buffer.alloc(0))]);
    t.equal(empty.statusCode, 415, 'an empty file');
  });

  t.test('stored names are checked before they become paths; unknown ones are 404', async (t) => {
    for (const url of [
      '/static/processed_images/0123456789abcdef0123456789abcdef.jpg',
      '/static/processed_images/..%2f..%2fpackage.json',
      '/static/processed_images/%2e%2e%2fpackage.json',
      '/static/processed_images/x.jpg',
      '/static/processed_images/',
    ]) {
      const response = await app.inject({ method: 'GET', url });
      t.equal(response.statusCode, 404, url);
      t.equal(response.json().error.code, 'not_found', url);
    }
    t.equal((await app.inject({ method: 'GET', url: '/static/../package.json' })).statusCode, 404);
  });
});

t.test('PUBLIC_BASE_URL sets the base of the answered URL', async (t) => {
  const app = await buildTestApp(t, { STORAGE_DIR: t.testdir({}), PUBLIC_BASE_URL: 'https://api.example.com/bg/' });
  const response = await app.inject({ method: 'POST', url: '/remove-bg', ...formBody([image(await discImage())]) });
  t.match(response.json().url, /^https:\/\/api\.example\.com\/bg\/static\/processed_images\/[0-9a-f]{32}\.jpg$/);
});

t.test('with API keys, /remove-bg needs one; the stored file does not', async (t) => {
  const app = await buildTestApp(t, { STORAGE_DIR: t.testdir({}), API_KEYS: KEY });
  const form = formBody([image(await discImage())]);
  const refused = await app.inject({ method: 'POST', url: '/remove-bg', ...form });
  t.equal(refused.statusCode, 401);
  const response = await app.inject({ method: 'POST', url: '/remove-bg', payload: form.payload, headers: { ...form.headers, 'x-api-key': KEY } });
  t.equal(response.statusCode, 200);
  t.equal((await app.inject({ method: 'GET', url: new URL(response.json().url).pathname })).statusCode, 200, 'an <img src> can show it');
});

t.test('a folder that cannot be written is 500 storage_failed, with a message and no path', async (t) => {
  // A file where the folder should be: unwritable for every user, root included.
  const root = t.testdir({ 'not-a-folder': 'a file' });
  const app = await buildTestApp(t, { STORAGE_DIR: path.join(root, 'not-a-folder') });
  const response = await app.inject({ method: 'POST', url: '/remove-bg', ...formBody([image(await discImage())]) });
  t.equal(response.statusCode, 500);
  t.same(response.json(), { error: { code: 'storage_failed', message: 'the result could not be saved' } });
});

t.test('old results are deleted by the cleanup timer', async (t) => {
  const dir = t.testdir({});
  const app = await buildTestApp(t, { STORAGE_DIR: dir, STORAGE_MAX_AGE_MS: '1000' });
  const response = await app.inject({ method: 'POST', url: '/remove-bg', ...formBody([image(await discImage())]) });
  const { pathname } = new URL(response.json().url);
  t.equal((await app.inject({ method: 'GET', url: pathname })).statusCode, 200);
  await utimes(path.join(dir, path.basename(pathname)), new Date(), new Date(Date.now() - 60_000));
  const until = Date.now() + 5000; // the timer runs every second with this age
  while ((await readdir(dir)).length > 0 && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 100));
  t.same(await readdir(dir), [], 'swept');
  t.equal((await app.inject({ method: 'GET', url: pathname })).statusCode, 404);
});

t.test('the server answers on a real socket with its own address', async (t) => {
  const app = await buildTestApp(t, { STORAGE_DIR: t.testdir({}) });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = app.server.address() as net.AddressInfo;
  const form = new FormData();
  form.append('image', new Blob([await discImage()], { type: 'image/png' }), 'photo.png');
  const response = await fetch(`http://127.0.0.1:${port}/remove-bg`, { method: 'POST', body: form });
  t.equal(response.status, 200);
  const { url } = (await response.json()) as { url: string };
  t.match(url, new RegExp(`^http://127\\.0\\.0\\.1:${port}/static/processed_images/`));
  const served = await fetch(url);
  t.equal(served.status, 200);
  t.equal(served.headers.get('content-type'), 'image/jpeg');
  t.equal((await decodeImageBytes(Buffer.from(await served.arrayBuffer()))).format, 'jpeg');
});
