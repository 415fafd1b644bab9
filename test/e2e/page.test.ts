// The web page in a real browser: Debian's chromium, headless, driven by playwright-core, against
// the app on 127.0.0.1. Images are dropped (a real drop event carrying File objects), results are
// downloaded as the browser saves them, and their pixels are checked with sharp. Screenshots go to
// test/artifacts/ (git-ignored). Without /usr/bin/chromium the tests are skipped, saying why
// (.ci/run installs it).
//
// The scripts run in the page are strings: this file is compiled with Node's types, not the DOM's.
import { mkdirSync, readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { Page } from 'playwright-core';
import sharp from 'sharp';
import t, { type Test } from 'tap';
import { projectRoot } from '../../src/config.js';
import type { Ticket } from '../../src/work-queue.js';
import { buildTestApp } from '../helpers/app.js';
import { openBrowser, skipWithoutBrowser } from '../helpers/browser.js';
import { sceneImage } from '../helpers/images.js';
import { startSourceServer } from '../helpers/source-server.js';
import { readZip } from '../helpers/zip.js';

t.setTimeout(240_000);

const ARTIFACTS = path.join(projectRoot, 'test', 'artifacts');
/** Longest wait for results: three images, two at a time, on a busy 2-core machine. */
const RESULTS_TIMEOUT_MS = 90_000;
const skip = skipWithoutBrowser;

interface DroppedFile {
  name: string;
  type: string;
  bytes: Buffer;
}

/** Drags `files` over the drop zone and drops them: the events a person's drop fires, with real File objects. */
async function dropFiles(page: Page, files: DroppedFile[]): Promise<void> {
  const payload = JSON.stringify(files.map((file) => ({ name: file.name, type: file.type, base64: file.bytes.toString('base64') })));
  const dataTransfer = await page.evaluateHandle(`(() => {
    const transfer = new DataTransfer();
    for (const file of ${payload}) {
      const bytes = Uint8Array.from(atob(file.base64), (c) => c.charCodeAt(0));
      transfer.items.add(new File([bytes], file.name, { type: file.type }));
    }
    return transfer;
  })()`);
  for (const type of ['dragenter', 'dragover', 'drop']) await page.dispatchEvent('#drop-zone', type, { dataTransfer });
  await dataTransfer.dispose();
}

/** Waits until no card is in progress; returns the messages of the cards that failed. */
async function settled(page: Page): Promise<string[]> {
  // A selector, not a predicate: Playwright evaluates string predicates with eval, which the page's CSP refuses.
  await page.waitForSelector('#cards:not(:has(.card:not([data-state=done]):not([data-state=failed])))', {
    state: 'attached',
    timeout: RESULTS_TIMEOUT_MS,
  });
  return page.locator('.card[data-state=failed] .status-text').allTextContents();
}

/** Waits until no card is in progress, and checks that `count` are done and none failed. */
async function waitForResults(t: Test, page: Page, count: number): Promise<void> {
  t.same(await settled(page), [], 'no card failed');
  t.equal(await page.locator('.card[data-state=done]').count(), count, `${count} results`);
}

/** Clicks what downloads, and returns the file the browser saved and the name it suggested. */
async function download(page: Page, selector: string): Promise<{ bytes: Buffer; name: string }> {
  const [saved] = await Promise.all([page.waitForEvent('download', { timeout: 30_000 }), page.click(selector)]);
  const file = await saved.path();
  return { bytes: readFileSync(file), name: saved.suggestedFilename() };
}

async function corners(bytes: Buffer): Promise<{ channels: number; pixels: number[][] }> {
  const { data, info } = await sharp(bytes).raw().toBuffer({ resolveWithObject: true });
  const at = (x: number, y: number): number[] => [...data.subarray((y * info.width + x) * info.channels, (y * info.width + x + 1) * info.channels)];
  const [w, h] = [info.width - 1, info.height - 1];
  return { channels: info.channels, pixels: [at(0, 0), at(w, 0), at(0, h), at(w, h)] };
}

async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: path.join(ARTIFACTS, name), fullPage: true });
}

/** The app on a free loopback port and a browser page, with the console errors the page logs. */
async function servePage(t: Test) {
  const app = await buildTestApp(t);
  await app.listen({ host: '127.0.0.1', port: 0 });
  const origin = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  const context = await openBrowser(t);
  const page = await context.newPage();
  const consoleErrors: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') consoleErrors.push(message.text());
  });
  return { app, origin, context, page, consoleErrors };
}

