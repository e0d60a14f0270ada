// Real-world degradations for training (Real-ESRGAN's second-order model, Wang et al., ICCVW 2021):
// blur (isotropic/anisotropic Gaussian, generalized Gaussian, plateau, sinc), random resize (area,
// bilinear, bicubic), Gaussian or Poisson noise (colour or grey), JPEG, twice over, then the final
// resize to LR with a sinc filter and JPEG in random order; optionally the HR target unsharp-masked.
// The formulas and default ranges follow BasicSR's degradations.py and Real-ESRGAN's
// train_realesrnet_x4plus.yml. Everything is plain TypeScript on HWC float arrays (0..1): no Node,
// no GPU, deterministic for a given Rng state, so a run that resumes draws the same samples.
import { Rng } from '../nn/random.js';
import { imresize } from '../image/resize.js';

/** An interleaved RGB float image (values 0..1, row-major, 3 floats a pixel). */
export interface Rgb { w: number; h: number; data: Float32Array }

export type Range = [number, number];
export const KERNEL_TYPES = ['iso', 'aniso', 'generalized_iso', 'generalized_aniso', 'plateau_iso', 'plateau_aniso'] as const;
export type KernelType = typeof KERNEL_TYPES[number];

/** One order of blur: which kernel, how wide, how strong. */
export interface BlurStage {
  prob: number;        // probability the stage blurs at all (the first always does in Real-ESRGAN: 1)
  kernelProbs: number[]; // over KERNEL_TYPES, summing to 1
  sincProb: number;    // a sinc (circular low-pass) kernel in place of the mixed ones
  sigma: Range;        // Gaussian sigma (pixels), both axes
  betaG: Range;        // generalized Gaussian's shape
  betaP: Range;        // plateau's shape
}

export interface DegradationConfig {
  /** 'bicubic': the paper's protocol (MATLAB bicubic of the crop, no other degradation); 'realesrgan': the second-order model below. */
  kind: 'bicubic' | 'realesrgan';
  /** Share of samples that take the paper's bicubic route even under 'realesrgan' (clean inputs stay in the training mix). */
  cleanProb: number;
  /**
   * Share of samples made as a web thumbnail is (beyond Real-ESRGAN's model): the paper's bicubic LR
   * saved once as JPEG (4:2:0) at a quality drawn from `webJpeg`, its 8x8 blocks on the LR grid.
   */
  webProb: number;
  webJpeg: Range;
  /** Unsharp-mask weight applied to the HR before degrading it and as the target (Real-ESRGAN: 0.5; 0 = off). */
  usm: number;
  blur1: number; blur1Kernel: number[]; blur1Sinc: number; blur1Sigma: Range; blur1BetaG: Range; blur1BetaP: Range;
  resize1Probs: number[];  // [up, down, keep]
  resize1Range: Range;     // scale factor range (up draws in [1, hi], down in [lo, 1])
  gaussian1: number;       // probability of Gaussian (else Poisson) noise
  noise1Sigma: Range;      // Gaussian sigma in 8-bit levels
  poisson1Scale: Range;
  grayNoise1: number;
  jpeg1: Range;            // JPEG quality range
  blur2: number; blur2Kernel: number[]; blur2Sinc: number; blur2Sigma: Range; blur2BetaG: Range; blur2BetaP: Range;
  resize2Probs: number[];
  resize2Range: Range;
  gaussian2: number;
  noise2Sigma: Range;
  poisson2Scale: Range;
  grayNoise2: number;
  jpeg2: Range;
  finalSinc: number;       // probability of the final sinc filter
}

const KERNEL_PROBS = [0.45, 0.25, 0.12, 0.03, 0.12, 0.03];
/** Real-ESRGAN's train_realesrnet_x4plus.yml, with the paper's bicubic as the kind. */
export const DEFAULT_DEGRADATION: DegradationConfig = {
  kind: 'bicubic',
  cleanProb: 0,
  webProb: 0, webJpeg: [30, 95],
  usm: 0.5,
  blur1: 1, blur1Kernel: KERNEL_PROBS, blur1Sinc: 0.1, blur1Sigma: [0.2, 3], blur1BetaG: [0.5, 4], blur1BetaP: [1, 2],
  resize1Probs: [0.2, 0.7, 0.1], resize1Range: [0.15, 1.5],
  gaussian1: 0.5, noise1Sigma: [1, 30], poisson1Scale: [0.05, 3], grayNoise1: 0.4, jpeg1: [30, 95],
  blur2: 0.8, blur2Kernel: KERNEL_PROBS, blur2Sinc: 0.1, blur2Sigma: [0.2, 1.5], blur2BetaG: [0.5, 4], blur2BetaP: [1, 2],
  resize2Probs: [0.3, 0.4, 0.3], resize2Range: [0.3, 1.2],
  gaussian2: 0.5, noise2Sigma: [1, 25], poisson2Scale: [0.05, 2.5], grayNoise2: 0.4, jpeg2: [30, 95],
  finalSinc: 0.8,
};

// ---------------------------------------------------------------------------------------------
// Blur kernels (BasicSR's degradations.py): k x k, centred, normalised to sum 1.

