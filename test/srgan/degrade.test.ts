// The real-world degradation model against independent references: PyTorch's F.interpolate and
// reflect-padded conv2d, SciPy's Bessel J1 and BasicSR's kernel formulas (fixtures made by
// test/fixtures/make_degrade_reference.py), float64 loops, the noise statistics, and JPEG round trips
// against jpeg-js and libjpeg's own cjpeg/djpeg.
import { describe, test, expect } from 'vitest';
import { readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import jpeg from 'jpeg-js';
import {
  addGaussianNoise, addPoissonNoise, besselJ1, degradeRealEsrgan, DEFAULT_DEGRADATION, evalInput, filter2d, gaussianKernel,
  generalizedKernel, jpegRoundTrip, plateauKernel, poisson, quantTable, randomKernel, resize, separableTerms, sincKernel,
  usmSharpen, type Rgb,
} from '../../src/srgan/degrade.js';
import { degradedPair, makeBatch, type RgbImage } from '../../src/train/data.js';
import { Rng } from '../../src/nn/random.js';
import { blockiness } from '../../src/image/metrics.js';
import { makeImage } from '../../src/image/pixels.js';
import { imresize } from '../../src/image/resize.js';

const ref = JSON.parse(readFileSync(new URL('../fixtures/degrade-reference.json', import.meta.url), 'utf8'));

/** A CHW fixture image as our HWC Rgb. */
function fromChw(o: { c: number; h: number; w: number; chw: number[] }): Rgb {
  const data = new Float32Array(o.w * o.h * 3);
  for (let c = 0; c < 3; c++) for (let y = 0; y < o.h; y++) for (let x = 0; x < o.w; x++) data[(y * o.w + x) * 3 + c] = o.chw[(c * o.h + y) * o.w + x];
  return { w: o.w, h: o.h, data };
}
function maxDiffChw(img: Rgb, chw: number[]): number {
  let m = 0;
  for (let c = 0; c < 3; c++) for (let y = 0; y < img.h; y++) for (let x = 0; x < img.w; x++) {
    m = Math.max(m, Math.abs(img.data[(y * img.w + x) * 3 + c] - chw[(c * img.h + y) * img.w + x]));
  }
  return m;
}
const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => { let m = 0; for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i])); return m; };
/** A smooth random colour image with some edges (JPEG and filters see structure, not only noise). */
function photoLike(w: number, h: number, seed: number): Rgb {
  const r = new Rng(seed), data = new Float32Array(w * h * 3);
  const f = Array.from({ length: 9 }, () => r.next());
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let c = 0; c < 3; c++) {
    const v = 0.5 + 0.3 * Math.sin(x * f[c] * 0.7 + y * f[c + 3] * 0.4 + f[c + 6] * 6) + (x > w / 2 + 3 * Math.sin(y / 5) ? 0.15 : -0.1) + 0.03 * (r.next() - 0.5);
    data[(y * w + x) * 3 + c] = Math.min(1, Math.max(0, v));
  }
  return { w, h, data };
}

