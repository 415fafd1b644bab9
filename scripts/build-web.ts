// npm run build (after tsc): builds the web page into dist/web, which src/routes/page.ts serves.
// web/src/*.ts is compiled for the browser with web/tsconfig.json (DOM types, ES modules, no
// bundler) into dist/web/assets/; web/index.html goes to dist/web/ and the other files of web/
// (styles) to dist/web/assets/. The folder is emptied first, so nothing stale is ever served.
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { projectRoot } from '../src/config.js';

/** Files of web/ copied as they are: the page and what it links to. */
const STATIC_EXTENSIONS = new Set(['.html', '.css', '.svg', '.png']);

export function buildWeb(root = projectRoot): void {
  const source = path.join(root, 'web');
  const out = path.join(root, 'dist', 'web');
  rmSync(out, { recursive: true, force: true });
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  execFileSync(process.execPath, [tsc, '-p', path.join(source, 'tsconfig.json')], { stdio: 'inherit' });
  mkdirSync(path.join(out, 'assets'), { recursive: true });
  for (const name of readdirSync(source)) {
    const file = path.join(source, name);
    if (!statSync(file).isFile() || !STATIC_EXTENSIONS.has(path.extname(name))) continue;
    copyFileSync(file, name === 'index.html' ? path.join(out, name) : path.join(out, 'assets', name));
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  buildWeb();
}
