// Raw pixels to PNG.
import sharp from 'sharp';

/** Encodes RGBA (4 channels) or greyscale (1 channel) pixels. */
export async function encodePng(pixels: Buffer, width: number, height: number, channels: 1 | 4): Promise<Buffer> {
  // sharp would otherwise widen a single band to sRGB.
  return sharp(pixels, { raw: { width, height, channels } })
    .toColourspace(channels === 1 ? 'b-w' : 'srgb')
    .png({ compressionLevel: 6, adaptiveFiltering: false })
    .toBuffer();
}
