import { describe, expect, test } from 'vitest';
import { deflateSync } from 'node:zlib';
import { readFileSync } from 'node:fs';
import pngjs from 'pngjs';
import { makeImage, type Image } from '../../src/image/pixels.js';
import { decodeImage } from '../../src/image/image.js';
import { encodePng } from '../../src/image/png.js';
import { concat, crc32Slow, expectOneLineError, randInts, u32be } from './util.js';

// --- A PNG writer written for the tests: unfiltered rows (filter type 0), optional Adam7. ------

const SAMPLES_PER_PIXEL: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };

function chunk(type: string, body: ArrayLike<number>): Uint8Array {
  const tb = new Uint8Array([...type].map((c) => c.charCodeAt(0)));
  const data = concat(tb, Uint8Array.from(body));
  return concat(Uint8Array.from(u32be(body.length)), data, Uint8Array.from(u32be(crc32Slow(data))));
}

/** Scanlines (each led by filter byte 0) for the pixels of a w x h grid, samples packed MSB first. */
function scanlines(w: number, h: number, depth: number, spp: number, sample: (x: number, y: number, k: number) => number): number[] {
  const out: number[] = [];
  for (let y = 0; y < h; y++) {
    out.push(0);
    if (depth >= 8) {
      for (let x = 0; x < w; x++) {
        for (let k = 0; k < spp; k++) {
          const v = sample(x, y, k);
          if (depth === 16) out.push(v >> 8, v & 255);
          else out.push(v);
        }
      }
    } else {
      let acc = 0;
      let bits = 0;
      for (let x = 0; x < w; x++) {
        acc = (acc << depth) | sample(x, y, 0);
        bits += depth;
        if (bits === 8) {
          out.push(acc);
          acc = 0;
          bits = 0;
        }
      }
      if (bits > 0) out.push(acc << (8 - bits));
    }
  }
  return out;
}

interface PngSpec {
  width: number;
  height: number;
  depth: number;
  colorType: number;
  samples: number[]; // row-major, SAMPLES_PER_PIXEL[colorType] per pixel
  plte?: number[];
  trns?: number[];
  interlace?: boolean;
}

function buildPng(s: PngSpec): Uint8Array {
  const spp = SAMPLES_PER_PIXEL[s.colorType];
  const at = (x: number, y: number, k: number) => s.samples[(y * s.width + x) * spp + k];
  let raw: number[];
  if (!s.interlace) raw = scanlines(s.width, s.height, s.depth, spp, at);
  else {
    raw = [];
    const passes = [[0, 0, 8, 8], [4, 0, 8, 8], [0, 4, 4, 8], [2, 0, 4, 4], [0, 2, 2, 4], [1, 0, 2, 2], [0, 1, 1, 2]];
    for (const [x0, y0, dx, dy] of passes) {
      const pw = Math.ceil((s.width - x0) / dx);
      const ph = Math.ceil((s.height - y0) / dy);
      if (pw <= 0 || ph <= 0) continue;
      raw.push(...scanlines(pw, ph, s.depth, spp, (x, y, k) => at(x0 + x * dx, y0 + y * dy, k)));
    }
  }
  const ihdr = [...u32be(s.width), ...u32be(s.height), s.depth, s.colorType, 0, 0, s.interlace ? 1 : 0];
  const parts = [Uint8Array.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk('IHDR', ihdr)];
  if (s.plte) parts.push(chunk('PLTE', s.plte));
  if (s.trns) parts.push(chunk('tRNS', s.trns));
  parts.push(chunk('IDAT', deflateSync(Uint8Array.from(raw))), chunk('IEND', []));
  return concat(...parts);
}

function expectImage(img: Image, width: number, height: number, channels: number, bitDepth: number, want: number[]): void {
  expect({ width: img.width, height: img.height, channels: img.channels, bitDepth: img.bitDepth }).toEqual({ width, height, channels, bitDepth });
  expect(img.data).toBeInstanceOf(Float32Array);
  expect(Array.from(img.data)).toEqual(want.map((v) => Math.fround(v)));
}

// --- Decoding each PNG kind ---------------------------------------------------------------------

