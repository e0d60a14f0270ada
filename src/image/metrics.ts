// The SR papers' evaluation protocol: PSNR and SSIM on the Y channel (ITU-R BT.601, MATLAB's
// rgb2ycbcr on [0, 1] input, scaled to 0..255), HR mod-cropped to the scale, `scale` pixels shaved
// off every side. SSIM is Wang et al.'s: 11x11 Gaussian window (sigma 1.5), K1 = 0.01, K2 = 0.03,
// L = 255, 'valid' filtering (as MATLAB's ssim_index and BasicSR's calculate_ssim).
// Everything is float64; Y is not rounded to integers.
import { type Image, cropImage, toRGB } from './pixels.js';

/** Y on the 0..255 scale, in [16, 235]: Y = 16 + 65.481 R + 128.553 G + 24.966 B, R, G, B in [0, 1]. Gray counts as R = G = B. */
export function rgb2y(img: Image): Float64Array {
  const { width, height, channels: c, data } = img;
  const n = width * height;
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    // Gray is spelt out as R = G = B so that it gives bit-identical Y to its RGB copy.
    const r = data[i * c];
    const g = c >= 3 ? data[i * c + 1] : r;
    const b = c >= 3 ? data[i * c + 2] : r;
    y[i] = 16 + 65.481 * r + 128.553 * g + 24.966 * b;
  }
  return y;
}

/** Colour channels (alpha dropped, gray replicated) on the 0..255 scale, interleaved RGB. */
export function rgb255(img: Image): Float64Array {
  const { rgb } = toRGB(img);
  const out = new Float64Array(rgb.length);
  for (let i = 0; i < rgb.length; i++) out[i] = rgb[i] * 255;
  return out;
}

/** PSNR in dB of two equally long arrays on a 0..peak scale; Infinity when identical. */
export function psnr(a: ArrayLike<number>, b: ArrayLike<number>, peak = 255): number {
  if (a.length !== b.length) throw new Error(`psnr: lengths differ (${a.length} vs ${b.length})`);
  if (a.length === 0) throw new Error('psnr: empty input');
  let se = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i] - b[i];
    se += d * d;
  }
  const mse = se / a.length;
  return mse === 0 ? Infinity : 10 * Math.log10((peak * peak) / mse);
}

/** The normalised 1-D Gaussian (its outer product is the 2-D window; MATLAB's fspecial('gaussian', 11, 1.5)). */
export function gaussian1d(size = 11, sigma = 1.5): Float64Array {
  const g = new Float64Array(size);
  const r = (size - 1) / 2;
  let s = 0;
  for (let i = 0; i < size; i++) {
    g[i] = Math.exp(-((i - r) ** 2) / (2 * sigma * sigma));
    s += g[i];
  }
  for (let i = 0; i < size; i++) g[i] /= s;
  return g;
}

/** 'valid' 2-D correlation with the separable window g x g: output (h - k + 1) x (w - k + 1). */
function filterValid(src: Float64Array, width: number, height: number, g: Float64Array): Float64Array {
  const k = g.length;
  const ow = width - k + 1;
  const oh = height - k + 1;
  const tmp = new Float64Array(oh * width);
  for (let y = 0; y < oh; y++) {
    for (let j = 0; j < k; j++) {
      const w = g[j];
      const s = (y + j) * width;
      for (let x = 0; x < width; x++) tmp[y * width + x] += w * src[s + x];
    }
  }
  const out = new Float64Array(oh * ow);
  for (let y = 0; y < oh; y++) {
    for (let x = 0; x < ow; x++) {
      let acc = 0;
      const s = y * width + x;
      for (let j = 0; j < k; j++) acc += g[j] * tmp[s + j];
      out[y * ow + x] = acc;
    }
  }
  return out;
}