/** Quadratic form x^T S^-1 x of the covariance S = R diag(sx^2, sy^2) R^T, on the k x k grid. */
function quadForm(k: number, sx: number, sy: number, theta: number): Float64Array {
  const c = Math.cos(theta), s = Math.sin(theta);
  // S^-1 = R diag(1/sx^2, 1/sy^2) R^T
  const a = c * c / (sx * sx) + s * s / (sy * sy);
  const b = c * s / (sx * sx) - c * s / (sy * sy);
  const d = s * s / (sx * sx) + c * c / (sy * sy);
  const r = (k - 1) / 2, q = new Float64Array(k * k);
  for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) {
    const x = j - r, y = i - r; // grid[..., 0] = x (column), [1] = y (row)
    q[i * k + j] = a * x * x + 2 * b * x * y + d * y * y;
  }
  return q;
}
function normalise(k: Float64Array): Float64Array {
  let s = 0;
  for (const v of k) s += v;
  for (let i = 0; i < k.length; i++) k[i] /= s;
  return k;
}
/** Bivariate Gaussian exp(-q/2). */
export function gaussianKernel(k: number, sx: number, sy: number, theta: number): Float64Array {
  return normalise(quadForm(k, sx, sy, theta).map((q) => Math.exp(-0.5 * q)));
}
/** Generalized Gaussian exp(-q^beta / 2): beta < 1 heavier tails, > 1 flatter top. */
export function generalizedKernel(k: number, sx: number, sy: number, theta: number, beta: number): Float64Array {
  return normalise(quadForm(k, sx, sy, theta).map((q) => Math.exp(-0.5 * Math.pow(q, beta))));
}
/** Plateau 1 / (q^beta + 1). */
export function plateauKernel(k: number, sx: number, sy: number, theta: number, beta: number): Float64Array {
  return normalise(quadForm(k, sx, sy, theta).map((q) => 1 / (Math.pow(q, beta) + 1)));
}

/** Bessel function of the first kind, order 1 (Numerical Recipes' rational approximations, |err| < 1e-8). */
export function besselJ1(x: number): number {
  const ax = Math.abs(x);
  if (ax < 8) {
    const y = x * x;
    const a = x * (72362614232.0 + y * (-7895059235.0 + y * (242396853.1 + y * (-2972611.439 + y * (15704.48260 + y * (-30.16036606))))));
    const b = 144725228442.0 + y * (2300535178.0 + y * (18583304.74 + y * (99447.43394 + y * (376.9991397 + y))));
    return a / b;
  }
  const z = 8 / ax, y = z * z, xx = ax - 2.356194491;
  const p = 1 + y * (0.183105e-2 + y * (-0.3516396496e-4 + y * (0.2457520174e-5 + y * (-0.240337019e-6))));
  const q = 0.04687499995 + y * (-0.2002690873e-3 + y * (0.8449199096e-5 + y * (-0.88228987e-6 + y * 0.105787412e-6)));
  const v = Math.sqrt(0.636619772 / ax) * (Math.cos(xx) * p - z * Math.sin(xx) * q);
  return x < 0 ? -v : v;
}

/** Circular low-pass (2-D sinc) kernel with cutoff omega (radians per pixel): omega J1(omega r) / (2 pi r). */
export function sincKernel(k: number, omega: number): Float64Array {
  const r0 = (k - 1) / 2, out = new Float64Array(k * k);
  for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) {
    const r = Math.hypot(i - r0, j - r0);
    out[i * k + j] = r === 0 ? omega * omega / (4 * Math.PI) : omega * besselJ1(omega * r) / (2 * Math.PI * r);
  }
  return normalise(out);
}

const uniform = (rng: Rng, [lo, hi]: Range) => lo + (hi - lo) * rng.next();
/** Index drawn with the given probabilities (they sum to 1; the last takes any rounding). */
export function choose(rng: Rng, probs: readonly number[]): number {
  let u = rng.next();
  for (let i = 0; i < probs.length - 1; i++) { if (u < probs[i]) return i; u -= probs[i]; }
  return probs.length - 1;
}
/** Kernel sizes Real-ESRGAN draws from: 7, 9, ..., 21. */
const KERNEL_SIZES = [7, 9, 11, 13, 15, 17, 19, 21];

export interface Kernel { k: number; w: Float64Array; type: KernelType | 'sinc' }

/** One random blur kernel as Real-ESRGAN's dataset draws it for a blur stage. */
export function randomKernel(rng: Rng, st: BlurStage): Kernel {
  const k = KERNEL_SIZES[rng.int(KERNEL_SIZES.length)];
  if (rng.next() < st.sincProb) {
    const omega = k < 13 ? uniform(rng, [Math.PI / 3, Math.PI]) : uniform(rng, [Math.PI / 5, Math.PI]);
    return { k, w: sincKernel(k, omega), type: 'sinc' };
  }
  const type = KERNEL_TYPES[choose(rng, st.kernelProbs)];
  const iso = type.endsWith('_iso') || type === 'iso';
  const sx = uniform(rng, st.sigma);
  const sy = iso ? sx : uniform(rng, st.sigma);
  const theta = iso ? 0 : uniform(rng, [-Math.PI, Math.PI]);
  const beta = (r: Range) => (rng.next() < 0.5 ? uniform(rng, [r[0], 1]) : uniform(rng, [1, r[1]]));
  if (type.startsWith('generalized')) return { k, w: generalizedKernel(k, sx, sy, theta, beta(st.betaG)), type };
  if (type.startsWith('plateau')) return { k, w: plateauKernel(k, sx, sy, theta, beta(st.betaP)), type };
  return { k, w: gaussianKernel(k, sx, sy, theta), type };
}