describe('decode PNG kinds exactly', () => {
  const W = 5;
  const H = 3;
  const n = W * H;

  for (const depth of [8, 16]) {
    const max = 2 ** depth - 1;
    for (const [colorType, label] of [[0, 'gray'], [4, 'gray+alpha'], [2, 'RGB'], [6, 'RGBA']] as const) {
      for (const interlace of [false, true]) {
        test(`${depth}-bit ${label}${interlace ? ' interlaced' : ''}`, () => {
          const spp = SAMPLES_PER_PIXEL[colorType];
          const samples = randInts(n * spp, max, depth * 10 + colorType);
          const img = decodeImage(buildPng({ width: W, height: H, depth, colorType, samples, interlace }), 'k.png');
          expectImage(img, W, H, spp, depth, samples.map((v) => v / max));
        });
      }
    }
  }

  for (const depth of [1, 2, 4]) {
    test(`${depth}-bit gray reads as 8-bit depth, values v / (2^${depth} - 1)`, () => {
      const max = 2 ** depth - 1;
      const samples = randInts(n, max, depth);
      const img = decodeImage(buildPng({ width: W, height: H, depth, colorType: 0, samples }), 'low.png');
      expectImage(img, W, H, 1, 8, samples.map((v) => v / max));
    });
  }

  const palette = [[255, 0, 0], [0, 255, 0], [0, 0, 255], [12, 34, 56], [200, 100, 50]];
  for (const depth of [8, 4, 2]) {
    test(`${depth}-bit palette -> RGB`, () => {
      const idx = randInts(n, Math.min(palette.length, 2 ** depth) - 1, 7 + depth);
      const img = decodeImage(buildPng({ width: W, height: H, depth, colorType: 3, samples: idx, plte: palette.flat() }), 'pal.png');
      expectImage(img, W, H, 3, 8, idx.flatMap((i) => palette[i].map((v) => v / 255)));
    });
  }

  test('palette with tRNS -> RGBA (entries past the tRNS list are opaque)', () => {
    const trns = [0, 128, 255];
    const idx = randInts(n, palette.length - 1, 99);
    const img = decodeImage(buildPng({ width: W, height: H, depth: 8, colorType: 3, samples: idx, plte: palette.flat(), trns }), 'palt.png');
    expectImage(img, W, H, 4, 8, idx.flatMap((i) => [...palette[i].map((v) => v / 255), (trns[i] ?? 255) / 255]));
  });

  test('gray with tRNS key -> gray+alpha, keyed pixels transparent with their gray kept', () => {
    const samples = randInts(n, 3, 5).map((v) => v * 60); // values 0, 60, 120, 180
    const img = decodeImage(buildPng({ width: W, height: H, depth: 8, colorType: 0, samples, trns: [0, 60] }), 'gt.png');
    expect(samples).toContain(60);
    expectImage(img, W, H, 2, 8, samples.flatMap((v) => [v / 255, v === 60 ? 0 : 1]));
  });

  test('16-bit RGB with tRNS key -> RGBA 16-bit, keyed pixels transparent with their colour kept', () => {
    const key = [1000, 2000, 3000];
    const samples = randInts(n * 3, 65535, 6);
    samples.splice(3, 3, ...key); // pixel 1 is the key
    const img = decodeImage(buildPng({ width: W, height: H, depth: 16, colorType: 2, samples, trns: key.flatMap((v) => [v >> 8, v & 255]) }), 'rt.png');
    const want: number[] = [];
    for (let i = 0; i < n; i++) {
      const px = samples.slice(i * 3, i * 3 + 3);
      want.push(...px.map((v) => v / 65535), i === 1 ? 0 : 1);
    }
    expectImage(img, W, H, 4, 16, want);
  });

  test('Set5 and Set14 PNGs decode at the sizes and modes in MANIFEST.tsv (bridge.png stays gray)', () => {
    const manifest = readFileSync(new URL('../../../shared/data/MANIFEST.tsv', import.meta.url), 'utf8');
    const lines = manifest.split('\n').filter((l) => /^Set(5|14)\t/.test(l));
    expect(lines.length).toBe(19);
    for (const line of lines) {
      const [set, file, , mode, w, h] = line.split('\t');
      const img = decodeImage(readFileSync(new URL(`../../../shared/data/${set}/${file}`, import.meta.url)), file);
      expect([file, img.width, img.height, img.channels, img.bitDepth]).toEqual([file, +w, +h, mode === 'L' ? 1 : 3, 8]);
    }
  });
});

// --- Encoding ----------------------------------------------------------------------------------

