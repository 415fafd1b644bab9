// The page: images in (dropped, chosen, pasted, or by address), one card each, sent to
// POST /remove-background two at a time; each card shows its progress, then the original and the
// cutout under a slider, and offers the result for download. The rules (queue, retries, keys,
// options, ZIP) live in the modules next to this one, which have no DOM and are tested in Node.
import { judge } from './answers.js';
import { KeyGate, memoryStore, type KeyStore } from './keys.js';
import {
  checkImageUrl,
  DEFAULT_OPTIONS,
  MARGIN_MAX,
  nameFromUrl,
  optionsProblem,
  requestFields,
  requestJson,
  resultFileName,
  sameOptions,
  type BackgroundChoice,
  type CanvasChoice,
  type CutoutOptions,
  MARKETPLACE,
  type Position,
  type Shadow,
  type Format,
  type MarginUnit,
} from './options.js';
import { JobQueue, settle, type Sent } from './queue.js';
import { uniqueNames, zipStore } from './zip.js';

/** Requests at a time: one uploads while the service works on the other; more would only wait there. */
const PARALLEL = 2;
/** Longest a single request may take before the card gives up (the service's own deadline is shorter). */
const REQUEST_TIMEOUT_MS = 180_000;

type State = 'waiting' | 'uploading' | 'processing' | 'done' | 'failed';

interface Result {
  blob: Blob;
  url: string;
  fileName: string;
  options: CutoutOptions;
  /** The input's size and the result's box in it (X-Width, X-Foreground-*). */
  width: number;
  height: number;
  box: { left: number; top: number; width: number; height: number };
  modified: Date;
}

type Source = { kind: 'file'; file: File } | { kind: 'url'; url: string };

interface Card {
  name: string;
  source: Source;
  /** What the original is shown from: a blob: URL of the file, or the pasted address. */
  originalUrl: string;
  /** The options asked for (the card's controls, once applied). */
  options: CutoutOptions;
  /** The options of the latest run, going or finished. */
  sent: CutoutOptions | null;
  state: State;
  result: Result | null;
  controller: AbortController | null;
  element: HTMLLIElement;
  parts: CardParts;
}

interface CardParts {
  name: HTMLElement;
  frame: HTMLElement;
  before: HTMLImageElement;
  noPreview: HTMLElement;
  after: HTMLElement;
  cutout: HTMLImageElement;
  divider: HTMLElement;
  captions: HTMLElement[];
  splitLabel: HTMLElement;
  split: HTMLInputElement;
  status: HTMLElement;
  progress: HTMLProgressElement;
  download: HTMLAnchorElement;
  retry: HTMLButtonElement;
  options: HTMLElement;
  redo: HTMLButtonElement;
  remove: HTMLButtonElement;
}

function byId<T extends HTMLElement>(id: string): T {
  const element = document.getElementById(id);
  if (!element) throw new Error(`the page has no #${id}`);
  return element as T;
}

function part<T extends Element>(root: ParentNode, selector: string): T {
  const element = root.querySelector(selector);
  if (!element) throw new Error(`no ${selector} in the template`);
  return element as T;
}

// ---- Options controls (one set for the batch, one per card, from the same template) ----

let controlsMade = 0;

/** A fresh set of option controls showing `options`. Radio names are made unique per set. */
function optionControls(options: CutoutOptions): HTMLElement {
  const template = byId<HTMLTemplateElement>('options-template');
  const root = part<HTMLElement>(template.content.cloneNode(true) as DocumentFragment, '.options');
  const suffix = `-${++controlsMade}`;
  for (const radio of root.querySelectorAll<HTMLInputElement>('input[type=radio]')) radio.name += suffix;
  writeOptions(root, options);
  part<HTMLButtonElement>(root, '.marketplace').addEventListener('click', () => writeOptions(root, { ...readOptions(root), ...MARKETPLACE }));
  root.addEventListener('input', () => showRelevant(root));
  root.addEventListener('change', () => showRelevant(root));
  return root;
}

/** A control by name (radios are read as a group: their names carry a suffix). */
function control<T extends HTMLInputElement | HTMLSelectElement>(root: HTMLElement, name: string): T {
  return part<T>(root, `[name="${name}"]`);
}

