// npm run generate-products -- <folder> [width]: writes six product shots (a bag, a dress, a pair of
// shoes, a shirt, a hat, a necklace) on studio backgrounds with a soft floor shadow, as JPEG, with
// their exact masks (the shadow is background), in the layout `npm run eval` reads: <folder>/images
// and <folder>/masks. The default width, 3000 px (3000x2000), is about 9 pixels per model grid cell:
// where the edge filter works (README, Quality). The scenes are vector drawings, so every size
// has sharp edges and an exact ground truth; they are easy subjects, made to measure edges, not
// to find subjects.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import sharp from 'sharp';

/** Drawn in a 3000x2000 frame; F1 and F2 are replaced by the product's two colours. */
const PRODUCTS: Record<string, string> = {
  bag: '<path d="M1000 900 L2000 900 L2150 1700 L850 1700 Z" fill="F1"/><path d="M1200 900 C1200 500 1800 500 1800 900 L1740 900 C1740 580 1260 580 1260 900 Z" fill="F2"/>',
  dress: '<path d="M1350 300 L1650 300 L1700 700 L2000 1800 L1000 1800 L1300 700 Z" fill="F1"/><path d="M1380 300 L1400 120 L1430 120 L1420 300 Z" fill="F1"/><path d="M1580 300 L1570 120 L1600 120 L1620 300 Z" fill="F1"/>',
  shoes: '<path d="M600 1300 C600 1000 900 1000 1000 1150 L1350 1300 C1450 1350 1450 1500 1350 1500 L620 1500 Z" fill="F1"/><path d="M1600 1300 C1600 1000 1900 1000 2000 1150 L2350 1300 C2450 1350 2450 1500 2350 1500 L1620 1500 Z" fill="F1"/>',
  shirt: '<path d="M1100 400 L1350 330 C1420 420 1580 420 1650 330 L1900 400 L2250 750 L2050 950 L1880 800 L1880 1750 L1120 1750 L1120 800 L950 950 L750 750 Z" fill="F1"/>',
  hat: '<ellipse cx="1500" cy="1250" rx="800" ry="220" fill="F2"/><path d="M1050 1250 C1050 700 1950 700 1950 1250 Z" fill="F1"/>',
  necklace: '<path d="M1000 600 C1000 1500 2000 1500 2000 600 L1970 600 C1970 1450 1030 1450 1030 600 Z" fill="F1"/><circle cx="1500" cy="1380" r="90" fill="F2"/>',
};
const PALETTES: [string, string, string][] = [
  ['#1f3a93', '#c0392b', '#ffffff'], ['#2c2c2c', '#8e6e53', '#f2f2f2'], ['#d35400', '#27ae60', '#e8e4dc'],
  ['#9b59b6', '#f1c40f', '#ffffff'], ['#7f8c8d', '#34495e', '#dfe6e9'], ['#e84393', '#00b894', '#fafafa'],
];
const SHADOW = '<ellipse cx="1500" cy="1820" rx="900" ry="60" fill="#000" opacity="0.25" filter="url(#blur)"/>';

function svg(width: number, body: string, background: string, gradient: boolean): Buffer {
  const height = Math.round((width * 2) / 3);
  const defs =
    '<filter id="blur"><feGaussianBlur stdDeviation="25"/></filter>' +
    (gradient ? `<linearGradient id="floor" x1="0" y1="0" x2="0" y2="1"><stop offset="0" stop-color="${background}"/><stop offset="1" stop-color="#c8c8c8"/></linearGradient>` : '');
  return Buffer.from(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 3000 2000"><defs>${defs}</defs>` +
      `<rect width="3000" height="2000" fill="${gradient ? 'url(#floor)' : background}"/>${body}</svg>`,
  );
}

/** Writes <folder>/images/<name>.jpg and <folder>/masks/<name>.png for every product; returns the names. */
export async function generateProducts(folder: string, width = 3000): Promise<string[]> {
  mkdirSync(path.join(folder, 'images'), { recursive: true });
  mkdirSync(path.join(folder, 'masks'), { recursive: true });
  const names = Object.keys(PRODUCTS);
  for (const [index, name] of names.entries()) {
    const [first, second, background] = PALETTES[index % PALETTES.length]!;
    const drawing = PRODUCTS[name]!;
    const photo = svg(width, SHADOW + drawing.replaceAll('F1', first).replaceAll('F2', second), background, index % 2 === 1);
    const mask = svg(width, drawing.replaceAll('F1', '#ffffff').replaceAll('F2', '#ffffff'), '#000000', false);
    writeFileSync(path.join(folder, 'images', `${name}.jpg`), await sharp(photo).jpeg({ quality: 90 }).toBuffer());
    writeFileSync(path.join(folder, 'masks', `${name}.png`), await sharp(mask).extractChannel(0).toColourspace('b-w').png().toBuffer());
  }
  return names;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [folder, width] = process.argv.slice(2);
  if (!folder || (width !== undefined && !(Number(width) >= 64 && Number(width) <= 8000))) {
    console.error('usage: npm run generate-products -- <folder> [width, 64 to 8000, default 3000]');
    process.exit(2);
  }
  generateProducts(path.resolve(folder), width === undefined ? undefined : Number(width)).then(
    (names) => console.log(`${names.length} product shots with masks written to ${path.resolve(folder)}`),
    (error: unknown) => {
      console.error(`generate-products failed: ${error instanceof Error ? error.message : String(error)}`);
      process.exit(1);
    },
  );
}