// ---------------------------------------------------------------------------------------------
// Filtering and resizing

/** Reflect index (PyTorch's 'reflect' padding: ... 2 1 | 0 1 2 ... n-1 | n-2 ...). */
function reflect(i: number, n: number): number {
  if (n === 1) return 0;
  const p = 2 * (n - 1);
  i = ((i % p) + p) % p;
  return i < n ? i : p - i;
}

/**
 * The kernel as a sum of separable terms, sum_r col_r (x) row_r, from its singular value
 * decomposition (one-sided Jacobi), without the smallest terms whose singular values add up to at
 * most `tol` of the largest (each output then moves by at most that share of the kernel's norm, far
 * under an 8-bit level): a Gaussian is one term, a rotated anisotropic one a few, so most blurs cost
 * 2k taps a pixel instead of k^2.
 */
export function separableTerms(kern: Float64Array, k: number, tol = 1e-4): Array<{ col: Float64Array; row: Float64Array }> {
  // A = kern (k x k, row-major). Orthogonalise A's columns by plane rotations: A V = U S.
  const A = Float64Array.from(kern), V = new Float64Array(k * k);
  for (let i = 0; i < k; i++) V[i * k + i] = 1;
  for (let sweep = 0; sweep < 30; sweep++) {
    let off = 0;
    for (let p = 0; p < k - 1; p++) for (let q = p + 1; q < k; q++) {
      let a = 0, b = 0, c = 0;
      for (let i = 0; i < k; i++) { const x = A[i * k + p], y = A[i * k + q]; a += x * x; b += y * y; c += x * y; }
      if (Math.abs(c) <= 1e-15 * Math.sqrt(a * b) || c === 0) continue;
      off = Math.max(off, Math.abs(c) / Math.sqrt(a * b));
      const zeta = (b - a) / (2 * c), t = Math.sign(zeta || 1) / (Math.abs(zeta) + Math.sqrt(1 + zeta * zeta));
      const cs = 1 / Math.sqrt(1 + t * t), sn = cs * t;
      for (let i = 0; i < k; i++) {
        const x = A[i * k + p], y = A[i * k + q];
        A[i * k + p] = cs * x - sn * y; A[i * k + q] = sn * x + cs * y;
        const u = V[i * k + p], v = V[i * k + q];
        V[i * k + p] = cs * u - sn * v; V[i * k + q] = sn * u + cs * v;
      }
    }
    if (off < 1e-13) break;
  }
  // column j of A is sigma_j u_j; kern = sum_j (A[:, j]) (V[:, j])^T
  const terms: Array<{ col: Float64Array; row: Float64Array; s: number }> = [];
  for (let j = 0; j < k; j++) {
    const col = Float64Array.from({ length: k }, (_, i) => A[i * k + j]);
    terms.push({ col, row: Float64Array.from({ length: k }, (_, i) => V[i * k + j]), s: Math.hypot(...col) });
  }
  terms.sort((x, y) => y.s - x.s);
  let n = terms.length, dropped = 0;
  while (n > 1 && dropped + terms[n - 1].s <= tol * terms[0].s) dropped += terms[--n].s;
  return terms.slice(0, n).map(({ col, row }) => ({ col, row }));
}

/** 2-D correlation of each channel with a k x k kernel, reflect padding (BasicSR's filter2D). */
export function filter2d(img: Rgb, kern: Float64Array, k: number): Rgb {
  const terms = separableTerms(kern, k);
  return 2 * terms.length < k ? filterSeparable(img, terms, k) : filterDirect(img, kern, k);
}

/** The sum over the terms of a horizontal pass with `row` then a vertical one with `col`. */
function filterSeparable(img: Rgb, terms: Array<{ col: Float64Array; row: Float64Array }>, k: number): Rgb {
  const { w, h, data } = img, r = (k - 1) >> 1;
  const xi = Int32Array.from({ length: w + 2 * r }, (_, i) => reflect(i - r, w) * 3);
  const yi = Int32Array.from({ length: h + 2 * r }, (_, i) => reflect(i - r, h) * w * 3);
  const out = new Float32Array(w * h * 3), tmp = new Float32Array(w * h * 3);
  for (const { col, row } of terms) {
    const cf = Float32Array.from(col), rf = Float32Array.from(row);
    for (let y = 0; y < h; y++) {
      const base = y * w * 3;
      for (let x = 0; x < w; x++) {
        let a = 0, b = 0, c = 0;
        for (let j = 0; j < k; j++) { const p = base + xi[x + j], v = rf[j]; a += v * data[p]; b += v * data[p + 1]; c += v * data[p + 2]; }
        const d = base + x * 3; tmp[d] = a; tmp[d + 1] = b; tmp[d + 2] = c;
      }
    }
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
      let a = 0, b = 0, c = 0;
      for (let i = 0; i < k; i++) { const p = yi[y + i] + x * 3, v = cf[i]; a += v * tmp[p]; b += v * tmp[p + 1]; c += v * tmp[p + 2]; }
      const d = (y * w + x) * 3; out[d] += a; out[d + 1] += b; out[d + 2] += c;
    }
  }
  return { w, h, data: out };
}