function readOptions(root: HTMLElement): CutoutOptions {
  const checked = root.querySelector<HTMLInputElement>('input[type=radio]:checked');
  const margin = control<HTMLInputElement>(root, 'margin').valueAsNumber;
  const number = (name: string, otherwise: number) => {
    const value = control<HTMLInputElement>(root, name).valueAsNumber;
    return Number.isNaN(value) ? otherwise : value;
  };
  return {
    background: (checked?.value ?? 'transparent') as BackgroundChoice,
    colour: control<HTMLInputElement>(root, 'colour').value,
    crop: control<HTMLInputElement>(root, 'crop').checked,
    margin: Number.isNaN(margin) ? 0 : margin,
    marginUnit: control<HTMLSelectElement>(root, 'margin-unit').value as MarginUnit,
    format: control<HTMLSelectElement>(root, 'format').value as Format,
    canvas: control<HTMLSelectElement>(root, 'canvas').value as CanvasChoice,
    canvasWidth: number('canvas-width', 0),
    canvasHeight: number('canvas-height', 0),
    fill: number('fill', 0),
    position: control<HTMLSelectElement>(root, 'position').value as Position,
    shadow: control<HTMLSelectElement>(root, 'shadow').value as Shadow,
  };
}

function writeOptions(root: HTMLElement, options: CutoutOptions): void {
  for (const radio of root.querySelectorAll<HTMLInputElement>('input[type=radio]')) radio.checked = radio.value === options.background;
  control<HTMLInputElement>(root, 'colour').value = options.colour;
  control<HTMLInputElement>(root, 'crop').checked = options.crop;
  control<HTMLInputElement>(root, 'margin').value = String(options.margin);
  control<HTMLSelectElement>(root, 'margin-unit').value = options.marginUnit;
  control<HTMLSelectElement>(root, 'format').value = options.format;
  control<HTMLSelectElement>(root, 'canvas').value = options.canvas;
  control<HTMLInputElement>(root, 'canvas-width').value = String(options.canvasWidth);
  control<HTMLInputElement>(root, 'canvas-height').value = String(options.canvasHeight);
  control<HTMLInputElement>(root, 'fill').value = String(options.fill);
  control<HTMLSelectElement>(root, 'position').value = options.position;
  control<HTMLSelectElement>(root, 'shadow').value = options.shadow;
  showRelevant(root);
}

/** Controls that do nothing with the current choices are disabled rather than hidden, so the layout stays put. */
function showRelevant(root: HTMLElement): void {
  const options = readOptions(root);
  control<HTMLInputElement>(root, 'colour').disabled = options.background !== 'colour';
  control<HTMLInputElement>(root, 'margin').disabled = !options.crop;
  control<HTMLSelectElement>(root, 'margin-unit').disabled = !options.crop;
  control<HTMLInputElement>(root, 'margin').max = String(MARGIN_MAX[options.marginUnit]);
  control<HTMLInputElement>(root, 'canvas-width').disabled = options.canvas !== 'custom';
  control<HTMLInputElement>(root, 'canvas-height').disabled = options.canvas !== 'custom';
  control<HTMLInputElement>(root, 'fill').disabled = options.canvas === 'none';
  control<HTMLSelectElement>(root, 'position').disabled = options.canvas === 'none';
  part<HTMLElement>(root, '.jpeg-hint').hidden = !(options.format === 'jpeg' && options.background === 'transparent');
}

// ---- API key ----

/** The key in sessionStorage (in memory where storage is blocked); the footer follows it. */
function sessionKeyStore(): KeyStore {
  const name = 'bg-removal-service:api-key';
  let store: KeyStore;
  try {
    const storage = window.sessionStorage;
    storage.getItem(name); // throws where storage is blocked
    store = {
      get: () => storage.getItem(name),
      set: (key) => storage.setItem(name, key),
      clear: () => storage.removeItem(name),
    };
  } catch {
    store = memoryStore();
  }
  const show = (): void => {
    byId('key-state').hidden = store.get() === null;
  };
  show();
  return {
    get: () => store.get(),
    set: (key) => {
      store.set(key);
      show();
    },
    clear: () => {
      store.clear();
      show();
    },
  };
}

