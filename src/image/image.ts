// Image formats: bytes decoded by their magic bytes (PNG, JPEG, BMP; other formats named in the
// error), the size read from the header alone before anything is decoded, and encoding by the output
// file's extension. The codecs are png.ts, jpeg.ts and bmp.ts; the Image type and its helpers are
// pixels.ts's, ICC/EXIF carry-over metadata.ts's. Files are read and written by
// src/node/image-files.ts. Node-only through png.ts (node:zlib).
import type { Image } from './pixels.js';
import { fail } from './errors.js';
import { startsWith } from './bytes.js';
import { decodePng, encodePng, pngHeader } from './png.js';
import { decodeJpeg, encodeJpeg, jpegHeader } from './jpeg.js';
import { bmpHeader, decodeBmp } from './bmp.js';

/** Decodes PNG, JPEG or BMP bytes, recognised by their magic bytes. `name` is used in error messages. */
export function decodeImage(bytes: Uint8Array, name: string): Image {
  if (bytes.length === 0) fail(name, 'empty file (0 bytes)');
  if (startsWith(bytes, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return decodePng(bytes, name);
  if (startsWith(bytes, [0xff, 0xd8, 0xff])) return decodeJpeg(bytes, name);
  if (startsWith(bytes, [0x42, 0x4d])) return decodeBmp(bytes, name);
  const other = sniffUnsupported(bytes);
  if (other) fail(name, `unsupported image format (${other}); use PNG, JPEG or BMP`);
  fail(name, 'not an image (unknown format)');
}

/**
 * The most bytes a file holding `pixels` pixels can sensibly take: 16-bit RGBA stored without
 * compression is 8 bytes a pixel (plus PNG's filter bytes and zlib's stored-block headers), and
 * 16 MiB more for metadata (ICC profiles, EXIF thumbnails). Anything larger is refused unread.
 */
export function imageByteCap(pixels: number): number {
  return Math.ceil(pixels * 8 * 1.01) + 16 * 2 ** 20;
}

/** An image's format and size as its header gives them (JPEG: EXIF orientation applied). */
export interface ImageHeader {
  format: 'PNG' | 'JPEG' | 'BMP';
  width: number;
  height: number;
}

/**
 * Reads the size from the header alone, so that size limits hold before any decoder allocates:
 * a 16384x16384 PNG of one colour is a few kilobytes that would inflate to gigabytes. `bytes` may
 * be a prefix of the file: null means the header did not end inside it. Non-images throw.
 */
export function readImageHeader(bytes: Uint8Array, name: string): ImageHeader | null {
  if (bytes.length === 0) fail(name, 'empty file (0 bytes)');
  const png = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  if (startsWith(bytes, png)) return pngHeader(bytes, name);
  if (startsWith(bytes, [0xff, 0xd8, 0xff])) return jpegHeader(bytes, name);
  if (startsWith(bytes, [0x42, 0x4d])) return bmpHeader(bytes, name);
  if (bytes.length < 8 && png.slice(0, bytes.length).every((v, i) => v === bytes[i])) return null;
  const other = sniffUnsupported(bytes);
  if (other) fail(name, `unsupported image format (${other}); use PNG, JPEG or BMP`);
  fail(name, 'not an image (unknown format)');
}

function sniffUnsupported(b: Uint8Array): string | undefined {
  const ascii = (o: number, n: number) => String.fromCharCode(...b.subarray(o, o + n));
  if (ascii(0, 4) === 'GIF8') return 'GIF';
  if (ascii(0, 4) === 'RIFF' && ascii(8, 4) === 'WEBP') return 'WebP';
  if (startsWith(b, [0x49, 0x49, 0x2a, 0x00]) || startsWith(b, [0x4d, 0x4d, 0x00, 0x2a])) return 'TIFF';
  if (ascii(4, 4) === 'ftyp') return 'HEIF/AVIF';
  if (startsWith(b, [0xff, 0x4f, 0xff, 0x51]) || ascii(4, 4) === 'jP  ') return 'JPEG 2000';
  if (/^P[1-7]\s/.test(ascii(0, 3))) return 'PNM';
  if (startsWith(b, [0xff, 0x0a])) return 'JPEG XL';
  return undefined;
}

/** Encodes by the file name's extension: .png, .jpg / .jpeg. */
export function encodeByExtension(img: Image, path: string, jpegQuality = 90): Uint8Array {
  const ext = (/\.[^./\\]*$/.exec(path)?.[0] ?? '').toLowerCase();
  if (ext === '.png') return encodePng(img);
  if (ext === '.jpg' || ext === '.jpeg') return encodeJpeg(img, jpegQuality);
  throw new Error(`${path}: cannot write this format (use .png, .jpg or .jpeg)`);
}