function filterDirect(img: Rgb, kern: Float64Array, k: number): Rgb {
  const { w, h, data } = img, r = (k - 1) >> 1;
  const pw = w + 2 * r, ph = h + 2 * r;
  const pad = new Float32Array(pw * ph * 3);
  for (let y = 0; y < ph; y++) {
    const sy = reflect(y - r, h);
    for (let x = 0; x < pw; x++) {
      const s = (sy * w + reflect(x - r, w)) * 3, d = (y * pw + x) * 3;
      pad[d] = data[s]; pad[d + 1] = data[s + 1]; pad[d + 2] = data[s + 2];
    }
  }
  const out = new Float32Array(w * h * 3);
  const kf = Float32Array.from(kern);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let a = 0, b = 0, c = 0;
      for (let i = 0; i < k; i++) {
        let p = ((y + i) * pw + x) * 3;
        const kr = i * k;
        for (let j = 0; j < k; j++, p += 3) {
          const v = kf[kr + j];
          a += v * pad[p]; b += v * pad[p + 1]; c += v * pad[p + 2];
        }
      }
      const d = (y * w + x) * 3;
      out[d] = a; out[d + 1] = b; out[d + 2] = c;
    }
  }
  return { w, h, data: out };
}

export type ResizeMode = 'area' | 'bilinear' | 'bicubic';
export const RESIZE_MODES: readonly ResizeMode[] = ['area', 'bilinear', 'bicubic'];

/** Per output index, the input indices and weights PyTorch's F.interpolate(align_corners=False) uses along one axis. */
export function axisWeights(n: number, m: number, mode: ResizeMode): { idx: Int32Array[]; wt: Float64Array[] } {
  const idx: Int32Array[] = [], wt: Float64Array[] = [];
  const scale = n / m;
  for (let o = 0; o < m; o++) {
    if (mode === 'area') {
      // adaptive average pooling
      const s = Math.floor((o * n) / m), e = Math.ceil(((o + 1) * n) / m);
      idx.push(Int32Array.from({ length: e - s }, (_, i) => s + i));
      wt.push(new Float64Array(e - s).fill(1 / (e - s)));
    } else if (mode === 'bilinear') {
      const src = Math.max(0, (o + 0.5) * scale - 0.5);
      const i0 = Math.min(Math.floor(src), n - 1), i1 = Math.min(i0 + 1, n - 1), l = src - i0;
      idx.push(Int32Array.of(i0, i1)); wt.push(Float64Array.of(1 - l, l));
    } else {
      const src = (o + 0.5) * scale - 0.5, i = Math.floor(src), t = src - i, A = -0.75;
      const c1 = (x: number) => ((A + 2) * x - (A + 3)) * x * x + 1;      // |x| <= 1
      const c2 = (x: number) => ((A * x - 5 * A) * x + 8 * A) * x - 4 * A; // 1 < |x| < 2
      idx.push(Int32Array.from([i - 1, i, i + 1, i + 2], (v) => Math.min(Math.max(v, 0), n - 1)));
      wt.push(Float64Array.of(c2(t + 1), c1(t), c1(1 - t), c2(2 - t)));
    }
  }
  return { idx, wt };
}

/** Resizes to outW x outH as PyTorch's F.interpolate (area, bilinear, bicubic with a = -0.75; no antialiasing). */
export function resize(img: Rgb, outW: number, outH: number, mode: ResizeMode): Rgb {
  const { w, h, data } = img;
  if (outW === w && outH === h) return { w, h, data: Float32Array.from(data) };
  const X = axisWeights(w, outW, mode), Y = axisWeights(h, outH, mode);
  const tmp = new Float32Array(outW * h * 3); // horizontal pass
  for (let y = 0; y < h; y++) for (let o = 0; o < outW; o++) {
    const ix = X.idx[o], wx = X.wt[o];
    let a = 0, b = 0, c = 0;
    for (let t = 0; t < ix.length; t++) { const s = (y * w + ix[t]) * 3; a += wx[t] * data[s]; b += wx[t] * data[s + 1]; c += wx[t] * data[s + 2]; }
    const d = (y * outW + o) * 3; tmp[d] = a; tmp[d + 1] = b; tmp[d + 2] = c;
  }
  const out = new Float32Array(outW * outH * 3);
  for (let o = 0; o < outH; o++) {
    const iy = Y.idx[o], wy = Y.wt[o];
    for (let x = 0; x < outW; x++) {
      let a = 0, b = 0, c = 0;
      for (let t = 0; t < iy.length; t++) { const s = (iy[t] * outW + x) * 3; a += wy[t] * tmp[s]; b += wy[t] * tmp[s + 1]; c += wy[t] * tmp[s + 2]; }
      const d = (o * outW + x) * 3; out[d] = a; out[d + 1] = b; out[d + 2] = c;
    }
  }
  return { w: outW, h: outH, data: out };
}

// ---------------------------------------------------------------------------------------------
// Noise