/** Mean SSIM of two single-channel images on a 0..L scale (Wang et al. 2004, MATLAB ssim_index defaults). */
export function ssim(a: ArrayLike<number>, b: ArrayLike<number>, width: number, height: number, L = 255): number {
  const n = width * height;
  if (a.length !== n || b.length !== n) throw new Error(`ssim: want ${width}x${height} = ${n} values, got ${a.length} and ${b.length}`);
  const g = gaussian1d(11, 1.5);
  if (width < g.length || height < g.length) throw new Error(`ssim: image ${width}x${height} is smaller than the 11x11 window`);
  const C1 = (0.01 * L) ** 2;
  const C2 = (0.03 * L) ** 2;
  const A = Float64Array.from(a);
  const B = Float64Array.from(b);
  const AA = new Float64Array(n);
  const BB = new Float64Array(n);
  const AB = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    AA[i] = A[i] * A[i];
    BB[i] = B[i] * B[i];
    AB[i] = A[i] * B[i];
  }
  const mu1 = filterValid(A, width, height, g);
  const mu2 = filterValid(B, width, height, g);
  const s11 = filterValid(AA, width, height, g);
  const s22 = filterValid(BB, width, height, g);
  const s12 = filterValid(AB, width, height, g);
  let sum = 0;
  for (let i = 0; i < mu1.length; i++) {
    const m1 = mu1[i], m2 = mu2[i];
    const v1 = s11[i] - m1 * m1;
    const v2 = s22[i] - m2 * m2;
    const cov = s12[i] - m1 * m2;
    sum += ((2 * m1 * m2 + C1) * (2 * cov + C2)) / ((m1 * m1 + m2 * m2 + C1) * (v1 + v2 + C2));
  }
  return sum / mu1.length;
}

/** Removes `border` pixels from every side of interleaved HWC data. */
export function shave(data: ArrayLike<number>, width: number, height: number, channels: number, border: number): { data: Float64Array; width: number; height: number } {
  const w = width - 2 * border;
  const h = height - 2 * border;
  if (border < 0 || w <= 0 || h <= 0) throw new Error(`shave: cannot remove ${border} px from each side of ${width}x${height}`);
  const out = new Float64Array(w * h * channels);
  for (let y = 0; y < h; y++) {
    const s = ((y + border) * width + border) * channels;
    for (let i = 0; i < w * channels; i++) out[y * w * channels + i] = data[s + i];
  }
  return { data: out, width: w, height: h };
}

/**
 * Texture energy: the mean gradient magnitude of Y (0..255 scale), sqrt(dx^2 + dy^2) with forward
 * differences, over the image with `border` pixels shaved off every side. Blur lowers it, noise
 * raises it; an SR result's value divided by its HR image's tells which way it errs.
 */
export function textureEnergy(img: Image, border: number): number {
  const { data: y, width: w, height: h } = shave(rgb2y(img), img.width, img.height, 1, border);
  if (w < 2 || h < 2) throw new Error(`textureEnergy: ${w}x${h} is too small`);
  let sum = 0;
  for (let r = 0; r < h - 1; r++) for (let c = 0; c < w - 1; c++) {
    const i = r * w + c;
    const dx = y[i + 1] - y[i], dy = y[i + w] - y[i];
    sum += Math.sqrt(dx * dx + dy * dy);
  }
  return sum / ((w - 1) * (h - 1));
}

/**
 * Grid share: how much of the image's fine detail is a pattern repeating every `period` pixels (the
 * dot grid a sub-pixel upsampler can grow under an adversarial loss, which `textureEnergy` counts as
 * texture). Y (0..255) with `border` pixels shaved, high-passed by subtracting its 4x4 box mean
 * (a linear ramp leaves a constant); then, per block of 4*period x 4*period pixels aligned with the
 * image's origin, the residual's mean at each of the period x period phases: the block's periodic
 * energy is the variance of those phase means, its detail energy the residual's variance. Returns
 * the periodic share of the summed detail energy: about 1/16 for detail with no such pattern (each
 * phase mean averages 16 samples; HR photographs give 0.04-0.08), 1 for a pure grid; NaN for an
 * image too small to hold a block away from its edges.
 */
export function gridShare(img: Image, border: number, period = 4): number {
  const { data: y, width: w, height: h } = shave(rgb2y(img), img.width, img.height, 1, border);
  const B = 4 * period;
  // residual r(i, j) = y(i, j) - mean of y over rows i-1..i+2, columns j-1..j+2, where that fits
  const r = new Float64Array(w * h);
  const S = new Float64Array((w + 1) * (h + 1)); // integral image
  for (let i = 0; i < h; i++) for (let j = 0; j < w; j++) S[(i + 1) * (w + 1) + j + 1] = y[i * w + j] + S[i * (w + 1) + j + 1] + S[(i + 1) * (w + 1) + j] - S[i * (w + 1) + j];
  const box = (i0: number, j0: number) => (S[(i0 + 4) * (w + 1) + j0 + 4] - S[i0 * (w + 1) + j0 + 4] - S[(i0 + 4) * (w + 1) + j0] + S[i0 * (w + 1) + j0]) / 16;
  for (let i = 1; i + 2 < h; i++) for (let j = 1; j + 2 < w; j++) r[i * w + j] = y[i * w + j] - box(i - 1, j - 1);
  let periodic = 0, detail = 0;
  const sums = new Float64Array(period * period);
  // blocks inside rows/columns 1..h-3 (where r is defined), aligned to multiples of B
  for (let bi = B; bi + B <= h - 2; bi += B) for (let bj = B; bj + B <= w - 2; bj += B) {
    sums.fill(0);
    let s1 = 0, s2 = 0;
    for (let i = bi; i < bi + B; i++) for (let j = bj; j < bj + B; j++) {
      const v = r[i * w + j];
      sums[(i % period) * period + (j % period)] += v;
      s1 += v; s2 += v * v;
    }
    const n = B * B, per = n / (period * period), mean = s1 / n;
    let pv = 0;
    for (const t of sums) pv += (t / per - mean) ** 2;
    periodic += pv / (period * period);
    detail += s2 / n - mean * mean;
  }
  if (h - 2 < 2 * B || w - 2 < 2 * B) return NaN; // no whole block: no figure
  return detail === 0 ? 0 : periodic / detail;
}