/** Asks for a key in the page's dialog; null when the person cancels. */
function askForKey(reason: string): Promise<string | null> {
  const dialog = byId<HTMLDialogElement>('key-dialog');
  const form = byId<HTMLFormElement>('key-form');
  const input = byId<HTMLInputElement>('key-input');
  byId('key-reason').textContent = reason;
  input.value = '';
  return new Promise((resolve) => {
    const finish = (key: string | null): void => {
      form.removeEventListener('submit', submit);
      byId('key-cancel').removeEventListener('click', cancel);
      dialog.removeEventListener('cancel', cancel);
      if (dialog.open) dialog.close();
      resolve(key);
    };
    const submit = (event: Event): void => {
      event.preventDefault();
      const key = input.value.trim();
      if (key) finish(key);
    };
    const cancel = (event: Event): void => {
      event.preventDefault();
      finish(null);
    };
    form.addEventListener('submit', submit);
    byId('key-cancel').addEventListener('click', cancel);
    dialog.addEventListener('cancel', cancel); // Escape
    dialog.showModal();
    input.focus();
  });
}

const keys = new KeyGate(sessionKeyStore(), askForKey);

// ---- Cards ----

const queue = new JobQueue(PARALLEL);
const cards: Card[] = [];
let batchOptions: HTMLElement;

function announce(text: string): void {
  const announcer = byId('announcer');
  announcer.textContent = '';
  // A new node on the next frame, so the same words twice are read twice.
  requestAnimationFrame(() => {
    announcer.textContent = text;
  });
}

function addCard(name: string, source: Source): Card {
  const template = byId<HTMLTemplateElement>('card-template');
  const element = part<HTMLLIElement>(template.content.cloneNode(true) as DocumentFragment, '.card');
  const parts: CardParts = {
    name: part(element, '.card-name'),
    frame: part(element, '.frame'),
    before: part(element, '.before'),
    noPreview: part(element, '.no-preview'),
    after: part(element, '.after'),
    cutout: part(element, '.cutout'),
    divider: part(element, '.divider'),
    captions: [...element.querySelectorAll<HTMLElement>('.caption')],
    splitLabel: part(element, '.split-label'),
    split: part(element, '.split'),
    status: part(element, '.status-text'),
    progress: part(element, '.progress'),
    download: part(element, '.download'),
    retry: part(element, '.retry'),
    options: part(element, '.options-slot'),
    redo: part(element, '.redo'),
    remove: part(element, '.remove'),
  };
  const card: Card = {
    name,
    source,
    originalUrl: source.kind === 'file' ? URL.createObjectURL(source.file) : source.url,
    options: readOptions(batchOptions),
    sent: null,
    state: 'waiting',
    result: null,
    controller: null,
    element,
    parts,
  };
  parts.name.textContent = name;
  parts.name.title = name;
  parts.before.alt = `Original: ${name}`;
  parts.cutout.alt = `Cutout: ${name}`;
  parts.remove.setAttribute('aria-label', `Remove ${name}`);
  parts.before.addEventListener('load', () => {
    if (!card.result) setAspect(card, parts.before.naturalWidth, parts.before.naturalHeight);
  });
  parts.before.addEventListener('error', () => {
    parts.before.hidden = true;
    parts.noPreview.hidden = false;
  });
  parts.before.src = card.originalUrl;
  const controls = optionControls(card.options);
  parts.options.append(controls);
  parts.split.addEventListener('input', () => setSplit(card));
  parts.redo.addEventListener('click', () => {
    card.options = readOptions(controls);
    process(card);
  });
  parts.retry.addEventListener('click', () => process(card));
  parts.remove.addEventListener('click', () => removeCard(card));
  cards.push(card);
  byId('cards').append(element);
  process(card);
  return card;
}

function setAspect(card: Card, width: number, height: number): void {
  if (width > 0 && height > 0) card.parts.frame.style.setProperty('--ratio', String(width / height));
}

function setSplit(card: Card): void {
  card.parts.frame.style.setProperty('--split', `${card.parts.split.value}%`);
}

function setState(card: Card, state: State, text: string, progress?: number): void {
  card.state = state;
  card.element.dataset.state = state;
  card.parts.status.textContent = text;
  const { progress: bar } = card.parts;
  bar.hidden = state === 'done' || state === 'failed';
  if (progress === undefined) bar.removeAttribute('value'); // indeterminate
  else bar.value = Math.round(progress * 100);
  bar.setAttribute('aria-label', `${card.name}: ${text}`);
  card.parts.retry.hidden = state !== 'failed';
  updateSummary();
}