const clamp01 = (img: Rgb): Rgb => { const d = img.data; for (let i = 0; i < d.length; i++) d[i] = d[i] < 0 ? 0 : d[i] > 1 ? 1 : d[i]; return img; };

/** Adds Gaussian noise of standard deviation sigma (0..1 units), the same on all channels when gray; clips to [0, 1]. */
export function addGaussianNoise(img: Rgb, sigma: number, gray: boolean, rng: Rng): Rgb {
  const d = Float32Array.from(img.data);
  for (let i = 0; i < d.length; i += 3) {
    if (gray) { const n = rng.normal() * sigma; d[i] += n; d[i + 1] += n; d[i + 2] += n; }
    else { d[i] += rng.normal() * sigma; d[i + 1] += rng.normal() * sigma; d[i + 2] += rng.normal() * sigma; }
  }
  return clamp01({ w: img.w, h: img.h, data: d });
}

const LOG_FACT = (() => { const t = new Float64Array(257); for (let i = 1; i < 257; i++) t[i] = t[i - 1] + Math.log(i); return t; })();
function logFactorial(k: number): number {
  if (k < 257) return LOG_FACT[k];
  // Stirling's series, far more accurate than the rejection test needs at k > 256
  return (k + 0.5) * Math.log(k + 1) - (k + 1) + 0.5 * Math.log(2 * Math.PI) + 1 / (12 * (k + 1));
}

/** A Poisson(lambda) draw: multiplication (Knuth) below 10, Hormann's PTRS rejection above (as NumPy). */
export function poisson(rng: Rng, lam: number): number {
  if (lam <= 0) return 0;
  if (lam < 10) {
    const L = Math.exp(-lam);
    let k = 0, p = rng.next();
    while (p > L) { k++; p *= rng.next(); }
    return k;
  }
  const slam = Math.sqrt(lam), loglam = Math.log(lam);
  const b = 0.931 + 2.53 * slam, a = -0.059 + 0.02483 * b;
  const invalpha = 1.1239 + 1.1328 / (b - 3.4), vr = 0.9277 - 3.6224 / (b - 2);
  for (;;) {
    const U = rng.next() - 0.5, V = rng.next();
    const us = 0.5 - Math.abs(U);
    const k = Math.floor((2 * a / us + b) * U + lam + 0.43);
    if (us >= 0.07 && V <= vr) return k;
    if (k < 0 || (us < 0.013 && V > us)) continue;
    if (Math.log(V) + Math.log(invalpha) - Math.log(a / (us * us) + b) <= -lam + k * loglam - logFactorial(k)) return k;
  }
}

/**
 * Adds Poisson (shot) noise as BasicSR does: the image rounded to 8 bits, counts at 2^ceil(log2(distinct
 * levels)) per unit, noise = Poisson(v * vals) / vals - v, scaled by `scale`; on the BT.601 grey when
 * gray (the same on all channels). Clips to [0, 1].
 */
export function addPoissonNoise(img: Rgb, scale: number, gray: boolean, rng: Rng): Rgb {
  const src = img.data, n = img.w * img.h;
  const planes = gray ? 1 : 3;
  const v = new Float32Array(n * planes);
  for (let i = 0; i < n; i++) {
    if (gray) v[i] = 0.299 * src[3 * i] + 0.587 * src[3 * i + 1] + 0.114 * src[3 * i + 2];
    else { v[3 * i] = src[3 * i]; v[3 * i + 1] = src[3 * i + 1]; v[3 * i + 2] = src[3 * i + 2]; }
  }
  const seen = new Uint8Array(256);
  let distinct = 0;
  for (let i = 0; i < v.length; i++) {
    const q = Math.min(255, Math.max(0, Math.round(v[i] * 255)));
    v[i] = q / 255;
    if (!seen[q]) { seen[q] = 1; distinct++; }
  }
  const vals = 2 ** Math.ceil(Math.log2(distinct));
  const d = Float32Array.from(src);
  for (let i = 0; i < n; i++) {
    if (gray) {
      const e = (poisson(rng, v[i] * vals) / vals - v[i]) * scale;
      d[3 * i] += e; d[3 * i + 1] += e; d[3 * i + 2] += e;
    } else for (let c = 0; c < 3; c++) d[3 * i + c] += (poisson(rng, v[3 * i + c] * vals) / vals - v[3 * i + c]) * scale;
  }
  return clamp01({ w: img.w, h: img.h, data: d });
}

// ---------------------------------------------------------------------------------------------
// JPEG: what a baseline encoder then decoder does to the pixels (entropy coding is lossless and left
// out): 8-bit input, JFIF YCbCr, chroma 2x2-averaged (4:2:0, the libjpeg default) or kept (4:4:4),
// 8x8 DCT, quantisation with the standard tables at IJG's quality scaling, and libjpeg's "fancy"
// (triangular) chroma upsampling on the way back; rounded to 8 bits.

const LUMA_Q = [16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62,
  18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92, 49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99];
const CHROMA_Q = [17, 18, 24, 47, 99, 99, 99, 99, 18, 21, 26, 66, 99, 99, 99, 99, 24, 26, 56, 99, 99, 99, 99, 99, 47, 66, 99, 99, 99, 99, 99, 99,
  ...new Array(32).fill(99)];

