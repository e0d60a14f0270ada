// JPEG: the decoder (baseline and progressive Huffman, EXIF orientation applied), the header reader
// and the baseline encoder, through jpeg-js; exifOrientation reads the EXIF Orientation tag.
import jpeg from 'jpeg-js';
import { MAX_PIXELS, applyOrientation, clamp01, toRGB, type Image } from './pixels.js';
import { checkSize, fail, messageOf } from './errors.js';
import { readU32BE } from './bytes.js';
import type { ImageHeader } from './image.js';

// jpeg-js decodes baseline, extended and progressive Huffman JPEGs. Its 'tolerant' mode quietly
// fills missing data with grey, so the marker structure is walked here first to report truncation,
// the component count (so gray stays gray) and the EXIF orientation. Note that jpeg-js upsamples
// subsampled chroma (4:2:0) by repetition, where libjpeg interpolates: colour edges come out a
// little blockier (about 1-2 levels mean difference from libjpeg on small test images).

export function jpegHeader(b: Uint8Array, name: string): ImageHeader | null {
  let pos = 2;
  let orientation = 1;
  for (;;) {
    while (pos < b.length && b[pos] !== 0xff) pos++;
    while (pos + 1 < b.length && b[pos + 1] === 0xff) pos++;
    if (pos + 3 >= b.length) return null;
    const marker = b[pos + 1];
    pos += 2;
    if ((marker >= 0xd0 && marker <= 0xd7) || marker === 0x01 || marker === 0x00) continue;
    if (marker === 0xd9 || marker === 0xda) fail(name, 'corrupt JPEG (no frame header before the image data)');
    const len = (b[pos] << 8) | b[pos + 1];
    if (len < 2) fail(name, `corrupt JPEG (segment 0xFF${hex(marker)} has length ${len})`);
    if (pos + len > b.length) return null;
    const seg = b.subarray(pos + 2, pos + len);
    if (marker === 0xe1) orientation = exifOrientation(seg) ?? orientation;
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      if (seg.length < 6) fail(name, 'corrupt JPEG (short frame header)');
      const height = (seg[1] << 8) | seg[2], width = (seg[3] << 8) | seg[4];
      if (height === 0) fail(name, `zero-sized image (${width}x0; height defined later by DNL is not supported)`);
      checkSize(name, width, height);
      return orientation >= 5 ? { format: 'JPEG', width: height, height: width } : { format: 'JPEG', width, height };
    }
    pos += len;
  }
}

interface JpegInfo {
  sof: number;
  precision: number;
  width: number;
  height: number;
  components: number;
  orientation: number;
}

function scanJpeg(b: Uint8Array, name: string): JpegInfo {
  let pos = 2;
  let info: JpegInfo | undefined;
  let orientation = 1;
  let sawScan = false;
  for (;;) {
    // Tolerate junk between segments, as decoders do; then skip 0xFF fill bytes.
    while (pos < b.length && b[pos] !== 0xff) pos++;
    while (pos + 1 < b.length && b[pos + 1] === 0xff) pos++;
    if (pos + 1 >= b.length) fail(name, `truncated JPEG (no end-of-image marker; file ends at ${b.length} bytes)`);
    const marker = b[pos + 1];
    const at = pos;
    pos += 2;
    if (marker === 0xd9) break; // EOI
    if ((marker >= 0xd0 && marker <= 0xd7) || marker === 0x01 || marker === 0x00) continue;
    if (pos + 2 > b.length) fail(name, `truncated JPEG (segment 0xFF${hex(marker)} at byte ${at} cut short)`);
    const len = (b[pos] << 8) | b[pos + 1];
    if (len < 2) fail(name, `corrupt JPEG (segment 0xFF${hex(marker)} at byte ${at} has length ${len})`);
    if (pos + len > b.length) {
      fail(name, `truncated JPEG (segment 0xFF${hex(marker)} at byte ${at} needs ${len + 2} bytes, file ends at ${b.length})`);
    }
    const seg = b.subarray(pos + 2, pos + len);
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      if (seg.length < 6) fail(name, 'corrupt JPEG (short frame header)');
      if (info) fail(name, 'unsupported JPEG (more than one frame)');
      info = {
        sof: marker,
        precision: seg[0],
        height: (seg[1] << 8) | seg[2],
        width: (seg[3] << 8) | seg[4],
        components: seg[5],
        orientation: 1,
      };
    } else if (marker === 0xe1) {
      const o = exifOrientation(seg);
      if (o !== undefined) orientation = o;
    }
    pos += len;
    if (marker === 0xda) {
      if (!info) fail(name, 'corrupt JPEG (scan before frame header)');
      sawScan = true;
      // Entropy-coded data runs to the next marker that is not a stuffed 0xFF00 or a restart marker.
      while (pos + 1 < b.length) {
        if (b[pos] === 0xff) {
          const m = b[pos + 1];
          if (m !== 0x00 && m !== 0xff && !(m >= 0xd0 && m <= 0xd7)) break;
        }
        pos++;
      }
      if (pos + 1 >= b.length) fail(name, `truncated JPEG (image data cut short; file ends at ${b.length} bytes)`);
    }
  }
  if (!info) fail(name, 'corrupt JPEG (no frame header)');
  if (!sawScan) fail(name, 'truncated JPEG (no image data)');
  info.orientation = orientation;
  return info;
}

