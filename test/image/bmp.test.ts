import { describe, expect, test } from 'vitest';
import { readFileSync } from 'node:fs';
import { decodeImage } from '../../src/image/image.js';
import { readImage } from '../../src/node/image-files.js';
import { expectOneLineError, randInts } from './util.js';
import { fixture, parsePnm } from './fixtures.js';

const DATA = new URL('../../../shared/data/', import.meta.url);

// --- A BMP writer for the tests ----------------------------------------------------------------

interface BmpSpec {
  width: number;
  height: number; // negative: top-down rows
  bpp: number;
  headerSize?: 40 | 108 | 124;
  compression?: number; // 0 BI_RGB, 3 BI_BITFIELDS
  masks?: [number, number, number, number]; // R, G, B, A (in the V4/V5 header, or after a 40-byte one)
  palette?: number[][]; // [r, g, b]
  rowBytes: (y: number) => number[]; // stored row y (in file order), unpadded
}

function buildBmp(s: BmpSpec): Uint8Array {
  const hs = s.headerSize ?? 40;
  const stride = Math.ceil((s.width * s.bpp) / 32) * 4;
  const rows = Math.abs(s.height);
  const extraMasks = hs === 40 && s.compression === 3 ? 12 : 0;
  const pal = (s.palette ?? []).flatMap(([r, g, b]) => [b, g, r, 0]);
  const offset = 14 + hs + extraMasks + pal.length;
  const size = offset + stride * rows;
  const out = new Uint8Array(size);
  const dv = new DataView(out.buffer);
  out[0] = 0x42;
  out[1] = 0x4d;
  dv.setUint32(2, size, true);
  dv.setUint32(10, offset, true);
  dv.setUint32(14, hs, true);
  dv.setInt32(18, s.width, true);
  dv.setInt32(22, s.height, true);
  dv.setUint16(26, 1, true);
  dv.setUint16(28, s.bpp, true);
  dv.setUint32(30, s.compression ?? 0, true);
  dv.setUint32(34, stride * rows, true);
  dv.setUint32(46, s.palette ? s.palette.length : 0, true);
  if (s.masks) {
    const n = hs === 40 ? 3 : 4;
    for (let i = 0; i < n; i++) dv.setUint32(54 + i * 4, s.masks[i] >>> 0, true);
  }
  out.set(pal, 14 + hs + extraMasks);
  for (let r = 0; r < rows; r++) {
    const bytes = s.rowBytes(r);
    expect(bytes.length).toBeLessThanOrEqual(stride);
    out.set(bytes, offset + r * stride);
    for (let p = bytes.length; p < stride; p++) out[offset + r * stride + p] = 0xcc; // padding is junk
  }
  return out;
}