describe('resampling and filtering against PyTorch', () => {
  const img = fromChw(ref.img);
  for (const mode of ['area', 'bilinear', 'bicubic'] as const) {
    test(`resize ${mode} equals F.interpolate(align_corners=False), up, down and mixed`, () => {
      for (const [oh, ow] of [[11, 9], [3, 2], [7, 13]]) {
        expect(maxDiffChw(resize(img, ow, oh, mode), ref[`resize_${mode}_${oh}x${ow}`])).toBeLessThan(2e-6);
      }
    });
  }
  test('filter2d equals reflect-padded conv2d (BasicSR filter2D), for a rank-1-ish and a full-rank kernel', () => {
    const im = fromChw(ref.img2);
    expect(maxDiffChw(filter2d(im, Float64Array.from(ref.gaussian_9), 9), ref.filter_gaussian_9)).toBeLessThan(1e-4);
    expect(maxDiffChw(filter2d(im, Float64Array.from(ref.plateau_7), 7), ref.filter_plateau_7)).toBeLessThan(1e-4);
  });
  test('the separable terms of random kernels rebuild them within their tolerance, and filtering with them matches a float64 loop', () => {
    const rng = new Rng(11), im = photoLike(23, 17, 4);
    const st = { prob: 1, kernelProbs: DEFAULT_DEGRADATION.blur1Kernel, sincProb: 0.2, sigma: [0.2, 3] as [number, number], betaG: [0.5, 4] as [number, number], betaP: [1, 2] as [number, number] };
    for (let t = 0; t < 40; t++) {
      const K = randomKernel(rng, st);
      const terms = separableTerms(K.w, K.k);
      let top = 0; for (const v of K.w) top = Math.max(top, Math.abs(v));
      let err = 0;
      for (let i = 0; i < K.k; i++) for (let j = 0; j < K.k; j++) {
        let s = 0; for (const q of terms) s += q.col[i] * q.row[j];
        err = Math.max(err, Math.abs(s - K.w[i * K.k + j]));
      }
      expect(err).toBeLessThan(2e-4 * Math.hypot(...K.w));
      // float64 loop with its own mirror rule (reflect without repeating the edge)
      const mir = (i: number, n: number) => { while (i < 0 || i >= n) i = i < 0 ? -i : 2 * (n - 1) - i; return i; };
      const r = (K.k - 1) / 2, out = filter2d(im, K.w, K.k);
      let m = 0;
      for (let y = 0; y < im.h; y++) for (let x = 0; x < im.w; x++) for (let c = 0; c < 3; c++) {
        let s = 0;
        for (let i = 0; i < K.k; i++) for (let j = 0; j < K.k; j++) s += K.w[i * K.k + j] * im.data[(mir(y + i - r, im.h) * im.w + mir(x + j - r, im.w)) * 3 + c];
        m = Math.max(m, Math.abs(s - out.data[(y * im.w + x) * 3 + c]));
      }
      expect(m).toBeLessThan(1e-3); // under a quarter of an 8-bit level
    }
  });
});

describe('blur kernels against BasicSR formulas and SciPy', () => {
  test('Gaussian, generalized Gaussian and plateau kernels (anisotropic, rotated)', () => {
    expect(maxDiff(gaussianKernel(9, 1.3, 0.6, 0.7), ref.gaussian_9)).toBeLessThan(1e-12);
    expect(maxDiff(generalizedKernel(11, 2.1, 0.9, -1.2, 0.7), ref.generalized_11)).toBeLessThan(1e-12);
    expect(maxDiff(plateauKernel(7, 1.1, 1.7, 2.5, 1.5), ref.plateau_7)).toBeLessThan(1e-12);
  });
  test('Bessel J1 against scipy.special.j1 from 0 to 40, and the sinc kernel', () => {
    ref.j1_x.forEach((x: number, i: number) => expect(Math.abs(besselJ1(x) - ref.j1[i])).toBeLessThan(2e-8));
    expect(besselJ1(-2.5)).toBeCloseTo(-besselJ1(2.5), 15);
    expect(maxDiff(sincKernel(11, 1.9), ref.sinc_11)).toBeLessThan(1e-8);
  });
  test('kernels sum to 1; an isotropic one is symmetric, rotating an anisotropic one by 90 degrees transposes it', () => {
    const a = gaussianKernel(13, 2.2, 0.8, 0.3), b = gaussianKernel(13, 2.2, 0.8, 0.3 + Math.PI / 2);
    expect(a.reduce((s, v) => s + v, 0)).toBeCloseTo(1, 12);
    const c = gaussianKernel(13, 0.8, 2.2, 0.3); // swapping the axes is the same as rotating by 90 degrees
    expect(maxDiff(b, c)).toBeLessThan(1e-12);
    const iso = generalizedKernel(9, 1.5, 1.5, 0, 2);
    for (let i = 0; i < 9; i++) for (let j = 0; j < 9; j++) expect(iso[i * 9 + j]).toBeCloseTo(iso[j * 9 + i], 14);
  });
  test('random kernels: sizes 7..21 odd, every type drawn at about its probability', () => {
    const rng = new Rng(3), counts: Record<string, number> = {};
    const st = { prob: 1, kernelProbs: DEFAULT_DEGRADATION.blur1Kernel, sincProb: 0.1, sigma: [0.2, 3] as [number, number], betaG: [0.5, 4] as [number, number], betaP: [1, 2] as [number, number] };
    const N = 3000;
    for (let i = 0; i < N; i++) {
      const k = randomKernel(rng, st);
      expect(k.k % 2).toBe(1); expect(k.k).toBeGreaterThanOrEqual(7); expect(k.k).toBeLessThanOrEqual(21);
      counts[k.type] = (counts[k.type] ?? 0) + 1;
    }
    expect(counts.sinc / N).toBeCloseTo(0.1, 1);
    expect(counts.iso / N).toBeCloseTo(0.9 * 0.45, 1);
    expect(counts.aniso / N).toBeCloseTo(0.9 * 0.25, 1);
    expect(counts.plateau_aniso).toBeGreaterThan(0);
  });
});

