import { describe, expect, test } from 'vitest';
import { makeImage, quantize } from '../../src/image/pixels.js';
import { evaluatePair, gaussian1d, gridShare, modcrop, psnr, rgb2y, shave, ssim, textureEnergy } from '../../src/image/metrics.js';
import { rng } from './util.js';

// SSIM straight from Wang et al.'s definition, one window at a time: a 2-D Gaussian built directly
// (not as an outer product), weighted means, and variances as weighted mean squared deviations.
function ssimReference(a: ArrayLike<number>, b: ArrayLike<number>, w: number, h: number): number {
  const win: number[][] = [];
  let total = 0;
  for (let i = 0; i < 11; i++) {
    win.push([]);
    for (let j = 0; j < 11; j++) {
      const v = Math.exp(-((i - 5) ** 2 + (j - 5) ** 2) / (2 * 1.5 * 1.5));
      win[i].push(v);
      total += v;
    }
  }
  const C1 = (0.01 * 255) ** 2;
  const C2 = (0.03 * 255) ** 2;
  let sum = 0;
  let count = 0;
  for (let y = 0; y + 11 <= h; y++) {
    for (let x = 0; x + 11 <= w; x++) {
      let ma = 0, mb = 0;
      for (let i = 0; i < 11; i++) for (let j = 0; j < 11; j++) {
        const k = win[i][j] / total;
        ma += k * a[(y + i) * w + x + j];
        mb += k * b[(y + i) * w + x + j];
      }
      let va = 0, vb = 0, cov = 0;
      for (let i = 0; i < 11; i++) for (let j = 0; j < 11; j++) {
        const k = win[i][j] / total;
        const da = a[(y + i) * w + x + j] - ma;
        const db = b[(y + i) * w + x + j] - mb;
        va += k * da * da;
        vb += k * db * db;
        cov += k * da * db;
      }
      sum += ((2 * ma * mb + C1) * (2 * cov + C2)) / ((ma * ma + mb * mb + C1) * (va + vb + C2));
      count++;
    }
  }
  return sum / count;
}