/** The quantisation table of a quality (1..100) as IJG's jpeg_set_quality scales it (baseline: 1..255). */
export function quantTable(base: readonly number[], quality: number): Float64Array {
  const q = Math.min(100, Math.max(1, Math.round(quality)));
  const s = q < 50 ? Math.floor(5000 / q) : 200 - 2 * q;
  return Float64Array.from(base, (b) => Math.min(255, Math.max(1, Math.floor((b * s + 50) / 100))));
}

const DCT = (() => { // DCT[u * 8 + x] = C(u)/2 cos((2x+1) u pi / 16)
  const m = new Float64Array(64);
  for (let u = 0; u < 8; u++) for (let x = 0; x < 8; x++) m[u * 8 + x] = (u === 0 ? Math.SQRT1_2 : 1) / 2 * Math.cos(((2 * x + 1) * u * Math.PI) / 16);
  return m;
})();

/** Quantises every 8x8 block of a plane (w, h multiples of 8) in place: DCT, round(c / q) * q, inverse DCT. */
function quantisePlane(p: Float64Array, w: number, h: number, q: Float64Array): void {
  const blk = new Float64Array(64), tmp = new Float64Array(64);
  for (let by = 0; by < h; by += 8) for (let bx = 0; bx < w; bx += 8) {
    for (let y = 0; y < 8; y++) for (let x = 0; x < 8; x++) blk[y * 8 + x] = p[(by + y) * w + bx + x] - 128;
    // forward: F = D f D^T
    for (let u = 0; u < 8; u++) for (let x = 0; x < 8; x++) { let s = 0; for (let y = 0; y < 8; y++) s += DCT[u * 8 + y] * blk[y * 8 + x]; tmp[u * 8 + x] = s; }
    for (let u = 0; u < 8; u++) for (let v = 0; v < 8; v++) {
      let s = 0; for (let x = 0; x < 8; x++) s += tmp[u * 8 + x] * DCT[v * 8 + x];
      blk[u * 8 + v] = Math.round(s / q[u * 8 + v]) * q[u * 8 + v];
    }
    // inverse: f = D^T F D
    for (let y = 0; y < 8; y++) for (let v = 0; v < 8; v++) { let s = 0; for (let u = 0; u < 8; u++) s += DCT[u * 8 + y] * blk[u * 8 + v]; tmp[y * 8 + v] = s; }
    for (let y = 0; y < 8; y++) for (let x = 0; x < 8; x++) {
      let s = 0; for (let v = 0; v < 8; v++) s += tmp[y * 8 + v] * DCT[v * 8 + x];
      p[(by + y) * w + bx + x] = s + 128;
    }
  }
}

/**
 * The pixels of `img` after a baseline JPEG save at `quality` and a load: 4:2:0 chroma unless
 * `chroma444`. The image is edge-extended to whole MCUs as encoders do, then cropped back.
 */
export function jpegRoundTrip(img: Rgb, quality: number, chroma444 = false): Rgb {
  const { w, h, data } = img;
  const mcu = chroma444 ? 8 : 16;
  const W = Math.ceil(w / mcu) * mcu, H = Math.ceil(h / mcu) * mcu;
  const Y = new Float64Array(W * H), Cb = new Float64Array(W * H), Cr = new Float64Array(W * H);
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) {
    const s = (Math.min(y, h - 1) * w + Math.min(x, w - 1)) * 3;
    const r = q8(data[s]), g = q8(data[s + 1]), b = q8(data[s + 2]);
    const i = y * W + x;
    Y[i] = 0.299 * r + 0.587 * g + 0.114 * b;
    Cb[i] = -0.168736 * r - 0.331264 * g + 0.5 * b + 128;
    Cr[i] = 0.5 * r - 0.418688 * g - 0.081312 * b + 128;
  }
  quantisePlane(Y, W, H, quantTable(LUMA_Q, quality));
  const cq = quantTable(CHROMA_Q, quality);
  let cb: Float64Array = Cb, cr: Float64Array = Cr;
  if (!chroma444) {
    const cw = W / 2, ch = H / 2;
    const down = (p: Float64Array) => {
      const o = new Float64Array(cw * ch);
      for (let y = 0; y < ch; y++) for (let x = 0; x < cw; x++) {
        const i = 2 * y * W + 2 * x;
        o[y * cw + x] = (p[i] + p[i + 1] + p[i + W] + p[i + W + 1]) / 4;
      }
      return o;
    };
    cb = down(Cb); cr = down(Cr);
    quantisePlane(cb, cw, ch, cq); quantisePlane(cr, cw, ch, cq);
    cb = fancyUpsample(cb, cw, ch); cr = fancyUpsample(cr, cw, ch);
  } else {
    quantisePlane(cb, W, H, cq); quantisePlane(cr, W, H, cq);
  }
  const out = new Float32Array(w * h * 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
    const i = y * W + x, d = (y * w + x) * 3;
    const yy = Y[i], u = cb[i] - 128, v = cr[i] - 128;
    out[d] = clampByte(yy + 1.402 * v) / 255;
    out[d + 1] = clampByte(yy - 0.344136 * u - 0.714136 * v) / 255;
    out[d + 2] = clampByte(yy + 1.772 * u) / 255;
  }
  return { w, h, data: out };
}
const q8 = (v: number) => Math.min(255, Math.max(0, Math.round(v * 255)));
const clampByte = (v: number) => Math.min(255, Math.max(0, Math.round(v)));