describe('noise', () => {
  test('Gaussian noise: zero mean, the asked sigma, the same on all channels when grey', () => {
    const img: Rgb = { w: 200, h: 150, data: new Float32Array(200 * 150 * 3).fill(0.5) };
    const n = addGaussianNoise(img, 10 / 255, false, new Rng(1));
    let s = 0, s2 = 0, cross = 0;
    for (let i = 0; i < n.data.length; i += 3) {
      const a = n.data[i] - 0.5, b = n.data[i + 1] - 0.5;
      s += a; s2 += a * a; cross += a * b;
    }
    const N = n.data.length / 3;
    expect(Math.abs(s / N)).toBeLessThan(4 * (10 / 255) / Math.sqrt(N));
    expect(Math.sqrt(s2 / N) * 255).toBeCloseTo(10, 0);
    expect(Math.abs(cross / s2)).toBeLessThan(0.03); // channels independent
    const g = addGaussianNoise(img, 10 / 255, true, new Rng(1));
    for (let i = 0; i < 300; i += 3) { expect(g.data[i]).toBe(g.data[i + 1]); expect(g.data[i]).toBe(g.data[i + 2]); }
    // clipped to [0, 1]
    const hot = addGaussianNoise({ w: 50, h: 50, data: new Float32Array(7500).fill(0.99) }, 0.2, false, new Rng(2));
    expect(Math.max(...hot.data)).toBe(1);
  });
  test('the Poisson sampler: mean and variance lambda, and its pmf, on both sides of the method switch', () => {
    for (const lam of [0.5, 3, 9.9, 10, 37, 200]) {
      const rng = new Rng(Math.round(lam * 10)), N = 40000;
      let s = 0, s2 = 0;
      for (let i = 0; i < N; i++) { const k = poisson(rng, lam); expect(Number.isInteger(k) && k >= 0).toBe(true); s += k; s2 += k * k; }
      const mean = s / N, v = s2 / N - mean * mean;
      expect(Math.abs(mean - lam)).toBeLessThan(5 * Math.sqrt(lam / N));
      expect(v / lam).toBeGreaterThan(0.95); expect(v / lam).toBeLessThan(1.05);
    }
    // chi-square of the histogram against the exact pmf at lambda 25 (PTRS) and 4 (multiplication)
    for (const lam of [4, 25]) {
      const rng = new Rng(lam), N = 50000, hist = new Map<number, number>();
      for (let i = 0; i < N; i++) { const k = poisson(rng, lam); hist.set(k, (hist.get(k) ?? 0) + 1); }
      let chi = 0, bins = 0, logp = -lam; // log pmf(0)
      for (let k = 0; k < 4 * lam + 20; k++) {
        if (k > 0) logp += Math.log(lam / k);
        const e = N * Math.exp(logp);
        if (e < 20) continue;
        chi += ((hist.get(k) ?? 0) - e) ** 2 / e; bins++;
      }
      expect(chi / bins).toBeLessThan(2); // about 1 for a right pmf; a wrong shape gives tens
    }
  });
  test('Poisson noise: variance level / vals * scale^2 on a 256-level image, zero mean, grey on all channels', () => {
    const w = 256, h = 200, data = new Float32Array(w * h * 3);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let c = 0; c < 3; c++) data[(y * w + x) * 3 + c] = x / 255;
    const scale = 2, n = addPoissonNoise({ w, h, data }, scale, false, new Rng(9));
    // columns 100..150: level v in 0.39..0.59, counts v * 256, noise variance v / 256 * scale^2 (no clipping there)
    let s = 0, s2 = 0, expected = 0, N = 0;
    for (let y = 0; y < h; y++) for (let x = 100; x < 150; x++) for (let c = 0; c < 3; c++) {
      const i = (y * w + x) * 3 + c, e = n.data[i] - data[i];
      s += e; s2 += e * e; expected += (x / 255) / 256 * scale * scale; N++;
    }
    expect(Math.abs(s / N)).toBeLessThan(4 * Math.sqrt(expected / N / N));
    expect(s2 / expected).toBeGreaterThan(0.95); expect(s2 / expected).toBeLessThan(1.05);
    const g = addPoissonNoise({ w, h, data }, 1, true, new Rng(9));
    for (let i = 0; i < 3000; i += 3) { expect(g.data[i] - data[i]).toBeCloseTo(g.data[i + 1] - data[i + 1], 6); }
  });
});