t.test('drop three images, download one, recolour, download all as a ZIP', { skip }, async (t) => {
  const { origin, page, consoleErrors } = await servePage(t);
  page.on('pageerror', (error) => consoleErrors.push(error.message));

  const started = Date.now();
  await page.goto(`${origin}/`);
  await page.waitForSelector('#batch-options .options');
  await screenshot(page, 'page-before.png');
  // From the top, the keyboard reaches the file picker at once (after the link to the API), and shows where it is.
  for (let presses = 0; presses < 5 && (await page.evaluate('document.activeElement?.id')) !== 'file-input'; presses++) await page.keyboard.press('Tab');
  t.equal(await page.evaluate('document.activeElement?.id'), 'file-input', 'Tab reaches the file input behind the drop zone');
  t.equal(await page.evaluate(`getComputedStyle(document.querySelector('#drop-zone label')).outlineStyle`), 'solid', 'and the zone shows the focus');
  await page.locator('.intake').screenshot({ path: path.join(ARTIFACTS, 'page-focus.png') });

  const files: DroppedFile[] = [
    { name: 'red-disc.png', type: 'image/png', bytes: await sceneImage(480, 360, [{ kind: 'circle', x: 240, y: 180, r: 100, fill: '#d02020' }]) },
    {
      name: 'blue-disc.jpg',
      type: 'image/jpeg',
      bytes: await sceneImage(400, 400, [{ kind: 'circle', x: 200, y: 210, r: 110, fill: '#2040c0' }], 'jpeg', '#eeeeee'),
    },
    {
      name: 'green-disc.png',
      type: 'image/png',
      bytes: await sceneImage(360, 480, [{ kind: 'circle', x: 180, y: 250, r: 90, fill: '#20a040' }], 'png', '#f4ecd8'),
    },
  ];
  await dropFiles(page, files);
  t.equal(await page.locator('.card').count(), 3, 'three cards, one per dropped image');
  await waitForResults(t, page, 3);
  t.same(await page.locator('.card .card-name').allTextContents(), files.map((file) => file.name), 'in the order dropped');

  const png = await download(page, '.card:nth-child(1) .download');
  t.equal(png.name, 'red-disc-cutout.png');
  const transparent = await corners(png.bytes);
  t.equal(transparent.channels, 4, 'the PNG has an alpha channel');
  t.same(transparent.pixels.map((pixel) => pixel[3]), [0, 0, 0, 0], 'its corners are transparent');

  // A colour for the whole batch, applied to the images already there.
  await page.check('#batch-options input[type=radio][value=colour]');
  await page.fill('#batch-options input[type=color]', '#00a0ff');
  await page.click('#apply-all');
  await waitForResults(t, page, 3);
  const coloured = await corners((await download(page, '.card:nth-child(1) .download')).bytes);
  for (const pixel of coloured.pixels) t.same(pixel.slice(0, 3), [0x00, 0xa0, 0xff], 'the corner is the colour');
  t.ok(coloured.channels === 3 || coloured.pixels.every((pixel) => pixel[3] === 255), 'and opaque');

  const zip = await download(page, '#download-all');
  t.equal(zip.name, 'cutouts.zip');
  const entries = readZip(zip.bytes);
  t.same(entries.map((entry) => entry.name).sort(), ['blue-disc-cutout.png', 'green-disc-cutout.png', 'red-disc-cutout.png'], 'the ZIP holds the three results');
  for (const entry of entries) t.equal((await sharp(entry.data).metadata()).format, 'png', `${entry.name} is a PNG`);

  // Every control has a name a screen reader can say.
  const unlabelled = await page.evaluate(`[...document.querySelectorAll('input, select, button, a[href], summary')]
    .filter((control) => !(control.labels?.length || control.getAttribute('aria-label') || control.textContent.trim()))
    .map((control) => control.outerHTML.slice(0, 80))`);
  t.same(unlabelled, [], 'no control without a label');

  await page.locator('.card:nth-child(2) .split').fill('25');
  await page.click('.card:nth-child(3) summary');
  await screenshot(page, 'page-after.png');
  await page.setViewportSize({ width: 390, height: 844 });
  await screenshot(page, 'page-phone.png');
  t.same(consoleErrors, [], 'no errors in the console (CSP violations included)');
  t.comment(`page test ran in ${Date.now() - started} ms`);
});