/**
 * Blockiness: how much stronger the image's steps are across the lines of a `block`-pixel grid (the
 * 8x8 JPEG blocks of an LR input, 32 pixels apart after a 4x upscale) than across the other lines a
 * `step` pixels apart (the other LR pixel boundaries). Mean |Y difference| (0..255) between the two
 * pixels either side of each line, rows and columns together, on the grid lines divided by the same
 * on the other lines: 1 for no grid, above 1 where block edges show. Lines at the image's edge and
 * within `border` of it are left out. NaN when the image holds no grid line.
 */
export function blockiness(img: Image, border: number, block = 32, step = 4): number {
  const y = rgb2y(img), w = img.width, h = img.height;
  let onSum = 0, onN = 0, offSum = 0, offN = 0;
  const add = (b: number, d: number) => { if (b % block === 0) { onSum += d; onN++; } else { offSum += d; offN++; } };
  for (let b = step; b < w; b += step) { // the line between columns b-1 and b, both outside the border
    if (b - 1 < border || b > w - 1 - border) continue;
    let d = 0;
    for (let r = border; r < h - border; r++) d += Math.abs(y[r * w + b] - y[r * w + b - 1]);
    add(b, d / (h - 2 * border));
  }
  for (let b = step; b < h; b += step) {
    if (b - 1 < border || b > h - 1 - border) continue;
    let d = 0;
    for (let c = border; c < w - border; c++) d += Math.abs(y[b * w + c] - y[(b - 1) * w + c]);
    add(b, d / (w - 2 * border));
  }
  if (!onN || !offN) return NaN;
  const off = offSum / offN;
  return off === 0 ? (onSum === 0 ? 1 : Infinity) : onSum / onN / off;
}

/** The top-left part whose sides are multiples of `scale` (MATLAB's modcrop). */
export function modcrop(img: Image, scale: number): Image {
  const w = img.width - (img.width % scale);
  const h = img.height - (img.height % scale);
  if (w === img.width && h === img.height) return img;
  return cropImage(img, 0, 0, w, h);
}

export interface PairScores {
  psnrY: number;
  ssimY: number;
  psnrRGB: number;
}

/**
 * Scores an SR result against its HR ground truth with the papers' protocol. The HR image is
 * mod-cropped to `scale` if it is not already the SR size; `scale` pixels are shaved from every side.
 * Values are used as given: quantise the SR image first (as saving it to PNG would) to match
 * published numbers.
 */
export function evaluatePair(sr: Image, hr: Image, scale: number): PairScores {
  let ref = hr;
  if (sr.width !== hr.width || sr.height !== hr.height) {
    ref = modcrop(hr, scale);
    if (sr.width !== ref.width || sr.height !== ref.height) {
      throw new Error(`evaluatePair: SR is ${sr.width}x${sr.height}, HR is ${hr.width}x${hr.height} (mod-${scale} crop ${ref.width}x${ref.height})`);
    }
  }
  const { width, height } = sr;
  const ys = shave(rgb2y(sr), width, height, 1, scale);
  const yh = shave(rgb2y(ref), width, height, 1, scale);
  const cs = shave(rgb255(sr), width, height, 3, scale);
  const ch = shave(rgb255(ref), width, height, 3, scale);
  return {
    psnrY: psnr(ys.data, yh.data),
    ssimY: ssim(ys.data, yh.data, ys.width, ys.height),
    psnrRGB: psnr(cs.data, ch.data),
  };
}