describe('BMP', () => {
  test('T91: every file decodes to RGB at the size MANIFEST.tsv gives', async () => {
    const manifest = readFileSync(new URL('MANIFEST.tsv', DATA), 'utf8').split('\n').filter((l) => l.startsWith('T91\t'));
    expect(manifest.length).toBe(91);
    for (const line of manifest) {
      const [set, file, format, mode, w, h] = line.split('\t');
      expect([format, mode]).toEqual(['BMP', 'RGB']);
      const img = await readImage(new URL(`${set}/${file}`, DATA).pathname);
      expect([file, img.width, img.height, img.channels, img.bitDepth]).toEqual([file, +w, +h, 3, 8]);
    }
  });

  test('T91 t1.bmp: rows are bottom-up, pixels BGR, rows padded (checked against raw bytes)', () => {
    const bytes = readFileSync(new URL('T91/t1.bmp', DATA));
    const img = decodeImage(bytes, 't1.bmp');
    const { width: w, height: h } = img;
    const stride = Math.ceil((w * 3) / 4) * 4;
    expect(stride).not.toBe(w * 3); // 197 px wide: rows carry padding
    for (const [x, y] of [[0, 0], [w - 1, 0], [0, h - 1], [w - 1, h - 1], [100, 77]]) {
      const o = 54 + (h - 1 - y) * stride + x * 3;
      const px = Array.from(img.data.subarray((y * w + x) * 3, (y * w + x) * 3 + 3), (v) => Math.round(v * 255));
      expect(px).toEqual([bytes[o + 2], bytes[o + 1], bytes[o]]);
    }
  });

  for (const [file, ref, channels] of [
    ['s24.bmp', 's_ref.ppm', 3],
    ['s_os2.bmp', 's_ref.ppm', 3],
    ['s_pal.bmp', 's_pal.ppm', 3],
    ['sg8.bmp', 'sg_ref.pgm', 1],
  ] as const) {
    test(`libjpeg-written ${file} equals the PNM libjpeg wrote from the same data`, () => {
      const img = decodeImage(fixture(file), file);
      const want = parsePnm(fixture(ref));
      expect([img.width, img.height, img.channels, img.bitDepth]).toEqual([want.width, want.height, channels, 8]);
      expect(Array.from(img.data, (v) => Math.round(v * 255))).toEqual(Array.from(want.samples));
    });
  }

  test('hand-built 8-bit palette, bottom-up, width 5 (3 padding bytes), colours used = 4', () => {
    const palette = [[255, 0, 0], [0, 128, 0], [10, 20, 30], [250, 251, 252]];
    const idx = randInts(5 * 3, 3, 11); // display order, row-major
    const bmp = buildBmp({ width: 5, height: 3, bpp: 8, palette, rowBytes: (r) => idx.slice((2 - r) * 5, (3 - r) * 5) });
    const img = decodeImage(bmp, 'p8.bmp');
    expect([img.width, img.height, img.channels]).toEqual([5, 3, 3]);
    expect(Array.from(img.data, (v) => Math.round(v * 255))).toEqual(idx.flatMap((i) => palette[i]));
  });

  test('hand-built 4-bit and 1-bit palettes (gray palettes read as one channel)', () => {
    const pal4 = Array.from({ length: 16 }, (_, i) => [i * 16, 255 - i * 16, i * 7]);
    const idx4 = randInts(7 * 2, 15, 12);
    const pack4 = (row: number[]) => Array.from({ length: Math.ceil(row.length / 2) }, (_, i) => (row[2 * i] << 4) | (row[2 * i + 1] ?? 0));
    const img4 = decodeImage(buildBmp({ width: 7, height: -2, bpp: 4, palette: pal4, rowBytes: (r) => pack4(idx4.slice(r * 7, r * 7 + 7)) }), 'p4.bmp');
    expect(Array.from(img4.data, (v) => Math.round(v * 255))).toEqual(idx4.flatMap((i) => pal4[i]));

    const bits = randInts(11 * 2, 1, 13);
    const pack1 = (row: number[]) => Array.from({ length: Math.ceil(row.length / 8) }, (_, i) => row.slice(8 * i, 8 * i + 8).reduce((a, b, k) => a | (b << (7 - k)), 0));
    const img1 = decodeImage(buildBmp({ width: 11, height: 2, bpp: 1, palette: [[0, 0, 0], [255, 255, 255]], rowBytes: (r) => pack1(bits.slice((1 - r) * 11, (2 - r) * 11)) }), 'p1.bmp');
    expect(img1.channels).toBe(1);
    expect(Array.from(img1.data)).toEqual(bits);
  });

  test('hand-built top-down 32-bit BI_RGB: B, G, R, unused byte -> RGB', () => {
    const px = randInts(3 * 2 * 4, 255, 14);
    const bmp = buildBmp({ width: 3, height: -2, bpp: 32, rowBytes: (r) => px.slice(r * 12, r * 12 + 12) });
    const img = decodeImage(bmp, 't32.bmp');
    expect([img.width, img.height, img.channels]).toEqual([3, 2, 3]);
    const want: number[] = [];
    for (let i = 0; i < 6; i++) want.push(px[i * 4 + 2], px[i * 4 + 1], px[i * 4]);
    expect(Array.from(img.data, (v) => Math.round(v * 255))).toEqual(want);
  });

  for (const hs of [108, 124] as const) {
    test(`hand-built top-down 32-bit ${hs === 108 ? 'V4' : 'V5'} with BITFIELDS and an alpha mask -> RGBA`, () => {
      const px = randInts(4 * 3 * 4, 255, hs);
      // Masks in an unusual order, to prove they are honoured: stored bytes are A, R, G, B (LE word).
      const bmp = buildBmp({ width: 4, height: -3, bpp: 32, headerSize: hs, compression: 3, masks: [0x0000ff00, 0x00ff0000, 0xff000000, 0x000000ff], rowBytes: (r) => px.slice(r * 16, r * 16 + 16) });
      const img = decodeImage(bmp, 'v5.bmp');
      expect([img.width, img.height, img.channels]).toEqual([4, 3, 4]);
      const want: number[] = [];
      for (let i = 0; i < 12; i++) want.push(px[i * 4 + 1], px[i * 4 + 2], px[i * 4 + 3], px[i * 4]);
      expect(Array.from(img.data, (v) => Math.round(v * 255))).toEqual(want);
    });
  }

  test('hand-built 16-bit RGB565 (BITFIELDS after a 40-byte header), bottom-up', () => {
    const words = randInts(3 * 2, 0xffff, 15);
    const le = (w: number) => [w & 255, w >> 8];
    const bmp = buildBmp({ width: 3, height: 2, bpp: 16, compression: 3, masks: [0xf800, 0x07e0, 0x001f, 0], rowBytes: (r) => words.slice((1 - r) * 3, (2 - r) * 3).flatMap(le) });
    const img = decodeImage(bmp, '565.bmp');
    expect(img.channels).toBe(3);
    const want = words.flatMap((w) => [(w >> 11) / 31, ((w >> 5) & 63) / 63, (w & 31) / 31]);
    expect(Array.from(img.data)).toEqual(want.map(Math.fround));
  });

  test('errors: truncated, zero-sized, RLE', () => {
    const bytes = readFileSync(new URL('T91/t2.bmp', DATA));
    expectOneLineError(() => decodeImage(bytes.subarray(0, bytes.length - 100), 'T91/t2.bmp'), /^T91\/t2\.bmp: truncated BMP \(.+\)$/);
    expectOneLineError(() => decodeImage(bytes.subarray(0, 30), 'short.bmp'), /^short\.bmp: truncated BMP \(.+\)$/);
    const zero = buildBmp({ width: 0, height: 4, bpp: 24, rowBytes: () => [] });
    expectOneLineError(() => decodeImage(zero, 'zero.bmp'), /^zero\.bmp: zero-sized image \(0x4\)$/);
    const rle = buildBmp({ width: 2, height: 2, bpp: 8, compression: 1, palette: [[0, 0, 0]], rowBytes: () => [0, 0] });
    expectOneLineError(() => decodeImage(rle, 'rle.bmp'), /^rle\.bmp: unsupported BMP \(RLE8 compression\)$/);
  });
});