function hex(m: number): string {
  return m.toString(16).toUpperCase().padStart(2, '0');
}

/** The Orientation tag (0x0112) of IFD0 in an APP1 Exif payload, if present and valid (1..8). */
export function exifOrientation(app1: Uint8Array): number | undefined {
  // "Exif\0\0", then a TIFF header: byte order, 42, offset of IFD0 (from the TIFF header's start).
  if (app1.length < 14 || String.fromCharCode(...app1.subarray(0, 4)) !== 'Exif' || app1[4] !== 0 || app1[5] !== 0) return undefined;
  const t = app1.subarray(6);
  const le = t[0] === 0x49 && t[1] === 0x49;
  if (!le && !(t[0] === 0x4d && t[1] === 0x4d)) return undefined;
  const u16 = (o: number) => (le ? t[o] | (t[o + 1] << 8) : (t[o] << 8) | t[o + 1]);
  const u32 = (o: number) => (le ? (t[o] | (t[o + 1] << 8) | (t[o + 2] << 16) | (t[o + 3] << 24)) >>> 0 : readU32BE(t, o));
  if (u16(2) !== 42) return undefined;
  const ifd = u32(4);
  if (ifd + 2 > t.length) return undefined;
  const count = u16(ifd);
  for (let i = 0; i < count; i++) {
    const e = ifd + 2 + i * 12;
    if (e + 12 > t.length) return undefined;
    if (u16(e) !== 0x0112) continue;
    const type = u16(e + 2);
    const v = type === 3 ? u16(e + 8) : type === 4 ? u32(e + 8) : 0; // SHORT, or a sloppy LONG
    return v >= 1 && v <= 8 ? v : undefined;
  }
  return undefined;
}

export function decodeJpeg(bytes: Uint8Array, name: string): Image {
  const info = scanJpeg(bytes, name);
  const kinds: Record<number, string> = { 0xc3: 'lossless', 0xc5: 'hierarchical', 0xc6: 'hierarchical', 0xc7: 'hierarchical' };
  if (info.sof > 0xc2) fail(name, `unsupported JPEG (${kinds[info.sof] ?? 'arithmetic-coded'}; only baseline and progressive Huffman JPEGs are read)`);
  if (info.precision !== 8) fail(name, `unsupported JPEG (${info.precision}-bit samples)`);
  if (info.height === 0) fail(name, `zero-sized image (${info.width}x${info.height}; height defined later by DNL is not supported)`);
  checkSize(name, info.width, info.height);
  if (info.components !== 1 && info.components !== 3 && info.components !== 4) {
    fail(name, `unsupported JPEG (${info.components} colour components)`);
  }
  let raw: { width: number; height: number; data: Uint8Array };
  try {
    raw = jpeg.decode(bytes, {
      useTArray: true,
      formatAsRGBA: false,
      maxResolutionInMP: MAX_PIXELS / 1e6,
      maxMemoryUsageInMB: 8192,
    });
  } catch (e) {
    fail(name, `corrupt JPEG (${messageOf(e)})`);
  }
  const n = raw.width * raw.height;
  const gray = info.components === 1;
  const channels = gray ? 1 : 3;
  const out = new Float32Array(n * channels);
  if (gray) for (let i = 0; i < n; i++) out[i] = raw.data[i * 3] / 255;
  else for (let i = 0; i < n * 3; i++) out[i] = raw.data[i] / 255;
  return applyOrientation({ width: raw.width, height: raw.height, channels, bitDepth: 8, data: out }, info.orientation);
}

/**
 * Baseline JPEG (jpeg-js, 4:4:4 YCbCr) of the colour channels; alpha is dropped. jpeg-js always
 * writes three components, so a gray image is written as R = G = B and decodes as RGB.
 */
export function encodeJpeg(img: Image, quality = 90): Uint8Array {
  const { width, height } = img;
  if (width <= 0 || height <= 0) throw new Error(`encodeJpeg: zero-sized image (${width}x${height})`);
  const { rgb } = toRGB(img);
  const n = width * height;
  const rgba = new Uint8Array(n * 4);
  for (let i = 0; i < n; i++) {
    rgba[i * 4] = Math.round(clamp01(rgb[i * 3]) * 255);
    rgba[i * 4 + 1] = Math.round(clamp01(rgb[i * 3 + 1]) * 255);
    rgba[i * 4 + 2] = Math.round(clamp01(rgb[i * 3 + 2]) * 255);
    rgba[i * 4 + 3] = 255;
  }
  const q = Math.max(1, Math.min(100, Math.round(quality)));
  const enc = jpeg.encode({ width, height, data: rgba }, q);
  return new Uint8Array(enc.data.buffer, enc.data.byteOffset, enc.data.byteLength);
}