function removeCard(card: Card): void {
  card.controller?.abort(new DOMException('removed', 'AbortError'));
  if (card.source.kind === 'file') URL.revokeObjectURL(card.originalUrl);
  if (card.result) URL.revokeObjectURL(card.result.url);
  card.element.remove();
  cards.splice(cards.indexOf(card), 1);
  updateSummary();
  announce(`${card.name} removed.`);
}

function updateSummary(): void {
  const done = cards.filter((card) => card.state === 'done').length;
  const failed = cards.filter((card) => card.state === 'failed').length;
  const busy = cards.length - done - failed;
  const words = [`${cards.length} ${cards.length === 1 ? 'image' : 'images'}`];
  if (done) words.push(`${done} done`);
  if (busy) words.push(`${busy} in progress`);
  if (failed) words.push(`${failed} failed`);
  byId('summary').textContent = cards.length === 0 ? 'No images yet.' : words.join(', ') + '.';
  const ready = cards.filter((card) => card.result).length;
  const downloadAll = byId<HTMLButtonElement>('download-all');
  downloadAll.disabled = ready === 0;
  downloadAll.textContent = ready > 0 ? `Download all ${ready} (ZIP)` : 'Download all (ZIP)';
  byId<HTMLButtonElement>('clear-all').disabled = cards.length === 0;
}

const sleep = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve, reject) => {
    signal.throwIfAborted();
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', stop);
      resolve();
    }, ms);
    const stop = (): void => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal.addEventListener('abort', stop, { once: true });
  });

/** (Re)runs a card with its options: a run still going for it is stopped first. */
function process(card: Card): void {
  card.controller?.abort(new DOMException('replaced', 'AbortError'));
  const controller = new AbortController();
  card.controller = controller;
  const { signal } = controller;
  const options = { ...card.options };
  const problem = optionsProblem(options);
  if (problem) {
    fail(card, problem, false);
    return;
  }
  card.sent = options;
  setState(card, 'waiting', queue.running >= queue.limit ? 'Waiting for a free place…' : 'Starting…');
  queue
    .run(
      () =>
        settle((key) => send(card, options, key, signal), {
          keys,
          sleep,
          signal,
          onBusy: (seconds) => setState(card, 'waiting', `The service is busy: trying again in ${seconds} s…`),
          onKeyNeeded: () => setState(card, 'waiting', 'Waiting for an API key…'),
        }),
      signal,
    )
    .then(
      (settled) => {
        if (signal.aborted) return;
        if (settled.ok) showResult(card, settled.value);
        else fail(card, settled.message, settled.retry);
      },
      (error: unknown) => {
        if (signal.aborted) return;
        fail(card, `Something went wrong in the page: ${error instanceof Error ? error.message : String(error)}`, true);
      },
    );
}

/** `retry`: whether to offer "Try again" (not for a file that is not an image, say: it would fail the same way). */
function fail(card: Card, message: string, retry: boolean): void {
  setState(card, 'failed', message);
  card.parts.retry.hidden = !retry;
  announce(`${card.name}: ${message}`);
}

const intHeader = (xhr: XMLHttpRequest, name: string): number => Number.parseInt(xhr.getResponseHeader(name) ?? '', 10);