/** libjpeg's h2v2 fancy upsampling: each output pixel 9/16 its own sample, 3/16 each near neighbour, 1/16 the diagonal (edges repeated). */
function fancyUpsample(p: Float64Array, w: number, h: number): Float64Array {
  const W = 2 * w, o = new Float64Array(W * 2 * h);
  const at = (x: number, y: number) => p[Math.min(h - 1, Math.max(0, y)) * w + Math.min(w - 1, Math.max(0, x))];
  for (let y = 0; y < 2 * h; y++) for (let x = 0; x < W; x++) {
    const sx = x >> 1, sy = y >> 1, nx = sx + (x & 1 ? 1 : -1), ny = sy + (y & 1 ? 1 : -1);
    o[y * W + x] = (9 * at(sx, sy) + 3 * at(nx, sy) + 3 * at(sx, ny) + at(nx, ny)) / 16;
  }
  return o;
}

// ---------------------------------------------------------------------------------------------
// Unsharp masking (BasicSR's USMSharp: 51x51 Gaussian, weight 0.5, threshold 10 levels, soft mask)

/** Separable Gaussian blur (3 channels) with OpenCV's sigma for a k-tap kernel and its BORDER_REFLECT_101 edges. */
function gaussianBlurSeparable(d: Float32Array, w: number, h: number, k: number): Float32Array {
  const sigma = 0.3 * ((k - 1) * 0.5 - 1) + 0.8, r = (k - 1) >> 1;
  const g = new Float64Array(k);
  for (let i = 0; i < k; i++) g[i] = Math.exp(-((i - r) ** 2) / (2 * sigma * sigma));
  const gf = Float32Array.from(normalise(g));
  const pass = (src: Float32Array, n: number, lines: number, stride: number, step: number): Float32Array => {
    // blur along an axis of length n (element step `step`), for `lines` lines `stride` apart
    const out = new Float32Array(src.length), idx = Int32Array.from({ length: n + 2 * r }, (_, i) => reflect(i - r, n) * step);
    for (let l = 0; l < lines; l++) {
      const base = l * stride;
      for (let x = 0; x < n; x++) {
        let a = 0, b = 0, c = 0;
        for (let i = 0; i < k; i++) { const p = base + idx[x + i], wgt = gf[i]; a += wgt * src[p]; b += wgt * src[p + 1]; c += wgt * src[p + 2]; }
        const o = base + x * step; out[o] = a; out[o + 1] = b; out[o + 2] = c;
      }
    }
    return out;
  };
  return pass(pass(d, w, h, w * 3, 3), h, w, 3, w * 3);
}

/** img + weight * (img - blur(img)) where the residual exceeds the threshold (softened), clipped to [0, 1]. */
export function usmSharpen(img: Rgb, weight = 0.5, radius = 50, threshold = 10): Rgb {
  const k = radius % 2 === 0 ? radius + 1 : radius;
  const { w, h, data } = img;
  const blur = gaussianBlurSeparable(data, w, h, k);
  const mask = new Float32Array(data.length);
  for (let i = 0; i < data.length; i++) mask[i] = Math.abs(data[i] - blur[i]) * 255 > threshold ? 1 : 0;
  const soft = gaussianBlurSeparable(mask, w, h, k);
  const out = new Float32Array(data.length);
  for (let i = 0; i < data.length; i++) {
    const sharp = Math.min(1, Math.max(0, data[i] + weight * (data[i] - blur[i])));
    out[i] = soft[i] * sharp + (1 - soft[i]) * data[i];
  }
  return { w, h, data: out };
}

// ---------------------------------------------------------------------------------------------
// The second-order pipeline

const stageOf = (c: DegradationConfig, n: 1 | 2): BlurStage => n === 1
  ? { prob: c.blur1, kernelProbs: c.blur1Kernel, sincProb: c.blur1Sinc, sigma: c.blur1Sigma, betaG: c.blur1BetaG, betaP: c.blur1BetaP }
  : { prob: c.blur2, kernelProbs: c.blur2Kernel, sincProb: c.blur2Sinc, sigma: c.blur2Sigma, betaG: c.blur2BetaG, betaP: c.blur2BetaP };

function randomResize(img: Rgb, rng: Rng, probs: number[], range: Range, target?: (s: number) => [number, number]): Rgb {
  const kind = choose(rng, probs); // up, down, keep
  const s = kind === 0 ? uniform(rng, [1, range[1]]) : kind === 1 ? uniform(rng, [range[0], 1]) : 1;
  const mode = RESIZE_MODES[rng.int(3)];
  const [ow, oh] = target ? target(s) : [Math.max(1, Math.floor(img.w * s)), Math.max(1, Math.floor(img.h * s))];
  return resize(img, ow, oh, mode);
}

function randomNoise(img: Rgb, rng: Rng, gaussianProb: number, sigma: Range, poissonScale: Range, grayProb: number): Rgb {
  if (rng.next() < gaussianProb) {
    const s = uniform(rng, sigma) / 255, gray = rng.next() < grayProb;
    return addGaussianNoise(img, s, gray, rng);
  }
  const s = uniform(rng, poissonScale), gray = rng.next() < grayProb;
  return addPoissonNoise(img, s, gray, rng);
}

