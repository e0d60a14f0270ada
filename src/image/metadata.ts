// Metadata carried from an input file to its output: the ICC colour profile (without it a wide-
// gamut photo's colours shift) and EXIF (camera, date, GPS). PNG holds them in iCCP and eXIf
// chunks, JPEG in APP2 ICC_PROFILE segments and an APP1 Exif segment.
// Node-only: iCCP profiles are compressed with node:zlib.
import { deflateSync, inflateSync } from 'node:zlib';
import { readU32BE, startsWith } from './bytes.js';
import { pngChunk } from './png.js';

export interface ImageMetadata {
  /** The ICC profile, uncompressed. */
  icc?: Uint8Array;
  /** The EXIF block as a TIFF stream (from its "II*\0" or "MM\0*" header). */
  exif?: Uint8Array;
}

const MAX_ICC = 16 * 2 ** 20; // larger profiles exist only in hostile files

/**
 * The ICC profile and EXIF of PNG or JPEG bytes (none for BMP), for writeMetadata. A JPEG's EXIF
 * orientation is set to 1 (upright) in the copy, because the decoder already turned the pixels:
 * a viewer would otherwise turn them twice. Damaged metadata is ignored, never an error.
 */
export function readMetadata(b: Uint8Array): ImageMetadata {
  try {
    if (startsWith(b, [0x89, 0x50, 0x4e, 0x47])) return pngMetadata(b);
    if (startsWith(b, [0xff, 0xd8, 0xff])) return jpegMetadata(b);
  } catch { /* metadata is a courtesy: a broken profile must not cost the image */ }
  return {};
}

function pngMetadata(b: Uint8Array): ImageMetadata {
  const out: ImageMetadata = {};
  for (let pos = 8; pos + 12 <= b.length;) {
    const len = readU32BE(b, pos);
    const type = String.fromCharCode(...b.subarray(pos + 4, pos + 8));
    if (pos + 12 + len > b.length || type === 'IDAT' || type === 'IEND') break;
    const body = b.subarray(pos + 8, pos + 8 + len);
    if (type === 'iCCP') {
      const nul = body.indexOf(0);
      if (nul > 0 && body[nul + 1] === 0) out.icc = new Uint8Array(inflateSync(body.subarray(nul + 2), { maxOutputLength: MAX_ICC }));
    } else if (type === 'eXIf' && isTiff(body)) out.exif = Uint8Array.from(body);
    pos += 12 + len;
  }
  return out;
}

function jpegMetadata(b: Uint8Array): ImageMetadata {
  const out: ImageMetadata = {};
  const icc: Array<[number, Uint8Array]> = [];
  for (let pos = 2; pos + 4 <= b.length;) {
    if (b[pos] !== 0xff) break;
    const marker = b[pos + 1];
    if (marker === 0xda || marker === 0xd9) break; // metadata comes before the image data
    const len = (b[pos + 2] << 8) | b[pos + 3];
    const seg = b.subarray(pos + 4, pos + 2 + len);
    const tag = (s: string) => s.length <= seg.length && String.fromCharCode(...seg.subarray(0, s.length)) === s;
    if (marker === 0xe1 && tag('Exif\0\0') && isTiff(seg.subarray(6))) out.exif = uprightExif(Uint8Array.from(seg.subarray(6)));
    if (marker === 0xe2 && tag('ICC_PROFILE\0')) icc.push([seg[12], seg.subarray(14)]);
    pos += 2 + len;
  }
  if (icc.length) out.icc = concat(icc.sort((x, y) => x[0] - y[0]).map(([, d]) => d));
  return out;
}

function isTiff(t: Uint8Array): boolean {
  return t.length >= 8 && ((t[0] === 0x49 && t[1] === 0x49 && t[2] === 42 && t[3] === 0) || (t[0] === 0x4d && t[1] === 0x4d && t[2] === 0 && t[3] === 42));
}

/** The TIFF stream with IFD0's Orientation (0x0112) set to 1, when it has one. */
function uprightExif(t: Uint8Array): Uint8Array {
  const le = t[0] === 0x49;
  const u16 = (o: number) => (le ? t[o] | (t[o + 1] << 8) : (t[o] << 8) | t[o + 1]);
  const ifd = le ? (t[4] | (t[5] << 8) | (t[6] << 16) | (t[7] << 24)) >>> 0 : readU32BE(t, 4);
  if (ifd + 2 > t.length) return t;
  for (let i = 0, n = u16(ifd); i < n; i++) {
    const e = ifd + 2 + i * 12;
    if (e + 12 > t.length) break;
    if (u16(e) === 0x0112 && u16(e + 2) === 3) {
      t[e + 8] = le ? 1 : 0;
      t[e + 9] = le ? 0 : 1;
    }
  }
  return t;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}

/**
 * Encoded PNG or JPEG bytes (as encodePng / encodeJpeg write them) with the metadata added: PNG
 * iCCP and eXIf chunks after IHDR; JPEG APP1 Exif and APP2 ICC_PROFILE segments after APP0. An
 * EXIF block over one JPEG segment (64 KiB) is left out.
 */
export function writeMetadata(encoded: Uint8Array, meta: ImageMetadata): Uint8Array {
  if (!meta.icc && !meta.exif) return encoded;
  if (startsWith(encoded, [0x89, 0x50, 0x4e, 0x47])) {
    const at = 8 + 12 + readU32BE(encoded, 8); // after IHDR
    const extra: Uint8Array[] = [];
    if (meta.icc) extra.push(pngChunk('iCCP', concat([new TextEncoder().encode('ICC profile'), Uint8Array.from([0, 0]), new Uint8Array(deflateSync(meta.icc))])));
    if (meta.exif) extra.push(pngChunk('eXIf', meta.exif));
    return concat([encoded.subarray(0, at), ...extra, encoded.subarray(at)]);
  }
  const segment = (marker: number, body: Uint8Array) => concat([Uint8Array.from([0xff, marker, (body.length + 2) >> 8, (body.length + 2) & 0xff]), body]);
  const extra: Uint8Array[] = [];
  if (meta.exif && meta.exif.length + 8 <= 65533) extra.push(segment(0xe1, concat([new TextEncoder().encode('Exif\0\0'), meta.exif])));
  if (meta.icc) {
    const per = 65519; // 65533 minus the 14-byte ICC_PROFILE header
    const count = Math.ceil(meta.icc.length / per);
    if (count <= 255) {
      for (let i = 0; i < count; i++) {
        extra.push(segment(0xe2, concat([new TextEncoder().encode('ICC_PROFILE\0'), Uint8Array.from([i + 1, count]), meta.icc.subarray(i * per, (i + 1) * per)])));
      }
    }
  }
  const at = encoded[2] === 0xff && encoded[3] === 0xe0 ? 4 + ((encoded[4] << 8) | encoded[5]) : 2; // after SOI and APP0
  return concat([encoded.subarray(0, at), ...extra, encoded.subarray(at)]);
}