describe('JPEG round trip', () => {
  test("IJG quality scaling of the standard tables", () => {
    expect(Array.from(quantTable([16, 11, 99], 50))).toEqual([16, 11, 99]);
    expect(Array.from(quantTable([16, 11, 99], 75))).toEqual([8, 6, 50]); // (b * 50 + 50) / 100
    expect(Array.from(quantTable([16, 11, 99], 10))).toEqual([80, 55, 255]); // 5000 / 10 = 500, capped at 255
    expect(Array.from(quantTable([16, 11, 99], 100))).toEqual([1, 1, 1]);
  });
  const img = photoLike(45, 37, 6);
  const bytes = (r: Rgb) => Uint8Array.from(r.data, (v) => Math.round(v * 255));
  test('4:4:4 against jpeg-js encoding and decoding at qualities 30, 75 and 95', () => {
    for (const q of [30, 75, 95]) {
      const rgba = new Uint8Array(img.w * img.h * 4);
      const b = bytes(img);
      for (let i = 0; i < img.w * img.h; i++) { rgba.set(b.subarray(3 * i, 3 * i + 3), 4 * i); rgba[4 * i + 3] = 255; }
      const dec = jpeg.decode(jpeg.encode({ data: rgba, width: img.w, height: img.h }, q).data, { useTArray: true });
      const ours = bytes(jpegRoundTrip(img, q, true));
      let sum = 0, base = 0;
      for (let i = 0; i < img.w * img.h; i++) for (let c = 0; c < 3; c++) {
        sum += Math.abs(ours[3 * i + c] - dec.data[4 * i + c]); base += Math.abs(b[3 * i + c] - dec.data[4 * i + c]);
      }
      // about one level apart (coefficients that round the other way in two implementations), where
      // the JPEG itself moves the pixels by 2-6 levels
      expect(sum / (img.w * img.h * 3)).toBeLessThan(1.3);
      expect(sum).toBeLessThan(base / 2);
    }
  });
  test("4:2:0 against libjpeg's cjpeg -sample 2x2 and djpeg (float DCT), at qualities 40 and 85", () => {
    const dir = mkdtempSync(join(tmpdir(), 'jpeg-'));
    const b = bytes(img);
    // a binary PPM for cjpeg
    writeFileSync(join(dir, 'a.ppm'), Buffer.concat([Buffer.from(`P6\n${img.w} ${img.h}\n255\n`), Buffer.from(b)]));
    for (const q of [40, 85]) {
      execFileSync('cjpeg', ['-quality', String(q), '-sample', '2x2', '-dct', 'float', '-outfile', join(dir, 'a.jpg'), join(dir, 'a.ppm')]);
      execFileSync('djpeg', ['-dct', 'float', '-pnm', '-outfile', join(dir, 'b.ppm'), join(dir, 'a.jpg')]);
      const ppm = readFileSync(join(dir, 'b.ppm'));
      const dec = ppm.subarray(ppm.length - img.w * img.h * 3);
      const ours = bytes(jpegRoundTrip(img, q));
      let sum = 0, base = 0;
      for (let i = 0; i < dec.length; i++) { sum += Math.abs(ours[i] - dec[i]); base += Math.abs(b[i] - dec[i]); }
      expect(sum / dec.length).toBeLessThan(1.3);
      expect(sum).toBeLessThan(base / 4); // far closer to libjpeg's output than the input itself is
    }
  });
});

