// BMP: the decoder and the header reader (BMP is read, never written).
import type { Image } from './pixels.js';
import { checkSize, fail } from './errors.js';
import type { ImageHeader } from './image.js';

// Windows bitmaps: OS/2 core (12-byte) and BITMAPINFOHEADER (40) through V5 (124) headers;
// 1/4/8-bit palettes, 16/24/32-bit direct colour (BI_RGB or BI_BITFIELDS masks), rows bottom-up
// (positive height) or top-down (negative), each row padded to 4 bytes. RLE is not supported.

export function bmpHeader(b: Uint8Array, name: string): ImageHeader | null {
  if (b.length < 26) return null;
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const hs = dv.getUint32(14, true);
  if (![12, 16, 40, 52, 56, 64, 108, 124].includes(hs)) fail(name, `unsupported BMP (header size ${hs})`);
  const width = hs === 12 ? dv.getUint16(18, true) : dv.getInt32(18, true);
  const height = Math.abs(hs === 12 ? dv.getInt16(20, true) : dv.getInt32(22, true));
  if (width < 0) fail(name, `corrupt BMP (negative width ${width})`);
  checkSize(name, width, height);
  return { format: 'BMP', width, height };
}

export function decodeBmp(b: Uint8Array, name: string): Image {
  if (b.length < 26) fail(name, `truncated BMP (${b.length} bytes)`);
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const dataOffset = dv.getUint32(10, true);
  const hs = dv.getUint32(14, true);
  if (![12, 16, 40, 52, 56, 64, 108, 124].includes(hs)) fail(name, `unsupported BMP (header size ${hs})`);
  if (14 + hs > b.length) fail(name, `truncated BMP (header needs ${14 + hs} bytes, file has ${b.length})`);
  let width: number, height: number, bpp: number;
  let compression = 0;
  let colorsUsed = 0;
  const core = hs === 12;
  if (core) {
    width = dv.getUint16(18, true);
    height = dv.getInt16(20, true);
    bpp = dv.getUint16(24, true);
  } else {
    width = dv.getInt32(18, true);
    height = dv.getInt32(22, true);
    bpp = dv.getUint16(28, true);
    if (hs >= 40) {
      compression = dv.getUint32(30, true);
      colorsUsed = dv.getUint32(46, true);
    }
  }
  const topDown = height < 0;
  height = Math.abs(height);
  if (width < 0) fail(name, `corrupt BMP (negative width ${width})`);
  checkSize(name, width, height);

  // Channel masks for 16/32-bit: BI_BITFIELDS (3) / BI_ALPHABITFIELDS (6) masks live in the V2+
  // header, or right after a 40-byte header.
  let masks: number[] | undefined;
  if (compression === 3 || compression === 6) {
    const count = compression === 6 || hs >= 56 ? 4 : 3;
    const at = hs >= 52 ? 54 : 14 + hs;
    if (at + count * 4 > b.length) fail(name, 'truncated BMP (colour masks)');
    masks = [];
    for (let i = 0; i < count; i++) masks.push(dv.getUint32(at + i * 4, true));
    if (count === 3) masks.push(0);
  } else if (compression === 1 || compression === 2) {
    fail(name, `unsupported BMP (${compression === 1 ? 'RLE8' : 'RLE4'} compression)`);
  } else if (compression !== 0) {
    fail(name, `unsupported BMP (compression ${compression})`);
  }

  const stride = Math.floor((width * bpp + 31) / 32) * 4;
  const rowBytes = Math.ceil((width * bpp) / 8);
  if (dataOffset + stride * (height - 1) + rowBytes > b.length) {
    fail(name, `truncated BMP (pixel data needs ${stride * height} bytes from byte ${dataOffset}, file has ${b.length})`);
  }
  const rowAt = (y: number) => dataOffset + (topDown ? y : height - 1 - y) * stride;
  const n = width * height;

  if (bpp === 1 || bpp === 4 || bpp === 8) {
    const entries = colorsUsed > 0 ? Math.min(colorsUsed, 1 << bpp) : 1 << bpp;
    const entrySize = core ? 3 : 4;
    const palAt = 14 + hs + (compression === 3 ? 12 : compression === 6 ? 16 : 0);
    const avail = Math.max(0, Math.min(entries, Math.floor((dataOffset - palAt) / entrySize)));
    if (avail === 0) fail(name, 'corrupt BMP (missing colour palette)');
    const pal = new Float32Array(avail * 3);
    let allGray = true;
    for (let i = 0; i < avail; i++) {
      const o = palAt + i * entrySize; // stored B, G, R
      pal[i * 3] = b[o + 2] / 255;
      pal[i * 3 + 1] = b[o + 1] / 255;
      pal[i * 3 + 2] = b[o] / 255;
      if (b[o] !== b[o + 1] || b[o] !== b[o + 2]) allGray = false;
    }
    // A grayscale palette (the usual 8-bit gray BMP) decodes to one channel, as PIL does.
    const channels = allGray ? 1 : 3;
    const out = new Float32Array(n * channels);
    const perByte = 8 / bpp;
    const mask = (1 << bpp) - 1;
    for (let y = 0; y < height; y++) {
      const r = rowAt(y);
      for (let x = 0; x < width; x++) {
        const byte = b[r + Math.floor(x / perByte)];
        let idx = (byte >> (8 - bpp * ((x % perByte) + 1))) & mask;
        if (idx >= avail) idx = 0; // out-of-palette index: decoders differ; use entry 0
        const d = (y * width + x) * channels;
        if (channels === 1) out[d] = pal[idx * 3];
        else {
          out[d] = pal[idx * 3];
          out[d + 1] = pal[idx * 3 + 1];
          out[d + 2] = pal[idx * 3 + 2];
        }
      }
    }
    return { width, height, channels, bitDepth: 8, data: out };
  }

  if (bpp === 24) {
    if (masks) fail(name, 'unsupported BMP (bit fields with 24-bit pixels)');
    const out = new Float32Array(n * 3);
    for (let y = 0; y < height; y++) {
      let s = rowAt(y);
      let d = y * width * 3;
      for (let x = 0; x < width; x++, s += 3, d += 3) {
        out[d] = b[s + 2] / 255;
        out[d + 1] = b[s + 1] / 255;
        out[d + 2] = b[s] / 255;
      }
    }
    return { width, height, channels: 3, bitDepth: 8, data: out };
  }

  if (bpp === 16 || bpp === 32) {
    // BI_RGB defaults: 16-bit is X1R5G5B5; 32-bit is B, G, R and an unused byte (no alpha).
    const m = masks ?? (bpp === 16 ? [0x7c00, 0x03e0, 0x001f, 0] : [0x00ff0000, 0x0000ff00, 0x000000ff, 0]);
    const fields = m.map((mask) => {
      const mk = mask >>> 0;
      if (mk === 0) return { shift: 0, max: 0, mask: 0 };
      let shift = 0;
      while (((mk >>> shift) & 1) === 0) shift++;
      return { shift, max: mk >>> shift, mask: mk };
    });
    const channels = fields[3].mask !== 0 ? 4 : 3;
    const out = new Float32Array(n * channels);
    for (let y = 0; y < height; y++) {
      const r = rowAt(y);
      for (let x = 0; x < width; x++) {
        const px = bpp === 16 ? dv.getUint16(r + x * 2, true) : dv.getUint32(r + x * 4, true);
        const d = (y * width + x) * channels;
        for (let k = 0; k < channels; k++) {
          const f = fields[k];
          out[d + k] = f.max === 0 ? 0 : ((px & f.mask) >>> f.shift) / f.max;
        }
      }
    }
    return { width, height, channels, bitDepth: 8, data: out };
  }

  fail(name, `unsupported BMP (${bpp} bits per pixel)`);
}
