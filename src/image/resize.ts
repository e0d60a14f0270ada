// MATLAB imresize-compatible bicubic resampling on the CPU, and nearest-neighbour for previews.
//
// The SR literature makes its LR inputs with MATLAB's imresize(hr, 1/4, 'bicubic'), so its exact
// weights matter for comparable PSNR: cubic kernel with a = -0.5; when shrinking, the kernel is
// stretched by 1/scale (antialiasing); output pixel x (1-based) samples input position
// u = x / scale + 0.5 * (1 - 1 / scale); taps outside the image are mirrored (symmetric padding);
// each output's weights are normalised to sum to 1. This follows MATLAB's `contributions`.

/** Keys' cubic convolution kernel with a = -0.5 (MATLAB's `cubic`). */
export function cubic(x: number): number {
  const ax = Math.abs(x);
  const ax2 = ax * ax;
  const ax3 = ax2 * ax;
  if (ax <= 1) return 1.5 * ax3 - 2.5 * ax2 + 1;
  if (ax <= 2) return -0.5 * ax3 + 2.5 * ax2 - 4 * ax + 2;
  return 0;
}

/** For each output index: the 0-based input indices it reads and their normalised weights. */
export interface Contributions {
  outLength: number;
  taps: number;
  /** outLength * taps, 0-based input indices (already mirrored into range). */
  indices: Int32Array;
  /** outLength * taps, summing to 1 per output. */
  weights: Float64Array;
}

/** MATLAB's `contributions(in_length, out_length, scale, @cubic, 4, antialiasing = true)`. */
export function contributions(inLength: number, outLength: number, scale: number, antialiasing = true): Contributions {
  const shrink = scale < 1 && antialiasing;
  const kernelWidth = shrink ? 4 / scale : 4;
  const h = shrink ? (x: number) => scale * cubic(scale * x) : cubic;
  const taps = Math.ceil(kernelWidth) + 2;
  const indices = new Int32Array(outLength * taps);
  const weights = new Float64Array(outLength * taps);
  for (let x = 1; x <= outLength; x++) {
    const u = x / scale + 0.5 * (1 - 1 / scale);
    const left = Math.floor(u - kernelWidth / 2);
    let sum = 0;
    for (let j = 0; j < taps; j++) {
      const w = h(u - (left + j));
      weights[(x - 1) * taps + j] = w;
      sum += w;
      indices[(x - 1) * taps + j] = mirror(left + j - 1, inLength);
    }
    for (let j = 0; j < taps; j++) weights[(x - 1) * taps + j] /= sum;
  }
  return { outLength, taps, indices, weights };
}

/** Symmetric padding (edge sample repeated: ... 1 0 | 0 1 2 ... n-1 | n-1 n-2 ...), period 2n. */
function mirror(i: number, n: number): number {
  const p = 2 * n;
  let m = ((i % p) + p) % p;
  if (m >= n) m = p - 1 - m;
  return m;
}

/**
 * Bicubic resize of interleaved HWC float data, MATLAB imresize semantics with the scale of each
 * axis taken as out / in (imresize(I, [outH outW])). No clamping: the caller clamps and rounds.
 * Like MATLAB, the axis with the smaller scale goes first (vertical first on a tie); the
 * intermediate stays in float64 (MATLAB on uint8 input rounds it to uint8 between the two passes,
 * which moves results by well under 0.01 dB).
 */
export function imresize(src: Float32Array, width: number, height: number, channels: number, outW: number, outH: number): Float32Array {
  checkArgs('imresize', src, width, height, channels, outW, outH);
  if (outW === width && outH === height) return Float32Array.from(src);
  const sx = outW / width;
  const sy = outH / height;
  const cw = contributions(width, outW, sx);
  const ch = contributions(height, outH, sy);
  let out: Float64Array;
  if (sy <= sx) {
    const tmp = resizeRows(src, width, height, channels, ch);
    out = resizeCols(tmp, width, outH, channels, cw);
  } else {
    const tmp = resizeCols(src, width, height, channels, cw);
    out = resizeRows(tmp, outW, height, channels, ch);
  }
  return Float32Array.from(out);
}