describe('encodePng', () => {
  const W = 7;
  const H = 4;
  for (const bitDepth of [8, 16] as const) {
    for (const channels of [1, 2, 3, 4] as const) {
      test(`round trip ${bitDepth}-bit, ${channels} channel(s), and pngjs reads the same samples`, () => {
        const max = 2 ** bitDepth - 1;
        const ints = randInts(W * H * channels, max, bitDepth + channels);
        const img = makeImage(W, H, channels, bitDepth, Float32Array.from(ints, (v) => v / max));
        const bytes = encodePng(img);
        expect(bytes[24]).toBe(bitDepth); // IHDR bit depth
        expect(bytes[25]).toBe([0, 0, 4, 2, 6][channels]); // IHDR colour type
        const back = decodeImage(bytes, 'rt.png');
        expect([back.width, back.height, back.channels, back.bitDepth]).toEqual([W, H, channels, bitDepth]);
        expect(Array.from(back.data)).toEqual(Array.from(img.data));

        // An independent reader: pngjs expands to RGBA with raw samples.
        const p = pngjs.PNG.sync.read(Buffer.from(bytes), { skipRescale: true });
        for (let i = 0; i < W * H; i++) {
          const px = ints.slice(i * channels, (i + 1) * channels);
          const rgba = channels <= 2 ? [px[0], px[0], px[0], channels === 2 ? px[1] : max] : [px[0], px[1], px[2], channels === 4 ? px[3] : max];
          expect(Array.from(p.data.slice(i * 4, i * 4 + 4))).toEqual(rgba);
        }
      });
    }
  }

  test('clamps and rounds: round(clamp(v, 0, 1) * 255)', () => {
    const vals = [-0.5, 0, 0.5 / 255 - 1e-6, 0.5 / 255 + 1e-6, 0.5, 1, 1.5, NaN];
    const img = makeImage(vals.length, 1, 1, 8, Float32Array.from(vals));
    const back = decodeImage(encodePng(img), 'c.png');
    expect(Array.from(back.data, (v) => Math.round(v * 255))).toEqual([0, 0, 0, 1, 128, 255, 255, 0]);
  });

  test('a larger smooth image survives (all five row filters get used)', () => {
    const W2 = 64, H2 = 48;
    const data = new Float32Array(W2 * H2 * 3);
    for (let y = 0; y < H2; y++) for (let x = 0; x < W2; x++) for (let k = 0; k < 3; k++) {
      data[(y * W2 + x) * 3 + k] = Math.round(127 + 120 * Math.sin(x * 0.2 + y * 0.13 * (k + 1))) / 255;
    }
    const img = makeImage(W2, H2, 3, 8, data);
    expect(Array.from(decodeImage(encodePng(img), 's.png').data)).toEqual(Array.from(data));
  });
});

// --- Errors --------------------------------------------------------------------------------------

describe('PNG errors are one line naming the file', () => {
  const good = buildPng({ width: 6, height: 5, depth: 8, colorType: 2, samples: randInts(90, 255, 1) });

  test('truncated at every length', () => {
    for (let cut = 9; cut < good.length; cut++) {
      expectOneLineError(() => decodeImage(good.subarray(0, cut), 'dir/cut.png'), /^dir\/cut\.png: truncated PNG \(.+\)$/);
    }
  });

  test('a real file cut in half', () => {
    const bytes = readFileSync(new URL('../../../shared/data/Set5/bird.png', import.meta.url));
    expectOneLineError(() => decodeImage(bytes.subarray(0, bytes.length >> 1), 'bird.png'), /^bird\.png: truncated PNG \(IDAT chunk at byte \d+ needs \d+ bytes, file ends at \d+\)$/);
  });

  test('bad CRC and bad compressed data are reported as corrupt', () => {
    const crc = Uint8Array.from(good);
    crc[30] ^= 0xff; // IHDR's stored CRC
    expectOneLineError(() => decodeImage(crc, 'crc.png'), /^crc\.png: corrupt PNG \(bad CRC in IHDR chunk at byte 8\)$/);

    const idat = Uint8Array.from(good);
    const at = 8 + 25 + 8; // first byte of IDAT's body
    for (let i = at; i < at + 6; i++) idat[i] ^= 0x5a;
    // Repair the CRC so only the zlib stream is broken.
    const len = (idat[33] << 24) | (idat[34] << 16) | (idat[35] << 8) | idat[36];
    const crcAt = 33 + 8 + len;
    idat.set(u32be(crc32Slow(idat.subarray(37, crcAt))), crcAt);
    expectOneLineError(() => decodeImage(idat, 'z.png'), /^z\.png: corrupt PNG \(image data: .+\)$/);
  });

  test('a valid zlib stream holding too few rows is corrupt, not a half-black image', () => {
    const rows = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]; // filter byte + 10 gray samples: one row of a 10x2 image
    const bytes = concat(
      Uint8Array.from([137, 80, 78, 71, 13, 10, 26, 10]),
      chunk('IHDR', [...u32be(10), ...u32be(2), 8, 0, 0, 0, 0]),
      chunk('IDAT', deflateSync(Uint8Array.from(rows))),
      chunk('IEND', []),
    );
    expectOneLineError(() => decodeImage(bytes, 'short.png'), /^short\.png: corrupt PNG \(image data inflates to 11 bytes, want 22\)$/);
  });

  test('zero-sized', () => {
    const z = buildPng({ width: 0, height: 3, depth: 8, colorType: 0, samples: [] });
    expectOneLineError(() => decodeImage(z, 'zero.png'), /^zero\.png: zero-sized image \(0x3\)$/);
  });
});
