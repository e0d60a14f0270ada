import { describe, expect, test } from 'vitest';
import jpeg from 'jpeg-js';
import { applyOrientation, makeImage, type Image } from '../../src/image/pixels.js';
import { decodeImage } from '../../src/image/image.js';
import { encodeJpeg } from '../../src/image/jpeg.js';
import { concat, expectOneLineError, rng } from './util.js';
import { fixture, parsePnm } from './fixtures.js';

function smoothImage(w: number, h: number, channels: 1 | 3, seed: number): Image {
  const r = rng(seed);
  const ph = Array.from({ length: 6 }, () => r() * 6);
  const data = new Float32Array(w * h * channels);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let k = 0; k < channels; k++) {
    data[(y * w + x) * channels + k] = Math.round(128 + 90 * Math.sin(x * 0.15 + ph[k]) * Math.cos(y * 0.11 + ph[k + 3])) / 255;
  }
  return makeImage(w, h, channels, 8, data);
}

function meanAbs(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let s = 0;
  for (let i = 0; i < a.length; i++) s += Math.abs(a[i] - b[i]);
  return s / a.length;
}

function maxAbs(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe('JPEG', () => {
  test('encode -> decode is close (RGB, odd size)', () => {
    const img = smoothImage(37, 29, 3, 1);
    const back = decodeImage(encodeJpeg(img, 95), 'a.jpg');
    expect([back.width, back.height, back.channels, back.bitDepth]).toEqual([37, 29, 3, 8]);
    expect(meanAbs(back.data, img.data) * 255).toBeLessThan(1.5);
    expect(maxAbs(back.data, img.data) * 255).toBeLessThan(12);
  });

  test('alpha is dropped; gray is written as R = G = B (jpeg-js writes 3 components)', () => {
    const rgba = makeImage(16, 8, 4, 8, new Float32Array(16 * 8 * 4).fill(0.5));
    const a = decodeImage(encodeJpeg(rgba), 'rgba.jpg');
    expect(a.channels).toBe(3);
    expect(maxAbs(a.data, new Float32Array(a.data.length).fill(0.5)) * 255).toBeLessThan(2);

    const gray = smoothImage(24, 16, 1, 2);
    const g = decodeImage(encodeJpeg(gray, 95), 'g.jpg');
    expect(g.channels).toBe(3);
    for (let i = 0; i < 24 * 16; i++) {
      expect(Math.abs(g.data[i * 3] - gray.data[i]) * 255).toBeLessThan(8);
      expect(Math.abs(g.data[i * 3] - g.data[i * 3 + 1]) * 255).toBeLessThanOrEqual(2);
    }
  });

  test('lower quality gives smaller files and larger error', () => {
    const img = smoothImage(64, 64, 3, 3);
    const hi = encodeJpeg(img, 95);
    const lo = encodeJpeg(img, 20);
    expect(lo.length).toBeLessThan(hi.length);
    expect(meanAbs(decodeImage(lo, 'lo.jpg').data, img.data)).toBeGreaterThan(meanAbs(decodeImage(hi, 'hi.jpg').data, img.data));
  });

  for (const [kind, channels] of [['c', 3], ['g', 1]] as const) {
    test(`progressive ${channels === 1 ? 'grayscale' : 'colour 4:2:0'} JPEG (libjpeg-made) decodes like its baseline twin`, () => {
      const base = decodeImage(fixture(`${kind}_base.jpg`), 'base.jpg');
      const prog = decodeImage(fixture(`${kind}_prog.jpg`), 'prog.jpg');
      expect([prog.width, prog.height, prog.channels, prog.bitDepth]).toEqual([21, 13, channels, 8]);
      // jpegtran -progressive only reorders the same DCT coefficients: the pixels must be identical.
      expect(Array.from(prog.data)).toEqual(Array.from(base.data));
      // And close to the picture that was encoded (the formulas in fixtures.ts) and to libjpeg's decode.
      const want = new Float32Array(21 * 13 * channels);
      for (let y = 0; y < 13; y++) for (let x = 0; x < 21; x++) {
        const px = channels === 3 ? [40 + 8 * x, 30 + 10 * y, 128 + 3 * (x - y)] : [20 + 8 * x + 5 * y];
        px.forEach((v, k) => (want[(y * 21 + x) * channels + k] = v / 255));
      }
      // (jpeg-js upsamples 4:2:0 chroma by repetition, libjpeg by interpolation: about 3.4 vs 1.7 mean error here.)
      expect(meanAbs(prog.data, want) * 255).toBeLessThan(channels === 3 ? 4 : 1.5);
      const lib = parsePnm(fixture(kind === 'c' ? 'c_djpeg.ppm' : 'g_djpeg.pgm'));
      expect(lib.channels).toBe(channels);
      const vsLib = meanAbs(prog.data, Array.from(lib.samples, (v) => v / 255)) * 255;
      expect(vsLib).toBeLessThan(channels === 3 ? 3.5 : 0.5);
    });
  }

  test('truncated JPEG: every cut is an error, never a silently grey image', () => {
    const bytes = encodeJpeg(smoothImage(20, 12, 3, 4));
    for (let cut = 3; cut < bytes.length - 1; cut += 7) {
      expectOneLineError(() => decodeImage(bytes.subarray(0, cut), 'p/q.jpg'), /^p\/q\.jpg: truncated JPEG \(.+\)$/);
    }
    const prog = fixture('c_prog.jpg');
    expectOneLineError(() => decodeImage(prog.subarray(0, prog.length - 40), 'prog.jpg'), /^prog\.jpg: truncated JPEG \(.+\)$/);
  });

  test('zero width in the frame header', () => {
    const b = Uint8Array.from(encodeJpeg(smoothImage(8, 8, 3, 5)));
    const sof = b.findIndex((v, i) => v === 0xff && b[i + 1] === 0xc0);
    b[sof + 7] = 0; // width high byte
    b[sof + 8] = 0; // width low byte
    expectOneLineError(() => decodeImage(b, 'z.jpg'), /^z\.jpg: zero-sized image \(0x8\)$/);
  });

  test('arithmetic-coded and lossless frames are refused by name', () => {
    const b = Uint8Array.from(encodeJpeg(smoothImage(8, 8, 3, 6)));
    const sof = b.findIndex((v, i) => v === 0xff && b[i + 1] === 0xc0);
    b[sof + 1] = 0xc9;
    expectOneLineError(() => decodeImage(b, 'ar.jpg'), /^ar\.jpg: unsupported JPEG \(arithmetic-coded;.*\)$/);
    b[sof + 1] = 0xc3;
    expectOneLineError(() => decodeImage(b, 'll.jpg'), /^ll\.jpg: unsupported JPEG \(lossless;.*\)$/);
  });
});

// --- EXIF orientation ----------------------------------------------------------------------------

/** An APP1 Exif segment whose IFD0 holds an unrelated tag, then Orientation. */
function exifSegment(orientation: number, littleEndian: boolean): Uint8Array {
  const u16 = (v: number) => (littleEndian ? [v & 255, v >> 8] : [v >> 8, v & 255]);
  const u32 = (v: number) => (littleEndian ? [v & 255, (v >> 8) & 255, (v >> 16) & 255, v >>> 24] : [v >>> 24, (v >> 16) & 255, (v >> 8) & 255, v & 255]);
  const tiff = [
    ...(littleEndian ? [0x49, 0x49] : [0x4d, 0x4d]), ...u16(42), ...u32(8),
    ...u16(2), // two entries
    ...u16(0x011a), ...u16(5), ...u32(1), ...u32(0), // XResolution (RATIONAL; offset unused here)
    ...u16(0x0112), ...u16(3), ...u32(1), ...u16(orientation), 0, 0, // Orientation (SHORT, left-justified)
    ...u32(0), // no next IFD
  ];
  const payload = [0x45, 0x78, 0x69, 0x66, 0, 0, ...tiff];
  const len = payload.length + 2;
  return Uint8Array.from([0xff, 0xe1, len >> 8, len & 255, ...payload]);
}

/** Put the segment right after SOI, where cameras write it. */
function withExif(jpegBytes: Uint8Array, seg: Uint8Array): Uint8Array {
  return concat(jpegBytes.subarray(0, 2), seg, jpegBytes.subarray(2));
}

// Reference orientation, built from named primitive operations (how the EXIF spec describes them).
type Grid = { w: number; h: number; px: number[] }; // px[y * w + x] = a pixel id
const flipH = (g: Grid): Grid => ({ w: g.w, h: g.h, px: g.px.map((_, i) => g.px[Math.floor(i / g.w) * g.w + (g.w - 1 - (i % g.w))]) });
const flipV = (g: Grid): Grid => ({ w: g.w, h: g.h, px: g.px.map((_, i) => g.px[(g.h - 1 - Math.floor(i / g.w)) * g.w + (i % g.w)]) });
const transpose = (g: Grid): Grid => ({ w: g.h, h: g.w, px: Array.from({ length: g.px.length }, (_, i) => g.px[(i % g.h) * g.w + Math.floor(i / g.h)]) });
const reference: Record<number, (g: Grid) => Grid> = {
  1: (g) => g,
  2: flipH,
  3: (g) => flipV(flipH(g)), // rotate 180
  4: flipV,
  5: transpose,
  6: (g) => flipH(transpose(g)), // rotate 90 clockwise
  7: (g) => flipV(flipH(transpose(g))), // transverse
  8: (g) => flipV(transpose(g)), // rotate 90 counter-clockwise
};

describe('EXIF orientation', () => {
  test('applyOrientation matches the spec for 1..8 on a 4x3 grid of ids', () => {
    const g: Grid = { w: 4, h: 3, px: Array.from({ length: 12 }, (_, i) => i) };
    for (let o = 1; o <= 8; o++) {
      const img = makeImage(4, 3, 1, 8, Float32Array.from(g.px));
      const out = applyOrientation(img, o);
      const want = reference[o](g);
      expect([out.width, out.height], `orientation ${o}`).toEqual([want.w, want.h]);
      expect(Array.from(out.data), `orientation ${o}`).toEqual(want.px);
    }
    // Orientation 6 by hand: the stored top-left pixel ends up at the top-right.
    const six = applyOrientation(makeImage(4, 3, 1, 8, Float32Array.from(g.px)), 6);
    expect(six.data[2]).toBe(0); // (x = 2, y = 0) of a 3-wide result
  });

  // A 32x16 picture of four flat quadrants, so JPEG loss cannot move a colour across a corner.
  const quad = (() => {
    const colours = [[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 1]]; // TL red, TR green, BL blue, BR white
    const data = new Float32Array(32 * 16 * 3);
    for (let y = 0; y < 16; y++) for (let x = 0; x < 32; x++) {
      const q = (y < 8 ? 0 : 2) + (x < 16 ? 0 : 1);
      data.set(colours[q], (y * 32 + x) * 3);
    }
    return encodeJpeg(makeImage(32, 16, 3, 8, data), 95);
  })();
  const nearest = (img: Image, x: number, y: number): number => {
    const p = Array.from(img.data.subarray((y * img.width + x) * 3, (y * img.width + x) * 3 + 3), (v) => Math.round(v));
    return [[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 1]].findIndex((c) => c.every((v, k) => v === p[k]));
  };

  for (const le of [false, true]) {
    test(`Orientation 6 in a ${le ? 'little' : 'big'}-endian Exif block: width and height swap, quadrants rotate clockwise`, () => {
      const img = decodeImage(withExif(quad, exifSegment(6, le)), 'exif6.jpg');
      expect([img.width, img.height]).toEqual([16, 32]);
      // Rotated 90 clockwise: TL red -> top-right, TR green -> bottom-right, BL blue -> top-left, BR white -> bottom-left.
      expect(nearest(img, 12, 4)).toBe(0);
      expect(nearest(img, 12, 28)).toBe(1);
      expect(nearest(img, 3, 4)).toBe(2);
      expect(nearest(img, 3, 28)).toBe(3);
    });
  }

  test('every orientation through the JPEG path matches the reference on the quadrant corners', () => {
    const plain = decodeImage(quad, 'plain.jpg');
    const ids: Grid = { w: 2, h: 2, px: [0, 1, 2, 3] };
    for (let o = 1; o <= 8; o++) {
      const img = decodeImage(withExif(quad, exifSegment(o, o % 2 === 0)), `o${o}.jpg`);
      const want = reference[o](ids);
      const size = o >= 5 ? [16, 32] : [32, 16];
      expect([img.width, img.height], `orientation ${o}`).toEqual(size);
      const [qw, qh] = [img.width / 2, img.height / 2];
      for (let qy = 0; qy < 2; qy++) for (let qx = 0; qx < 2; qx++) {
        expect(nearest(img, qx * qw + (qw >> 1), qy * qh + (qh >> 1)), `orientation ${o}, quadrant ${qx},${qy}`).toBe(want.px[qy * 2 + qx]);
      }
      if (o === 1) expect(Array.from(img.data)).toEqual(Array.from(plain.data));
    }
  });

  test('an invalid orientation value or a broken Exif block is ignored', () => {
    const plain = decodeImage(quad, 'plain.jpg');
    expect(Array.from(decodeImage(withExif(quad, exifSegment(9, false)), 'o9.jpg').data)).toEqual(Array.from(plain.data));
    const broken = exifSegment(6, true);
    broken[10 + 4] = 0xee; // IFD0 offset low byte: points past the end
    expect(Array.from(decodeImage(withExif(quad, broken), 'bad.jpg').data)).toEqual(Array.from(plain.data));
  });
});

test('jpeg-js itself: the decoder reports progressive frames as such (sanity for the fixture)', () => {
  const raw = jpeg.decode(fixture('c_prog.jpg'), { useTArray: true });
  expect([raw.width, raw.height]).toEqual([21, 13]);
  const b = fixture('c_prog.jpg');
  expect(b.some((v, i) => v === 0xff && b[i + 1] === 0xc2)).toBe(true);
});