/**
 * Degrades an HR image (values 0..1; sides multiples of `scale`) to its LR (sides / scale, rounded
 * to 8 bits) by Real-ESRGAN's second-order model. Draws everything from `rng`.
 */
export function degradeRealEsrgan(hr: Rgb, scale: number, c: DegradationConfig, rng: Rng): Rgb {
  const lw = hr.w / scale, lh = hr.h / scale;
  // draw the three kernels first, as Real-ESRGAN's dataset does
  const k1 = randomKernel(rng, stageOf(c, 1));
  const k2 = randomKernel(rng, stageOf(c, 2));
  let finalK: Kernel | null = null;
  if (rng.next() < c.finalSinc) {
    const k = KERNEL_SIZES[rng.int(KERNEL_SIZES.length)];
    finalK = { k, w: sincKernel(k, uniform(rng, [Math.PI / 3, Math.PI])), type: 'sinc' };
  }
  let out = hr;
  // first order
  if (rng.next() < c.blur1) out = filter2d(out, k1.w, k1.k);
  out = randomResize(out, rng, c.resize1Probs, c.resize1Range);
  out = randomNoise(out, rng, c.gaussian1, c.noise1Sigma, c.poisson1Scale, c.grayNoise1);
  out = jpegRoundTrip(clamp01(out), uniform(rng, c.jpeg1));
  // second order
  if (rng.next() < c.blur2) out = filter2d(out, k2.w, k2.k);
  out = randomResize(out, rng, c.resize2Probs, c.resize2Range, (s) => [Math.max(1, Math.floor(lw * s)), Math.max(1, Math.floor(lh * s))]);
  out = randomNoise(out, rng, c.gaussian2, c.noise2Sigma, c.poisson2Scale, c.grayNoise2);
  const finalResize = (img: Rgb) => {
    const r = resize(img, lw, lh, RESIZE_MODES[rng.int(3)]);
    return finalK ? filter2d(r, finalK.w, finalK.k) : r;
  };
  if (rng.next() < 0.5) {
    out = finalResize(out);
    out = jpegRoundTrip(clamp01(out), uniform(rng, c.jpeg2));
  } else {
    out = jpegRoundTrip(clamp01(out), uniform(rng, c.jpeg2));
    out = finalResize(out);
  }
  return round8(out);
}

/** Values clamped to [0, 1] and rounded to 8-bit levels, in place (as a saved image holds them). */
function round8(img: Rgb): Rgb {
  const d = img.data;
  for (let i = 0; i < d.length; i++) d[i] = Math.min(255, Math.max(0, Math.round(d[i] * 255))) / 255;
  return img;
}

/** MATLAB-style bicubic downscale by `scale`, rounded to 8 bits (the paper's LR). */
export function bicubicLr(hr: Rgb, scale: number): Rgb {
  const lw = Math.round(hr.w / scale), lh = Math.round(hr.h / scale);
  return round8({ w: lw, h: lh, data: imresize(hr.data, hr.w, hr.h, 3, lw, lh) });
}

// ---------------------------------------------------------------------------------------------
// Fixed evaluation inputs: the paper's bicubic LR, the web's JPEG thumbnails, sensor noise, and a
// draw of the full model seeded by the image's name (the same test set on every run and machine).

export const EVAL_CASES = ['bicubic', 'jpeg50', 'jpeg75', 'jpeg90', 'noise5', 'noise10', 'realesrgan'] as const;
export type EvalCase = typeof EVAL_CASES[number];
export const EVAL_CASE_HELP: Record<EvalCase, string> = {
  bicubic: 'MATLAB-style bicubic x1/scale, 8-bit (the paper)',
  jpeg50: 'bicubic, then saved as JPEG quality 50 (4:2:0)',
  jpeg75: 'bicubic, then JPEG quality 75 (a common web thumbnail)',
  jpeg90: 'bicubic, then JPEG quality 90',
  noise5: 'bicubic, then Gaussian noise of sigma 5 levels on each channel, 8-bit',
  noise10: 'bicubic, then Gaussian noise of sigma 10 levels',
  realesrgan: "one draw of Real-ESRGAN's second-order model with its default ranges, seeded by the file name",
};

/** FNV-1a hash of a string (a file name's seed). */
export function nameSeed(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

/**
 * The LR input of an evaluation case for one image: `hr` mod-cropped (0..1), `bicubic` its paper LR
 * (8-bit), `name` seeds the random cases.
 */
export function evalInput(kase: EvalCase, hr: Rgb, bicubic: Rgb, scale: number, name: string): Rgb {
  const seed = nameSeed(`${kase}:${name}`);
  const m = /^(jpeg|noise)(\d+)$/.exec(kase);
  if (kase === 'bicubic') return bicubic;
  if (kase === 'realesrgan') return degradeRealEsrgan(hr, scale, { ...DEFAULT_DEGRADATION, kind: 'realesrgan' }, new Rng(seed));
  if (m![1] === 'jpeg') return jpegRoundTrip(bicubic, Number(m![2]));
  return round8(addGaussianNoise(bicubic, Number(m![2]) / 255, false, new Rng(seed)));
}