describe('unsharp masking', () => {
  test('equals a float64 loop of the 2-D Gaussian, the threshold mask and its soft blend', () => {
    const img = photoLike(23, 17, 8), k = 7, weight = 0.5, threshold = 10;
    const out = usmSharpen(img, weight, k, threshold);
    const sigma = 0.3 * ((k - 1) * 0.5 - 1) + 0.8, r = 3;
    const mir = (i: number, n: number) => { while (i < 0 || i >= n) i = i < 0 ? -i : 2 * (n - 1) - i; return i; };
    const g2 = (src: Float64Array) => {
      const o = new Float64Array(src.length);
      let norm = 0;
      for (let i = -r; i <= r; i++) for (let j = -r; j <= r; j++) norm += Math.exp(-(i * i + j * j) / (2 * sigma * sigma));
      for (let y = 0; y < img.h; y++) for (let x = 0; x < img.w; x++) for (let c = 0; c < 3; c++) {
        let s = 0;
        for (let i = -r; i <= r; i++) for (let j = -r; j <= r; j++) s += Math.exp(-(i * i + j * j) / (2 * sigma * sigma)) * src[(mir(y + i, img.h) * img.w + mir(x + j, img.w)) * 3 + c];
        o[(y * img.w + x) * 3 + c] = s / norm;
      }
      return o;
    };
    const d = Float64Array.from(img.data), blur = g2(d);
    const soft = g2(d.map((v, i) => (Math.abs(v - blur[i]) * 255 > threshold ? 1 : 0)));
    let m = 0, moved = 0;
    for (let i = 0; i < d.length; i++) {
      const sharp = Math.min(1, Math.max(0, d[i] + weight * (d[i] - blur[i])));
      const want = soft[i] * sharp + (1 - soft[i]) * d[i];
      m = Math.max(m, Math.abs(want - out.data[i]));
      moved = Math.max(moved, Math.abs(want - d[i]));
    }
    expect(m).toBeLessThan(1e-5);
    expect(moved).toBeGreaterThan(0.02);
  });
});

