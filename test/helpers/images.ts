// Test images made on the fly: plain backgrounds with simple, clearly salient shapes.
import sharp from 'sharp';

export interface Shape {
  kind: 'circle' | 'rect';
  /** Centre for circles, top-left for rectangles. */
  x: number;
  y: number;
  /** Radius for circles; width and height for rectangles. */
  r?: number;
  w?: number;
  h?: number;
  fill: string;
}

export function svgScene(width: number, height: number, shapes: Shape[], background = '#ffffff'): Buffer {
  const body = shapes
    .map((s) =>
      s.kind === 'circle'
        ? `<circle cx="${s.x}" cy="${s.y}" r="${s.r}" fill="${s.fill}"/>`
        : `<rect x="${s.x}" y="${s.y}" width="${s.w}" height="${s.h}" fill="${s.fill}"/>`,
    )
    .join('');
  return Buffer.from(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}"><rect width="100%" height="100%" fill="${background}"/>${body}</svg>`,
  );
}

/** A scene rendered to PNG or JPEG bytes. */
export async function sceneImage(
  width: number,
  height: number,
  shapes: Shape[],
  format: 'png' | 'jpeg' = 'png',
  background = '#ffffff',
): Promise<Buffer> {
  const image = sharp(svgScene(width, height, shapes, background));
  return format === 'png' ? image.png().toBuffer() : image.jpeg({ quality: 92 }).toBuffer();
}

/** A red disc on white: a subject any saliency model finds. */
export const discImage = (width = 480, height = 360, format: 'png' | 'jpeg' = 'png'): Promise<Buffer> =>
  sceneImage(width, height, [{ kind: 'circle', x: width / 2, y: height / 2, r: Math.min(width, height) / 4, fill: '#d02020' }], format);

/** A plain image with nothing in it. */
export const blankImage = (width = 480, height = 360, colour = '#ffffff'): Promise<Buffer> =>
  sharp({ create: { width, height, channels: 3, background: colour } }).png().toBuffer();

/** Decodes an image into raw pixels with the channel count it was stored with (1 stays 1). */
export async function decodeImageBytes(
  bytes: Buffer,
): Promise<{ data: Buffer; width: number; height: number; channels: number; format: string }> {
  const meta = await sharp(bytes).metadata();
  const image = meta.channels === 1 ? sharp(bytes).extractChannel(0) : sharp(bytes);
  const { data, info } = await image.raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, channels: info.channels, format: meta.format ?? 'unknown' };
}