/** One request. XMLHttpRequest rather than fetch: only it reports upload progress. */
function send(card: Card, options: CutoutOptions, key: string | null, signal: AbortSignal): Promise<Sent<Result>> {
  return new Promise((resolve, reject) => {
    signal.throwIfAborted();
    const xhr = new XMLHttpRequest();
    // Relative, so the page works wherever the service is mounted.
    xhr.open('POST', 'remove-background');
    xhr.responseType = 'blob';
    xhr.timeout = REQUEST_TIMEOUT_MS;
    if (key !== null) xhr.setRequestHeader('authorization', `Bearer ${key}`);
    let body: FormData | string;
    if (card.source.kind === 'file') {
      const form = new FormData();
      for (const [name, value] of Object.entries(requestFields(options))) form.append(name, value);
      form.append('image_file', card.source.file, card.source.file.name);
      body = form;
      setState(card, 'uploading', 'Uploading…', 0);
    } else {
      xhr.setRequestHeader('content-type', 'application/json');
      body = JSON.stringify(requestJson(card.source.url, options));
      setState(card, 'uploading', 'Sending the address…');
    }
    const processing = (): void => {
      if (card.state === 'uploading') {
        setState(card, 'processing', card.source.kind === 'file' ? 'Removing the background…' : 'Fetching the image and removing its background…');
      }
    };
    xhr.upload.addEventListener('progress', (event) => {
      if (event.lengthComputable && card.state === 'uploading') setState(card, 'uploading', `Uploading… ${Math.floor((event.loaded / event.total) * 100)} %`, event.loaded / event.total);
    });
    xhr.upload.addEventListener('load', processing);
    xhr.addEventListener('readystatechange', () => {
      if (xhr.readyState >= XMLHttpRequest.HEADERS_RECEIVED) processing();
    });
    xhr.addEventListener('load', () => {
      const answer = { status: xhr.status, retryAfter: xhr.getResponseHeader('retry-after') };
      const blob = xhr.response as Blob;
      if (xhr.status >= 200 && xhr.status < 300) {
        resolve({
          kind: 'ok',
          value: {
            blob,
            url: URL.createObjectURL(blob),
            fileName: resultFileName(card.name, options.format),
            options,
            width: intHeader(xhr, 'x-width'),
            height: intHeader(xhr, 'x-height'),
            box: {
              left: intHeader(xhr, 'x-foreground-left'),
              top: intHeader(xhr, 'x-foreground-top'),
              width: intHeader(xhr, 'x-foreground-width'),
              height: intHeader(xhr, 'x-foreground-height'),
            },
            modified: new Date(),
          },
        });
        return;
      }
      blob.text().then(
        (text) => resolve(judge({ ...answer, body: text }, Date.now()) as Sent<Result>),
        () => resolve(judge({ ...answer, body: '' }, Date.now()) as Sent<Result>),
      );
    });
    xhr.addEventListener('error', () => resolve(judge({ status: 0, retryAfter: null, body: '' }, Date.now()) as Sent<Result>));
    xhr.addEventListener('timeout', () => resolve({ kind: 'failed', message: 'The service took too long to answer.', retry: true }));
    xhr.addEventListener('abort', () => reject(signal.reason));
    signal.addEventListener('abort', () => xhr.abort(), { once: true });
    xhr.send(body);
  });
}

function showResult(card: Card, result: Result): void {
  const { parts } = card;
  if (card.result) URL.revokeObjectURL(card.result.url);
  card.result = result;
  setAspect(card, result.width, result.height);
  // The cutout sits where it was cut from: the crop box, or the whole image when not cropped (or
  // when the headers that say where did not come through, say from a proxy that drops them). A
  // canvas is a picture of its own: it covers the frame, fitted whole.
  const { width, height, box } = result;
  const canvas = result.options.canvas !== 'none';
  const known = [width, height, box.left, box.top, box.width, box.height].every(Number.isFinite) && width > 0 && height > 0;
  const place = result.options.crop && known && !canvas ? box : { left: 0, top: 0, width: 1, height: 1 };
  const [across, down] = result.options.crop && known && !canvas ? [width, height] : [1, 1];
  parts.cutout.style.setProperty('object-fit', canvas ? 'contain' : 'fill');
  const percent = (value: number, of: number): string => `${((value / of) * 100).toFixed(4)}%`;
  parts.cutout.style.setProperty('left', percent(place.left, across));
  parts.cutout.style.setProperty('top', percent(place.top, down));
  parts.cutout.style.setProperty('width', percent(place.width, across));
  parts.cutout.style.setProperty('height', percent(place.height, down));
  parts.cutout.src = result.url;
  for (const element of [parts.after, parts.divider, parts.splitLabel, ...parts.captions]) element.hidden = false;
  setSplit(card);
  parts.download.href = result.url;
  parts.download.download = result.fileName;
  parts.download.textContent = `Download ${result.options.format.toUpperCase()}`;
  parts.download.setAttribute('aria-label', `Download ${result.fileName}`);
  parts.download.hidden = false;
  const size = result.blob.size < 1024 * 1024 ? `${Math.max(1, Math.round(result.blob.size / 1024))} KB` : `${(result.blob.size / 1024 / 1024).toFixed(1)} MB`;
  setState(card, 'done', `Done: ${result.fileName}, ${size}.`);
  announce(`${card.name} is done.`);
}

// ---- Adding images ----

function addFiles(files: Iterable<File>): void {
  let added = 0;
  for (const file of files) {
    addCard(file.name || 'pasted image', { kind: 'file', file });
    added++;
  }
  if (added) announce(`${added} ${added === 1 ? 'image' : 'images'} added.`);
}