describe('the second-order pipeline', () => {
  const colour = photoLike(64, 48, 12);
  // grey (R = G = B): JPEG's chroma subsampling loses nothing, so a stage left on shows by itself
  const hr: Rgb = { w: 64, h: 48, data: colour.data.map((_, i) => colour.data[i - (i % 3)]) };
  const cfg = { ...DEFAULT_DEGRADATION, kind: 'realesrgan' as const };
  test('an LR of the right size in 8-bit levels; the same draw for the same state, another for another', () => {
    const a = degradeRealEsrgan(hr, 4, cfg, new Rng(5)), b = degradeRealEsrgan(hr, 4, cfg, new Rng(5)), c = degradeRealEsrgan(hr, 4, cfg, new Rng(6));
    expect([a.w, a.h]).toEqual([16, 12]);
    for (const v of a.data) { expect(v).toBeGreaterThanOrEqual(0); expect(v).toBeLessThanOrEqual(1); expect(Math.abs(v * 255 - Math.round(v * 255))).toBeLessThan(1e-4); }
    expect(Array.from(a.data)).toEqual(Array.from(b.data));
    expect(maxDiff(a.data, c.data)).toBeGreaterThan(0.01);
  });
  test('with every stage off it is a resize to LR: blur, noise, JPEG and the sinc each move it', () => {
    const off = { ...cfg, blur1: 0, blur2: 0, finalSinc: 0, noise1Sigma: [0, 0] as [number, number], noise2Sigma: [0, 0] as [number, number],
      gaussian1: 1, gaussian2: 1, jpeg1: [100, 100] as [number, number], jpeg2: [100, 100] as [number, number], resize1Probs: [0, 0, 1], resize2Probs: [0, 0, 1] };
    const plain = degradeRealEsrgan(hr, 4, off, new Rng(1));
    // keep, then resize to LR x1 (keep) and the final resize: one resize from HR to LR by a random mode (JPEG 100 and rounding move it a little)
    const modes = (['area', 'bilinear', 'bicubic'] as const).map((m) => maxDiff(plain.data, resize(hr, 16, 12, m).data));
    expect(Math.min(...modes)).toBeLessThan(0.02);
    const noisy = degradeRealEsrgan(hr, 4, { ...off, noise1Sigma: [20, 20] }, new Rng(1));
    expect(maxDiff(noisy.data, plain.data)).toBeGreaterThan(0.02);
    const jpg = degradeRealEsrgan(hr, 4, { ...off, jpeg2: [20, 20] }, new Rng(1));
    expect(maxDiff(jpg.data, plain.data)).toBeGreaterThan(0.02);
  });
  test('training pairs: deterministic per (seed, step); cleanProb 1 gives the bicubic LR of the target; usm 0 keeps the crop', () => {
    const rgb = Uint8Array.from(hr.data, (v) => Math.round(v * 255));
    const images: RgbImage[] = [{ name: 'a', width: 64, height: 48, rgb }, { name: 'b', width: 64, height: 48, rgb: rgb.slice().reverse() }];
    const a = makeBatch(images, 3, 32, 4, 7, 11, cfg), b = makeBatch(images, 3, 32, 4, 7, 11, cfg), c = makeBatch(images, 3, 32, 4, 7, 12, cfg);
    expect(Array.from(a.lr)).toEqual(Array.from(b.lr)); expect(Array.from(a.hr)).toEqual(Array.from(b.hr));
    expect(maxDiff(a.lr, c.lr)).toBeGreaterThan(0.01);
    const clean = degradedPair(images[0], 32, 4, { ...cfg, cleanProb: 1, usm: 0 }, new Rng(4));
    const bic = imresize(clean.hr, 32, 32, 3, 8, 8).map((v) => Math.round(Math.min(1, Math.max(0, v)) * 255) / 255);
    expect(maxDiff(clean.lr, bic)).toBeLessThan(1e-6);
    // with usm 0 the target is a crop of the image itself: every HR pixel value occurs in it
    const levels = new Set(rgb);
    for (const v of clean.hr) expect(levels.has(Math.round(v * 255))).toBe(true);
    // the paper's kind leaves makeBatch as it was: its LR is the bicubic of the crop
    const p = makeBatch(images, 2, 32, 4, 7, 11, { ...cfg, kind: 'bicubic' }), q = makeBatch(images, 2, 32, 4, 7, 11);
    expect(Array.from(p.lr)).toEqual(Array.from(q.lr));
  });
  test('webProb: the bicubic LR saved as JPEG at a quality from webJpeg (a web thumbnail), deterministic per (seed, step)', () => {
    const rgb = Uint8Array.from(hr.data, (v) => Math.round(v * 255));
    const img: RgbImage = { name: 'a', width: 64, height: 48, rgb };
    const clean = degradedPair(img, 32, 4, { ...cfg, cleanProb: 1, usm: 0 }, new Rng(4));
    const web = degradedPair(img, 32, 4, { ...cfg, cleanProb: 0, webProb: 1, webJpeg: [60, 60], usm: 0 }, new Rng(4));
    expect(Array.from(web.hr)).toEqual(Array.from(clean.hr)); // the same crop
    const want = jpegRoundTrip({ w: 8, h: 8, data: clean.lr }, 60).data;
    expect(Array.from(web.lr)).toEqual(Array.from(want));
    expect(maxDiff(web.lr, clean.lr)).toBeGreaterThan(1 / 255); // JPEG changed it
    const mixed = { ...cfg, cleanProb: 0.3, webProb: 0.4 };
    const m1 = makeBatch([img], 6, 32, 4, 7, 3, mixed), m2 = makeBatch([img], 6, 32, 4, 7, 3, mixed);
    expect(Array.from(m1.lr)).toEqual(Array.from(m2.lr));
  });
  test('evaluation inputs: JPEG cases are the bicubic LR saved at that quality, noise cases seeded by the name, all in 8-bit levels', () => {
    const bic: Rgb = { w: 16, h: 12, data: Float32Array.from(resize(hr, 16, 12, 'area').data, (v) => Math.round(v * 255) / 255) };
    expect(Array.from(evalInput('jpeg75', hr, bic, 4, 'x.png').data)).toEqual(Array.from(jpegRoundTrip(bic, 75).data));
    expect(evalInput('bicubic', hr, bic, 4, 'x.png')).toBe(bic);
    const n1 = evalInput('noise10', hr, bic, 4, 'x.png'), n2 = evalInput('noise10', hr, bic, 4, 'x.png'), n3 = evalInput('noise10', hr, bic, 4, 'y.png');
    expect(Array.from(n1.data)).toEqual(Array.from(n2.data));
    expect(maxDiff(n1.data, n3.data)).toBeGreaterThan(0.01);
    for (const v of n1.data) expect(Math.abs(v * 255 - Math.round(v * 255))).toBeLessThan(1e-4);
    const r = evalInput('realesrgan', hr, bic, 4, 'x.png');
    expect([r.w, r.h]).toEqual([16, 12]);
  });
});

