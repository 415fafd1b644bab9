// Uploads to POST /remove-background (multipart/form-data): the file in image_file, the options as
// fields, read by src/routes/uploads.ts and checked against the same schema as JSON bodies.
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { buildTestApp } from '../helpers/app.js';
import { fields, formBody, type FormPart } from '../helpers/form.js';
import { decodeImageBytes, discImage } from '../helpers/images.js';
import { startSourceServer } from '../helpers/source-server.js';

t.setTimeout(180_000);

const file = (content: Buffer, name = 'image_file', filename = 'photo.png'): FormPart => ({ name, filename, content, type: 'image/png' });

t.test('uploads', async (t) => {
  const app = await buildTestApp(t);
  const disc = await discImage();
  const halves = await discImage(200, 100);
  const source = await startSourceServer(t, { '/disc.png': disc, '/halves.png': halves });
  const upload = (parts: FormPart[]) => app.inject({ method: 'POST', url: '/remove-background', ...formBody(parts) });

  t.test('an upload gives the same image as the URL form, options and all', async (t) => {
    const options = { crop: false, margin: 16, background: '#123456', format: 'webp', quality: 70, max_dimension: 300, threshold: 0.3 };
    const byUrl = await app.inject({ method: 'POST', url: '/remove-background', payload: { image_url: source.url('/disc.png'), ...options } });
    const byFile = await upload([...fields(options), file(disc)]);
    t.equal(byUrl.statusCode, 200);
    t.equal(byFile.statusCode, 200);
    t.equal(byFile.headers['content-type'], 'image/webp');
    t.ok(byFile.rawPayload.equals(byUrl.rawPayload), 'the same bytes');
    for (const header of ['x-width', 'x-foreground-left', 'x-foreground-width', 'x-output-width', 'x-output-height']) t.equal(byFile.headers[header], byUrl.headers[header], header);
    t.match(byFile.headers['server-timing'], /^fetch;dur=/, 'receiving the upload is the fetch stage');
  });

  t.test('fields may come before or after the file; defaults apply', async (t) => {
    const after = await upload([file(disc), ...fields({ format: 'jpeg' })]);
    t.equal(after.headers['content-type'], 'image/jpeg');
    const none = await upload([file(disc)]);
    t.equal(none.headers['content-type'], 'image/png');
    const png = await decodeImageBytes(none.rawPayload);
    t.equal(png.channels, 4, 'transparent PNG, cropped, as by default');
    t.equal(png.width, Number(none.headers['x-foreground-width']));
  });

  t.test('a background image as JSON in a field, or in a part sent as application/json', async (t) => {
    const background = JSON.stringify({ image_url: source.url('/halves.png') });
    for (const part of [{ name: 'background', value: background }, { name: 'background', value: background, type: 'application/json' }]) {
      const response = await upload([file(disc), part]);
      t.equal(response.statusCode, 200, part.type ?? 'text');
      t.equal((await decodeImageBytes(response.rawPayload)).channels, 3, 'flattened onto it');
    }
  });

  t.test('forms that break the rules are refused with 400, saying why', async (t) => {
    const cases: [string, FormPart[], RegExp][] = [
      ['no file', fields({ format: 'png' }), /no image_file/],
      ['the file in another field', [file(disc, 'image')], /file in "image".*image_file/],
      ['a second file', [file(disc), file(disc, 'background_file')], /file in "background_file"/],
      ['two image files', [file(disc), file(disc)], /more than one image_file/],
      ['an unknown field', [file(disc), ...fields({ size: 'full' })], /unknown field size/],
      ['image_url besides the file', [file(disc), ...fields({ image_url: source.url('/disc.png') })], /unknown field image_url/],
      ['a bad value', [file(disc), ...fields({ crop: 'maybe' })], /^crop must be true or false \(got "maybe"\)$/],
      ['a number out of range', [file(disc), ...fields({ max_dimension: '0' })], /^max_dimension must be an integer from 1 to 100000 \(got 0\)$/],
      ['broken JSON', [file(disc), ...fields({ background: '{"image_url":' })], /valid JSON/],
      ['a field twice', [file(disc), ...fields({ format: 'png' }), ...fields({ format: 'jpeg' })], /format is given more than once/],
      ['too many fields', [file(disc), ...Array.from({ length: 40 }, (_, i) => ({ name: `f${i}`, value: 'x' }))], /too many parts/],
      ['a field too long', [file(disc), { name: 'background', value: 'x'.repeat(20_000) }], /longer than/],
      ['channels alpha on a colour', [file(disc), ...fields({ channels: 'alpha', background: '#fff' })], /no background/],
    ];
    for (const [name, parts, message] of cases) {
      const response = await upload(parts);
      t.equal(response.statusCode, 400, name);
      t.equal(response.json().error.code, 'invalid_request', name);
      t.match(response.json().error.message, message, name);
    }
    const { payload, headers } = formBody([file(disc)]);
    const truncated = await app.inject({ method: 'POST', url: '/remove-background', payload: payload.subarray(0, payload.length - 200), headers });
    t.equal(truncated.statusCode, 400, 'a body that ends early');
    t.match(truncated.json().error, { code: 'invalid_request', message: /malformed or ended early/ });
    t.equal(app.queue.stats.admitted, 0, 'every place was given back');
  });

  t.test('what is not an image is refused as from a URL', async (t) => {
    const response = await upload([file(Buffer.from('<!doctype html>'))]);
    t.equal(response.statusCode, 415);
    t.equal(response.json().error.code, 'unsupported_media_type');
  });

  t.test('curl -F image_file=@photo.png ... --output out.png', async (t) => {
    await app.listen({ host: '127.0.0.1', port: 0 });
    const { port } = app.server.address() as net.AddressInfo;
    const dir = t.testdir({});
    await writeFile(path.join(dir, 'photo.png'), disc);
    const { stdout } = await promisify(execFile)(
      'curl',
      ['-sS', '--fail-with-body', '-F', 'image_file=@photo.png', '-F', 'format=webp', '-F', 'background=#ffffff', '--output', 'out.webp', '-w', '%{http_code}', `http://127.0.0.1:${port}/remove-background`],
      { cwd: dir, timeout: 60_000 },
    ).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return { stdout: 'no curl' };
      throw error;
    });
    if (stdout === 'no curl') return t.plan(0, 'curl is not installed');
    t.equal(stdout, '200');
    const image = await decodeImageBytes(await import('node:fs/promises').then((fs) => fs.readFile(path.join(dir, 'out.webp'))));
    t.match(image, { format: 'webp', channels: 3 });
  });
});

