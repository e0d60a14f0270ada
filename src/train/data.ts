// Training data: a folder of photographs -> batches of (LR, HR) crops.
// HR: random crops (default 96x96) from distinct images, random flips and 90-degree rotations.
// LR: MATLAB-style bicubic x4 downsampling with antialiasing, rounded to 8 bits like a real input.
// LR in [0,1], HR in [-1,1]. Each batch's randomness derives from (seed, step) alone, so a run
// that resumes at step k draws exactly the batches an uninterrupted run would.
import { readFile } from 'node:fs/promises';
import { mat3 } from 'wgpu-matrix';
import { quantize, toRGB } from '../image/pixels.js';
import { decodeImage } from '../image/image.js';
import { imresize } from '../image/resize.js';
import { Rng } from '../nn/random.js';
import { listImages } from '../node/image-files.js';
import { bicubicLr, degradeRealEsrgan, jpegRoundTrip, usmSharpen, type DegradationConfig, type Rgb } from '../srgan/degrade.js';

/** An 8-bit RGB image kept in memory (3 bytes a pixel). */
export interface RgbImage { name: string; width: number; height: number; rgb: Uint8Array }

/** 0..1 floats as 8-bit values (quantised, so that 16-bit sources round like saved 8-bit images). */
export function toBytes(v: Float32Array): Uint8Array {
  return Uint8Array.from(quantize(v, 8), (q) => Math.round(q * 255));
}

/** Decodes any supported image to 8-bit RGB (gray replicated, alpha dropped). */
export function toRgb8(bytes: Uint8Array, name: string): RgbImage {
  const img = decodeImage(bytes, name);
  return { name, width: img.width, height: img.height, rgb: toBytes(toRGB(img).rgb) };
}

export interface LoadOptions { minSize: number; warn?: (msg: string) => void; exclude?: string[] }

/** Loads every usable image of a folder; unreadable or too-small files are skipped with a warning. */
export async function loadImages(dir: string, opts: LoadOptions): Promise<RgbImage[]> {
  const warn = opts.warn ?? ((m: string) => process.stderr.write(`warning: ${m}\n`));
  const files = await listImages(dir, { exclude: opts.exclude });
  if (!files.length) throw new Error(`${dir}: no images (.png, .jpg, .jpeg, .bmp) found`);
  const out: RgbImage[] = [];
  for (const f of files) {
    try {
      const img = toRgb8(new Uint8Array(await readFile(f)), f);
      if (img.width < opts.minSize || img.height < opts.minSize) {
        warn(`${f}: ${img.width}x${img.height} is smaller than the ${opts.minSize}x${opts.minSize} crop, skipped`);
        continue;
      }
      out.push(img);
    } catch (e) {
      warn(`${(e as Error).message.split('\n')[0]}, skipped`);
    }
  }
  if (!out.length) throw new Error(`${dir}: none of the ${files.length} images is usable`);
  return out;
}

export interface Batch {
  n: number; crop: number; scale: number;
  lr: Float32Array; // [n, crop/scale, crop/scale, 3] in [0,1]
  hr: Float32Array; // [n, crop, crop, 3] in [-1,1]
}