/** The same on planar CHW data (each channel plane resized on its own). */
export function imresizePlanar(src: Float32Array, width: number, height: number, channels: number, outW: number, outH: number): Float32Array {
  checkArgs('imresizePlanar', src, width, height, channels, outW, outH);
  const out = new Float32Array(outW * outH * channels);
  for (let c = 0; c < channels; c++) {
    const plane = src.subarray(c * width * height, (c + 1) * width * height);
    out.set(imresize(plane, width, height, 1, outW, outH), c * outW * outH);
  }
  return out;
}

function checkArgs(fn: string, src: Float32Array, width: number, height: number, channels: number, outW: number, outH: number): void {
  for (const [k, v] of Object.entries({ width, height, channels, outW, outH })) {
    if (!Number.isInteger(v) || v <= 0) throw new Error(`${fn}: ${k} must be a positive integer, got ${v}`);
  }
  if (src.length !== width * height * channels) {
    throw new Error(`${fn}: data has ${src.length} values, want ${width}x${height}x${channels} = ${width * height * channels}`);
  }
}

/** Vertical pass: each output row is a weighted sum of whole input rows. */
function resizeRows(src: ArrayLike<number>, width: number, height: number, channels: number, c: Contributions): Float64Array {
  const rowLen = width * channels;
  const out = new Float64Array(c.outLength * rowLen);
  for (let y = 0; y < c.outLength; y++) {
    const o = y * rowLen;
    for (let j = 0; j < c.taps; j++) {
      const w = c.weights[y * c.taps + j];
      if (w === 0) continue;
      const s = c.indices[y * c.taps + j] * rowLen;
      for (let i = 0; i < rowLen; i++) out[o + i] += w * src[s + i];
    }
  }
  return out;
}

/** Horizontal pass within each row. */
function resizeCols(src: ArrayLike<number>, width: number, height: number, channels: number, c: Contributions): Float64Array {
  const outW = c.outLength;
  const out = new Float64Array(outW * height * channels);
  const acc = new Float64Array(channels);
  for (let y = 0; y < height; y++) {
    const srow = y * width * channels;
    const orow = y * outW * channels;
    for (let x = 0; x < outW; x++) {
      acc.fill(0);
      for (let j = 0; j < c.taps; j++) {
        const w = c.weights[x * c.taps + j];
        if (w === 0) continue;
        const s = srow + c.indices[x * c.taps + j] * channels;
        for (let k = 0; k < channels; k++) acc[k] += w * src[s + k];
      }
      for (let k = 0; k < channels; k++) out[orow + x * channels + k] = acc[k];
    }
  }
  return out;
}

/**
 * Nearest-neighbour resize (for previews: shows the pixels as they are). Output pixel x reads
 * input floor((x + 0.5) * in / out), which for an integer upscale factor f is floor(x / f).
 */
export function resizeNearest(src: Float32Array, width: number, height: number, channels: number, outW: number, outH: number): Float32Array {
  checkArgs('resizeNearest', src, width, height, channels, outW, outH);
  const out = new Float32Array(outW * outH * channels);
  const xs = new Int32Array(outW);
  for (let x = 0; x < outW; x++) xs[x] = Math.min(width - 1, Math.floor(((x + 0.5) * width) / outW));
  for (let y = 0; y < outH; y++) {
    const sy = Math.min(height - 1, Math.floor(((y + 0.5) * height) / outH));
    for (let x = 0; x < outW; x++) {
      const s = (sy * width + xs[x]) * channels;
      const d = (y * outW + x) * channels;
      for (let k = 0; k < channels; k++) out[d + k] = src[s + k];
    }
  }
  return out;
}

/** Integer-factor nearest-neighbour upscale. */
export function upscaleNearest(src: Float32Array, width: number, height: number, channels: number, factor: number): Float32Array {
  if (!Number.isInteger(factor) || factor < 1) throw new Error(`upscaleNearest: factor must be a positive integer, got ${factor}`);
  return resizeNearest(src, width, height, channels, width * factor, height * factor);
}