t.test('asks for the API key once, keeps it for the session, and waits out a busy service', { skip }, async (t) => {
  const KEY = 'page-test-key-0123456789';
  const app = await buildTestApp(t, { API_KEYS: KEY, MAX_CONCURRENCY: '1', QUEUE_LIMIT: '1' });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const origin = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  const source = await startSourceServer(t, {
    '/photos/shoe.png': await sceneImage(400, 300, [{ kind: 'rect', x: 120, y: 90, w: 160, h: 120, fill: '#503020' }]),
  });
  const context = await openBrowser(t);
  const page = await context.newPage();

  const response = await page.goto(`${origin}/`);
  t.equal(response?.status(), 200, 'the page itself needs no key');
  // Counts the times the key dialog opens.
  await page.evaluate(`(() => {
    const dialog = document.getElementById('key-dialog');
    window.keyDialogOpened = 0;
    new MutationObserver(() => { if (dialog.open) window.keyDialogOpened++; }).observe(dialog, { attributes: true, attributeFilter: ['open'] });
  })()`);

  // Every place in the service's queue is taken until the test lets go: both requests meet 503s.
  const held: Ticket[] = [app.queue.admit(), app.queue.admit()];
  t.teardown(() => held.forEach((ticket) => ticket.release()));

  await page.fill('#url-input', source.url('/photos/shoe.png'));
  await page.click('#url-form button[type=submit]');
  await dropFiles(page, [
    { name: 'disc.png', type: 'image/png', bytes: await sceneImage(300, 300, [{ kind: 'circle', x: 150, y: 150, r: 70, fill: '#c03080' }]) },
    { name: 'notes.txt', type: 'text/plain', bytes: Buffer.from('not an image\n') },
  ]);

  await page.waitForSelector('#key-dialog[open]', { timeout: 30_000 });
  await screenshot(page, 'page-key.png');
  await page.fill('#key-input', KEY);
  await page.click('#key-form button[type=submit]');
  await page.waitForSelector('.card[data-state=waiting] .status-text:has-text("busy")', { timeout: 30_000 });
  t.ok(app.queue.stats.rejected >= 1, 'the service refused with 503 overloaded');
  await screenshot(page, 'page-busy.png');
  held.splice(0).forEach((ticket) => ticket.release());

  const failed = await settled(page);
  t.same(await page.locator('.card .card-name').allTextContents(), ['shoe.png', 'disc.png', 'notes.txt']);
  const states = await Promise.all([0, 1, 2].map((index) => page.locator('.card').nth(index).getAttribute('data-state')));
  t.same(states, ['done', 'done', 'failed'], 'a failure stops no other image');
  t.match(failed, [/^The source is not an image in a supported format/], "the failed card shows the service's message");
  t.notOk(await page.isVisible('.card[data-state=failed] .retry'), 'and does not offer to try again: the same file would fail the same way');
  t.equal(await page.evaluate('window.keyDialogOpened'), 1, 'the key was asked for once, for all three requests');
  t.equal(await page.evaluate(`sessionStorage.getItem('bg-removal-service:api-key')`), KEY, 'and kept for the session');
  t.ok(await page.isVisible('#key-state'), 'the page says it keeps a key');
  await screenshot(page, 'page-keyed-results.png');

  // A reload keeps the key: the next image goes straight through.
  await page.reload();
  await dropFiles(page, [{ name: 'again.png', type: 'image/png', bytes: await sceneImage(300, 300, [{ kind: 'circle', x: 150, y: 150, r: 70, fill: '#3080c0' }]) }]);
  await waitForResults(t, page, 1);
  t.notOk(await page.isVisible('#key-dialog[open]'), 'without asking again');
});

t.test('the Marketplace preset makes a 2000 x 2000 JPEG on pure white, the product filling 85 %', { skip }, async (t) => {
  const { origin, page, consoleErrors } = await servePage(t);
  await page.goto(`${origin}/`);
  await page.waitForSelector('#batch-options .options');
  await page.click('#batch-options .marketplace');
  t.equal(await page.inputValue('#batch-options select[name=canvas]'), '2000', 'the controls show the preset: the canvas');
  t.equal(await page.inputValue('#batch-options input[name=fill]'), '85', 'the fill');
  t.equal(await page.inputValue('#batch-options select[name=format]'), 'jpeg', 'the format');
  t.equal(await page.inputValue('#batch-options input[type=color]'), '#ffffff', 'white');
  await page.selectOption('#batch-options select[name=shadow]', 'contact');

  // A product standing on a grey floor, taller than wide: its height binds.
  const product = await sceneImage(600, 400, [{ kind: 'rect', x: 220, y: 60, w: 140, h: 280, fill: '#7a2c18' }], 'jpeg', '#e0ddd6');
  await dropFiles(page, [{ name: 'vase.jpg', type: 'image/jpeg', bytes: product }]);
  await waitForResults(t, page, 1);
  const saved = await download(page, '.card:nth-child(1) .download');
  t.equal(saved.name, 'vase-cutout.jpg');
  const { data, info } = await sharp(saved.bytes).raw().toBuffer({ resolveWithObject: true });
  t.same([info.width, info.height, (await sharp(saved.bytes).metadata()).format], [2000, 2000, 'jpeg']);
  // The subject's rows: where the middle column is not white.
  const column = Array.from({ length: 2000 }, (_, y) => data.subarray((y * 2000 + 1000) * 3, (y * 2000 + 1000) * 3 + 3));
  const rows = column.map((pixel, y) => (pixel[0]! < 200 && pixel[2]! < 120 ? y : -1)).filter((y) => y >= 0);
  const tall = rows.at(-1)! - rows[0]! + 1;
  t.ok(Math.abs(tall - 1700) <= 30, `the product is 85 % of the canvas tall (${tall} px)`);
  t.same([...data.subarray(0, 3)], [255, 255, 255], 'the corner is pure white');
  t.ok(column[rows.at(-1)! + 5]![0]! < 250, 'with a contact shadow under the product');
  await page.locator('.card:nth-child(1)').screenshot({ path: path.join(ARTIFACTS, 'page-marketplace.png') });
  t.same(consoleErrors, [], 'no errors in the console');
});