function addUrl(text: string): string | null {
  const checked = checkImageUrl(text);
  if ('problem' in checked) return checked.problem;
  addCard(nameFromUrl(checked.url), { kind: 'url', url: checked.url });
  announce('Image added.');
  return null;
}

function wireIntake(): void {
  const zone = byId('drop-zone');
  const input = byId<HTMLInputElement>('file-input');
  input.addEventListener('change', () => {
    if (input.files) addFiles([...input.files]);
    input.value = '';
  });

  // Drops count anywhere on the page (a near miss should not open the image in the tab instead).
  let depth = 0;
  document.addEventListener('dragenter', (event) => {
    event.preventDefault();
    depth++;
    zone.classList.add('dragging');
  });
  document.addEventListener('dragleave', () => {
    depth = Math.max(0, depth - 1);
    if (depth === 0) zone.classList.remove('dragging');
  });
  document.addEventListener('dragover', (event) => {
    event.preventDefault();
    if (event.dataTransfer) event.dataTransfer.dropEffect = 'copy';
  });
  document.addEventListener('drop', (event) => {
    event.preventDefault();
    depth = 0;
    zone.classList.remove('dragging');
    const transfer = event.dataTransfer;
    if (!transfer) return;
    if (transfer.files.length > 0) {
      addFiles([...transfer.files]);
      return;
    }
    // An image dragged from another site comes as its address.
    const uri = transfer.getData('text/uri-list').split(/\r?\n/).find((line) => line && !line.startsWith('#'));
    if (uri) {
      const problem = addUrl(uri);
      if (problem) announce(problem);
    }
  });

  document.addEventListener('paste', (event) => {
    const files = [...(event.clipboardData?.files ?? [])];
    if (files.length === 0) return; // text pastes into whatever field has focus, as usual
    event.preventDefault();
    addFiles(files);
  });

  const form = byId<HTMLFormElement>('url-form');
  const url = byId<HTMLInputElement>('url-input');
  const problem = byId('url-problem');
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const message = addUrl(url.value);
    problem.textContent = message ?? '';
    url.setAttribute('aria-invalid', String(message !== null));
    if (message === null) url.value = '';
  });
}

// ---- Batch actions ----

async function downloadAll(): Promise<void> {
  const ready = cards.filter((card): card is Card & { result: Result } => card.result !== null);
  if (ready.length === 0) return;
  const names = uniqueNames(ready.map((card) => card.result.fileName));
  const entries = await Promise.all(
    ready.map(async (card, index) => ({
      name: names[index]!,
      data: new Uint8Array(await card.result.blob.arrayBuffer()),
      modified: card.result.modified,
    })),
  );
  const url = URL.createObjectURL(new Blob(zipStore(entries), { type: 'application/zip' }));
  const link = document.createElement('a');
  link.href = url;
  link.download = 'cutouts.zip';
  document.body.append(link);
  link.click();
  link.remove();
  // Revoked later: the download may still be reading it.
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
  announce(`A ZIP of ${ready.length} ${ready.length === 1 ? 'result' : 'results'} is downloading.`);
}

function applyToAll(): void {
  const options = readOptions(batchOptions);
  const problem = optionsProblem(options);
  byId('batch-problem').textContent = problem ?? '';
  if (problem) {
    announce(problem);
    return;
  }
  let redone = 0;
  for (const card of cards) {
    writeOptions(part(card.parts.options, '.options'), options);
    card.options = { ...options };
    if (card.state === 'failed' || card.sent === null || !sameOptions(card.sent, options)) {
      process(card);
      redone++;
    }
  }
  announce(redone ? `Redoing ${redone} ${redone === 1 ? 'image' : 'images'} with the new options.` : 'Every image already has these options.');
}

function main(): void {
  batchOptions = optionControls({ ...DEFAULT_OPTIONS });
  byId('batch-options').append(batchOptions);
  byId('apply-all').addEventListener('click', applyToAll);
  byId('download-all').addEventListener('click', () => {
    downloadAll().catch((error: unknown) => announce(`The ZIP could not be made: ${error instanceof Error ? error.message : String(error)}`));
  });
  byId('clear-all').addEventListener('click', () => {
    for (const card of [...cards]) removeCard(card);
    announce('All images removed.');
  });
  byId('forget-key').addEventListener('click', () => {
    keys.forget();
    announce('The API key is forgotten.');
  });
  wireIntake();
  updateSummary();
}

main();