describe('metrics', () => {
  test('rgb2y: BT.601 studio range on the 0..255 scale; gray counts as R = G = B', () => {
    const rgb = makeImage(4, 1, 3, 8, Float32Array.from([0, 0, 0, 1, 1, 1, 1, 0, 0, 0.5, 0.25, 0.75]));
    const y = rgb2y(rgb);
    expect(y[0]).toBeCloseTo(16, 12);
    expect(y[1]).toBeCloseTo(235, 12);
    expect(y[2]).toBeCloseTo(16 + 65.481, 12);
    expect(y[3]).toBeCloseTo(16 + 65.481 * 0.5 + 128.553 * 0.25 + 24.966 * 0.75, 5);
    const gray = rgb2y(makeImage(2, 1, 2, 8, Float32Array.from([0.4, 1, 1, 0])));
    expect(gray[0]).toBeCloseTo(16 + 219 * Math.fround(0.4), 9);
    expect(gray[1]).toBeCloseTo(235, 12);
  });

  test('psnr: identical -> Infinity; off by one everywhere -> 20 log10(255)', () => {
    const a = Float64Array.from({ length: 50 }, (_, i) => i);
    expect(psnr(a, a)).toBe(Infinity);
    expect(psnr(a, a.map((v) => v + 1))).toBeCloseTo(20 * Math.log10(255), 12);
    expect(psnr([0, 0], [0, 2], 1)).toBeCloseTo(10 * Math.log10(1 / 2), 12);
    expect(() => psnr([1], [1, 2])).toThrow(/lengths differ/);
  });

  test('gaussian window: normalised, symmetric, sigma 1.5', () => {
    const g = gaussian1d();
    expect(g.length).toBe(11);
    expect(g.reduce((s, v) => s + v, 0)).toBeCloseTo(1, 14);
    expect(g[0]).toBe(g[10]);
    expect(g[4] / g[5]).toBeCloseTo(Math.exp(-1 / 4.5), 14);
  });

  test('ssim: identical -> 1; a random pair matches the direct per-window definition', () => {
    const r = rng(42);
    const w = 23, h = 19;
    const a = Float64Array.from({ length: w * h }, () => r() * 255);
    expect(ssim(a, a, w, h)).toBeCloseTo(1, 12);
    const b = a.map((v) => Math.min(255, Math.max(0, 0.8 * v + 30 + (r() - 0.5) * 60)));
    const got = ssim(a, b, w, h);
    const want = ssimReference(a, b, w, h);
    expect(got).toBeGreaterThan(0.1);
    expect(got).toBeLessThan(0.99);
    expect(Math.abs(got - want)).toBeLessThan(1e-10);
    // Symmetric in its arguments, and exactly 11x11 is the smallest size it takes.
    expect(Math.abs(ssim(b, a, w, h) - got)).toBeLessThan(1e-12);
    expect(Math.abs(ssim(a.subarray(0, 11 * 11), b.subarray(0, 11 * 11), 11, 11) - ssimReference(a.subarray(0, 121), b.subarray(0, 121), 11, 11))).toBeLessThan(1e-10);
    expect(() => ssim(a.subarray(0, 100), b.subarray(0, 100), 10, 10)).toThrow(/smaller than the 11x11 window/);
  });

  test('shave and modcrop', () => {
    const d = Array.from({ length: 6 * 5 * 2 }, (_, i) => i);
    const s = shave(d, 6, 5, 2, 1);
    expect([s.width, s.height]).toEqual([4, 3]);
    expect(Array.from(s.data.subarray(0, 8))).toEqual([14, 15, 16, 17, 18, 19, 20, 21]);
    expect(() => shave(d, 6, 5, 2, 3)).toThrow();
    const img = makeImage(13, 10, 1, 8, Float32Array.from({ length: 130 }, (_, i) => i));
    const m = modcrop(img, 4);
    expect([m.width, m.height]).toEqual([12, 8]);
    expect(m.data[12]).toBe(13); // second row starts at input pixel 13
    expect(modcrop(m, 4)).toBe(m);
  });

  test('evaluatePair: the protocol by hand (Y, 4-px shave, peak 255) on a random pair', () => {
    const r = rng(7);
    const w = 28, h = 24;
    const hr = makeImage(w, h, 3, 8, quantize(Float32Array.from({ length: w * h * 3 }, () => r())));
    const sr = makeImage(w, h, 3, 8, quantize(hr.data.map((v) => v + (r() - 0.5) * 0.2)));
    const res = evaluatePair(sr, hr, 4);
    let se = 0, seRGB = 0, n = 0;
    const ys: number[] = [], yh: number[] = [];
    for (let y = 4; y < h - 4; y++) for (let x = 4; x < w - 4; x++) {
      const i = (y * w + x) * 3;
      const Y = (d: Float32Array) => 16 + 65.481 * d[i] + 128.553 * d[i + 1] + 24.966 * d[i + 2];
      se += (Y(sr.data) - Y(hr.data)) ** 2;
      for (let k = 0; k < 3; k++) seRGB += ((sr.data[i + k] - hr.data[i + k]) * 255) ** 2;
      ys.push(Y(sr.data));
      yh.push(Y(hr.data));
      n++;
    }
    expect(res.psnrY).toBeCloseTo(10 * Math.log10((255 * 255) / (se / n)), 9);
    expect(res.psnrRGB).toBeCloseTo(10 * Math.log10((255 * 255) / (seRGB / (3 * n))), 9);
    expect(Math.abs(res.ssimY - ssimReference(ys, yh, w - 8, h - 8))).toBeLessThan(1e-10);
  });

  test('evaluatePair: identical -> Infinity / 1; gray HR against its RGB copy; HR mod-cropped when needed', () => {
    const r = rng(9);
    const gray = makeImage(26, 22, 1, 8, quantize(Float32Array.from({ length: 26 * 22 }, () => r())));
    const same = evaluatePair(gray, gray, 4);
    expect(same.psnrY).toBe(Infinity);
    expect(same.psnrRGB).toBe(Infinity);
    expect(same.ssimY).toBeCloseTo(1, 12);
    // SR is the mod-4 crop (24x20) of HR, replicated to RGB: still identical.
    const crop = modcrop(gray, 4);
    const rgb = new Float32Array(24 * 20 * 3);
    for (let i = 0; i < 24 * 20; i++) rgb.fill(crop.data[i], i * 3, i * 3 + 3);
    const vs = evaluatePair(makeImage(24, 20, 3, 8, rgb), gray, 4);
    expect(vs.psnrY).toBe(Infinity);
    expect(() => evaluatePair(makeImage(20, 20, 3, 8), gray, 4)).toThrow(/SR is 20x20, HR is 26x22/);
  });

  test('textureEnergy: a plane of known slope, a checkerboard, and random data against a direct loop', () => {
    // Grey plane whose Y rises by 3 levels per column and 4 per row: |grad| = 5 everywhere.
    const w = 23, h = 17;
    const plane = new Float32Array(w * h);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) plane[y * w + x] = (3 * x + 4 * y) / 219;
    expect(textureEnergy(makeImage(w, h, 1, 8, plane), 2)).toBeCloseTo(5, 6); // float32 storage of the plane
    // Checkerboard of Y 16 and 235: dx = dy = +-219 -> |grad| = 219 sqrt 2.
    const board = Float32Array.from({ length: w * h }, (_, i) => ((i % w) + Math.floor(i / w)) % 2);
    expect(textureEnergy(makeImage(w, h, 1, 8, board), 3)).toBeCloseTo(219 * Math.SQRT2, 9);
    // Random RGB with a 4-pixel border: forward differences of BT.601 Y written out.
    const r = rng(4);
    const rgb = Float32Array.from({ length: w * h * 3 }, () => r());
    const Y = (x: number, y: number) => { const i = (y * w + x) * 3; return 16 + 65.481 * rgb[i] + 128.553 * rgb[i + 1] + 24.966 * rgb[i + 2]; };
    let sum = 0;
    for (let y = 4; y < h - 5; y++) for (let x = 4; x < w - 5; x++) sum += Math.hypot(Y(x + 1, y) - Y(x, y), Y(x, y + 1) - Y(x, y));
    expect(textureEnergy(makeImage(w, h, 3, 8, rgb), 4)).toBeCloseTo(sum / ((w - 9) * (h - 9)), 9);
  });

  test('gridShare: about 1/16 for patternless detail, 1 for a pure period-4 grid, ramps ignored, grid plus noise between', () => {
    const w = 131, h = 97; // awkward sizes: partial blocks at the far edges are left out
    const r = rng(9);
    const gray = (f: (x: number, y: number) => number) => {
      const d = new Float32Array(w * h);
      for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) d[y * w + x] = Math.min(1, Math.max(0, f(x, y)));
      return makeImage(w, h, 1, 8, d);
    };
    // a fixed 4x4 pattern (a dot and a weaker one), the shape of a sub-pixel upsampler's grid
    const dot = (x: number, y: number) => (x % 4 === 1 && y % 4 === 2 ? 0.12 : x % 4 === 3 && y % 4 === 0 ? -0.06 : 0);
    const noise = () => (r() - 0.5) * 0.2;
    const ramp = (x: number, y: number) => 0.2 + 0.003 * x + 0.002 * y;
    expect(gridShare(gray((x, y) => 0.5 + dot(x, y)), 4)).toBeCloseTo(1, 9);
    expect(gridShare(gray((x, y) => ramp(x, y) + dot(x, y)), 4)).toBeCloseTo(1, 9); // the ramp leaves a constant
    const plain = gridShare(gray(() => 0.5 + noise()), 4);
    expect(plain).toBeGreaterThan(0.03);
    expect(plain).toBeLessThan(0.12);
    expect(gridShare(gray((x, y) => ramp(x, y) + noise()), 4)).toBeLessThan(0.12);
    const mixed = gridShare(gray((x, y) => 0.5 + noise() + dot(x, y)), 4);
    expect(mixed).toBeGreaterThan(0.2); // grid variance 0.0011 against the noise's 0.0033 (0..1 units)
    expect(mixed).toBeLessThan(0.9);
    // a period-3 grid is not a period-4 one
    expect(gridShare(gray((x, y) => 0.5 + (x % 3 === 0 && y % 3 === 0 ? 0.1 : 0)), 4)).toBeLessThan(0.15);
    expect(gridShare(gray((x, y) => 0.5 + (x % 3 === 0 && y % 3 === 0 ? 0.1 : 0)), 3, 3)).toBeCloseTo(1, 9);
    expect(gridShare(gray(() => 0.5), 4)).toBe(0);
    expect(gridShare(makeImage(40, 40, 1, 8), 4)).toBeNaN(); // shaved to 32x32: no whole block inside its 1-pixel margin
    expect(gridShare(makeImage(44, 44, 1, 8), 4)).toBe(0);
    expect(gridShare(makeImage(64, 64, 1, 8), 2)).toBe(0);
  });
});