/** Mixes a seed and a step into a 32-bit generator state. */
export function batchSeed(seed: number, step: number): number {
  let h = (seed ^ 0x9e3779b9) >>> 0;
  h = Math.imul(h ^ (step >>> 0), 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * The affine map (as a wgpu-matrix 3x3) from crop pixel coordinates to source pixel coordinates:
 * one of the 8 flips/rotations about the crop centre, then a translation to the crop's corner.
 */
export function cropTransform(x0: number, y0: number, crop: number, flip: boolean, rot: number): Float32Array {
  const c = (crop - 1) / 2;
  let m = mat3.translation([x0 + c, y0 + c]);
  m = mat3.rotate(m, (rot * Math.PI) / 2);
  if (flip) m = mat3.scale(m, [-1, 1]);
  return mat3.multiply(m, mat3.translation([-c, -c])) as Float32Array;
}

/** Cuts one augmented HR crop (8-bit RGB, crop x crop) out of an image. */
export function augmentedCrop(img: RgbImage, crop: number, rng: Rng): Uint8Array {
  const x0 = rng.int(img.width - crop + 1);
  const y0 = rng.int(img.height - crop + 1);
  const flip = rng.next() < 0.5;
  const rot = rng.int(4);
  const m = cropTransform(x0, y0, crop, flip, rot);
  const out = new Uint8Array(crop * crop * 3);
  // wgpu-matrix mat3 is column-major with 4-float columns: x' = m0 x + m4 y + m8, y' = m1 x + m5 y + m9
  for (let y = 0; y < crop; y++) {
    for (let x = 0; x < crop; x++) {
      const sx = Math.round(m[0] * x + m[4] * y + m[8]);
      const sy = Math.round(m[1] * x + m[5] * y + m[9]);
      const s = (sy * img.width + sx) * 3, d = (y * crop + x) * 3;
      out[d] = img.rgb[s]; out[d + 1] = img.rgb[s + 1]; out[d + 2] = img.rgb[s + 2];
    }
  }
  return out;
}

/** MATLAB-style bicubic downscale of an 8-bit RGB crop, rounded back to 8 bits (0..1 floats). */
export function downscale(rgb: Uint8Array, w: number, h: number, scale: number): Float32Array {
  const f = new Float32Array(rgb.length);
  for (let i = 0; i < rgb.length; i++) f[i] = rgb[i] / 255;
  return quantize(imresize(f, w, h, 3, Math.round(w / scale), Math.round(h / scale)), 8);
}

/**
 * HR margin (each side) cut around a crop that is degraded by the real-world model: the blur and
 * resampling read past the crop's edge, as they would inside a photograph; a multiple of the scale.
 */
export const DEGRADE_MARGIN = 16;

const sharpened = new WeakMap<RgbImage, Map<number, RgbImage>>();
/**
 * The image unsharp-masked with `weight` (BasicSR's USMSharp), 8-bit, made once per image and kept:
 * the mask is local, so sharpening the whole photograph and cutting crops from it gives each crop
 * what sharpening the crop would, with real context at its edges instead of reflected pixels.
 */
export function sharpenedImage(img: RgbImage, weight: number): RgbImage {
  let byWeight = sharpened.get(img);
  if (!byWeight) sharpened.set(img, (byWeight = new Map()));
  let s = byWeight.get(weight);
  if (!s) {
    const u = usmSharpen({ w: img.width, h: img.height, data: Float32Array.from(img.rgb, (v) => v / 255) }, weight);
    s = { name: img.name, width: img.width, height: img.height, rgb: Uint8Array.from(u.data, (v) => Math.round(v * 255)) };
    byWeight.set(weight, s);
  }
  return s;
}

/**
 * One training pair from an image under the real-world degradation model: a region of the crop plus
 * up to DEGRADE_MARGIN each side (less where the image is smaller), of the unsharp-masked image when
 * `usm` > 0 (the target too, as Real-ESRGAN's), degraded to LR, and both cut back to the crop; or,
 * with probability `cleanProb`, the paper's bicubic LR of the target, and with `webProb` that LR
 * saved as JPEG (a web thumbnail).
 */
export function degradedPair(img: RgbImage, crop: number, scale: number, deg: DegradationConfig, rng: Rng): { lr: Float32Array; hr: Float32Array } {
  const room = Math.floor((Math.min(img.width, img.height) - crop) / 2 / scale) * scale;
  const m = Math.max(0, Math.min(DEGRADE_MARGIN, room)), size = crop + 2 * m;
  const c = augmentedCrop(deg.usm > 0 ? sharpenedImage(img, deg.usm) : img, size, rng);
  const region: Rgb = { w: size, h: size, data: Float32Array.from(c, (v) => v / 255) };
  const hr = new Float32Array(crop * crop * 3);
  for (let y = 0; y < crop; y++) hr.set(region.data.subarray(((y + m) * size + m) * 3, ((y + m) * size + m + crop) * 3), y * crop * 3);
  const route = rng.next();
  if (route < deg.cleanProb) return { lr: bicubicLr({ w: crop, h: crop, data: hr }, scale).data, hr };
  if (route < deg.cleanProb + deg.webProb) {
    const q = deg.webJpeg[0] + rng.next() * (deg.webJpeg[1] - deg.webJpeg[0]);
    return { lr: jpegRoundTrip(bicubicLr({ w: crop, h: crop, data: hr }, scale), q).data, hr };
  }
  const lrFull = degradeRealEsrgan(region, scale, deg, rng);
  const ls = crop / scale, lm = m / scale, lsz = size / scale;
  const lr = new Float32Array(ls * ls * 3);
  for (let y = 0; y < ls; y++) lr.set(lrFull.data.subarray(((y + lm) * lsz + lm) * 3, ((y + lm) * lsz + lm + ls) * 3), y * ls * 3);
  return { lr, hr };
}

/**
 * Builds the batch of a given step: `n` distinct images (when there are enough). LR by the paper's
 * bicubic, or by the real-world model when `degradation.kind` is 'realesrgan'.
 */
export function makeBatch(images: RgbImage[], n: number, crop: number, scale: number, seed: number, step: number, degradation?: DegradationConfig): Batch {
  const rng = new Rng(batchSeed(seed, step));
  const order = images.map((_, i) => i);
  for (let i = order.length - 1; i > 0; i--) { const j = rng.int(i + 1); [order[i], order[j]] = [order[j], order[i]]; }
  const lrSize = crop / scale;
  const lr = new Float32Array(n * lrSize * lrSize * 3);
  const hr = new Float32Array(n * crop * crop * 3);
  const real = degradation?.kind === 'realesrgan';
  for (let k = 0; k < n; k++) {
    const img = images[order[k % order.length]];
    if (real) {
      const p = degradedPair(img, crop, scale, degradation, rng);
      for (let i = 0; i < p.hr.length; i++) hr[k * p.hr.length + i] = p.hr[i] * 2 - 1;
      lr.set(p.lr, k * p.lr.length);
      continue;
    }
    const c = augmentedCrop(img, crop, rng);
    for (let i = 0; i < c.length; i++) hr[k * c.length + i] = (c[i] / 255) * 2 - 1;
    lr.set(downscale(c, crop, crop, scale), k * lrSize * lrSize * 3);
  }
  return { n, crop, scale, lr, hr };
}