t.test('an upload larger than MAX_DOWNLOAD_BYTES is 413 too_large', async (t) => {
  const app = await buildTestApp(t, { MAX_DOWNLOAD_BYTES: '2000' });
  const response = await app.inject({ method: 'POST', url: '/remove-background', ...formBody([file(await discImage())]) });
  t.equal(response.statusCode, 413);
  t.match(response.json().error, { code: 'too_large', message: /uploaded file.*2000 bytes/ });
  t.equal(response.headers.connection, 'close', 'the rest of the body is not read: the connection is closed');
});

t.test('uploads are admitted to the queue before they are read', async (t) => {
  const app = await buildTestApp(t, { MAX_CONCURRENCY: '1', QUEUE_LIMIT: '0' });
  let release: () => void = () => {};
  const source = await startSourceServer(t, {
    '/slow.png': (_request, response) => {
      release = () => response.destroy();
    },
  });
  const busy = app.inject({ method: 'POST', url: '/remove-background', payload: { image_url: source.url('/slow.png') } });
  while (app.queue.stats.admitted === 0) await new Promise((resolve) => setTimeout(resolve, 5));
  const response = await app.inject({ method: 'POST', url: '/remove-background', ...formBody([file(await discImage())]) });
  t.equal(response.statusCode, 503);
  t.equal(response.json().error.code, 'overloaded');
  release();
  await busy;
  t.equal(app.queue.stats.admitted, 0);
});

t.test('an upload that is too slow ends at the deadline, and the connection is closed', async (t) => {
  const app = await buildTestApp(t, { REQUEST_DEADLINE_MS: '500' });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = app.server.address() as net.AddressInfo;
  const { payload, headers } = formBody([file(await discImage())]);
  const socket = net.connect(port, '127.0.0.1');
  t.teardown(() => socket.destroy());
  let answer = '';
  socket.on('data', (data: Buffer) => (answer += data.toString()));
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
  socket.on('error', () => {});
  socket.write(
    `POST /remove-background HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: ${headers['content-type']}\r\nContent-Length: ${payload.length}\r\n\r\n`,
  );
  socket.write(payload.subarray(0, 300)); // then nothing more
  const started = Date.now();
  await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, 5000))]);
  t.match(answer, /^HTTP\/1\.1 503/, 'answered 503');
  t.match(answer, /"code":"deadline_exceeded"/);
  t.match(answer, /connection: close/i);
  t.ok(Date.now() - started < 4000, 'at the deadline, and the server closed the connection');
  while (app.queue.stats.admitted > 0) await new Promise((resolve) => setTimeout(resolve, 5));
  t.equal(app.queue.stats.admitted, 0, 'its place is given back');
});