describe('blockiness', () => {
  const img = (f: (x: number, y: number) => number, w = 128, h = 96) => {
    const d = new Float32Array(w * h * 3);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) d.fill(f(x, y), (y * w + x) * 3, (y * w + x) * 3 + 3);
    return makeImage(w, h, 3, 8, d);
  };
  test('about 1 for detail without a grid, well above 1 for 32-pixel blocks, measured away from the border', () => {
    const r = new Rng(2);
    const noise = Array.from({ length: 128 * 96 }, () => r.next());
    const plain = blockiness(img((x, y) => 0.3 + 0.4 * noise[y * 128 + x]), 4);
    expect(plain).toBeGreaterThan(0.9); expect(plain).toBeLessThan(1.1);
    const blocks = blockiness(img((x, y) => 0.3 + 0.2 * noise[y * 128 + x] + 0.1 * ((Math.floor(x / 32) + Math.floor(y / 32)) % 2)), 4);
    expect(blocks).toBeGreaterThan(1.5);
    // a step on the grid at the very edge (inside the border) does not count
    const edge = blockiness(img((x, y) => 0.3 + 0.4 * noise[y * 128 + x] + (x < 4 ? 0.3 : 0)), 4);
    expect(Math.abs(edge - plain)).toBeLessThan(1e-9);
    expect(blockiness(img(() => 0.5), 4)).toBe(1);
  });
});
