// The paper's evaluation protocol on a folder of HR images: mod-crop to the scale, bicubic x1/scale
// (MATLAB-style, rounded to 8 bits) as the LR input, then PSNR/SSIM on Y with a `scale`-pixel
// border removed, plus RGB PSNR; bicubic upscaling of the same LR is the baseline row.
// Two figures for perceptual models beside them: texture energy (mean gradient magnitude of Y) of
// the result divided by the HR image's, and, given a VGG19, the distance between VGG features of
// the result and of the HR image (mean squared difference / 12.75^2, the paper's content-loss
// scale), over the same border-shaved image. And the grid share: how much of the result's fine
// detail is a pattern repeating every 4 pixels (a sub-pixel upsampler's dot grid, which the texture
// figure would count as texture).
import { cropImage, makeImage, quantize, toRGB, type Image } from '../image/pixels.js';
import { readImage } from '../node/image-files.js';
import { imresize } from '../image/resize.js';
import { blockiness, evaluatePair, gridShare, textureEnergy } from '../image/metrics.js';
import { evalInput, type EvalCase } from '../srgan/degrade.js';
import { gpu } from '../gpu/gpu.js';
import { fromArray, noGrad, tidy } from '../nn/tensor.js';
import * as ops from '../nn/ops.js';
import type { AnyGenerator } from '../srgan/generator.js';
import type { VGG19Features } from '../srgan/vgg19.js';
import { FoldedGenerator, upscaleTiled, type TileOptions } from '../srgan/inference.js';
import { downscale, toBytes } from './data.js';
import { listImages } from '../node/image-files.js';
import { basename } from 'node:path';

export interface Scores {
  psnrY: number; ssimY: number; psnrRGB: number;
  /** Texture energy of the result divided by the HR image's (1 = as much texture as HR). */
  texture: number;
  /** Share of the fine detail (high-pass energy) that repeats every 4 pixels: 1 a pure grid, 0.01-0.05 bicubic and 0.04-0.08 HR on photographs (NaN: image too small). */
  grid: number;
  /** Steps across the 32-pixel grid (an LR's 8x8 JPEG blocks at x4) over those across other LR pixel edges: 1 none, above 1 blocks show. */
  block: number;
  /** VGG feature distance to HR (with a VGG19 only). */
  vgg?: number;
}
/** hrGrid: the HR image's own grid share, the level a result with HR's detail would show (0.04-0.08 on photographs). */
export interface EvalRow { name: string; width: number; height: number; model: Scores; bicubic: Scores; hrGrid: number }
/** What to evaluate beyond the paper's protocol. */
export interface EvalOptions {
  /** The LR inputs (default: the paper's bicubic). */
  degrade?: EvalCase;
  /** Called with each image's LR input (0..1 RGB, 8-bit levels), e.g. to save it for another upscaler. */
  saveInput?: (file: string, lr: Float32Array, w: number, h: number) => Promise<void>;
  /** Scores these SR results (0..1 RGB, the HR image's size) in place of the model's: another upscaler's outputs. */
  results?: (file: string, w: number, h: number) => Promise<Float32Array>;
}

export interface EvalResult { rows: EvalRow[]; mean: Scores; bicubicMean: Scores; hrGridMean: number; vggLayer?: string; degrade?: EvalCase }

/** Largest side of the crops the VGG distance is computed on (bounds the activations' memory). */
const VGG_CROP = 512;

/**
 * [start, size] of the crops along an axis of n pixels: VGG_CROP each, the last one the rest, except
 * that a rest under `min` pixels (too small to survive the max-pools) joins the crop before it.
 */
export function vggCrops(n: number, min: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (let s = 0; s < n; s += VGG_CROP) {
    const rest = n - s - VGG_CROP;
    if (rest > 0 && rest < min) { out.push([s, n - s]); break; }
    out.push([s, Math.min(VGG_CROP, n - s)]);
  }
  return out;
}

/**
 * Mean squared difference of VGG features of a and b (RGB in [0,1], w x h), / 12.75^2, over crops of
 * at most VGG_CROP pixels a side (each crop's features padded as the whole image's would not be:
 * the same for a and b, so the distance stays comparable between models; see vggCrops).
 */
export async function vggDistance(vgg: VGG19Features, a: Float32Array, b: Float32Array, w: number, h: number): Promise<number> {
  if (w < vgg.minSide || h < vgg.minSide) {
    throw new Error(`${w}x${h} is too small for the ${vgg.layer.toUpperCase()} distance (at least ${vgg.minSide} pixels a side after the border)`);
  }
  let sum = 0, count = 0;
  for (const [y0, ch] of vggCrops(h, vgg.minSide)) for (const [x0, cw] of vggCrops(w, vgg.minSide)) {
    const crop = (src: Float32Array) => {
      const out = new Float32Array(cw * ch * 3);
      for (let y = 0; y < ch; y++) for (let i = 0; i < cw * 3; i++) out[y * cw * 3 + i] = src[((y0 + y) * w + x0) * 3 + i] * 2 - 1;
      return out;
    };
    const d = noGrad(() => tidy(() => {
      const fa = vgg.forward(fromArray(crop(a), [1, ch, cw, 3]));
      const fb = vgg.forward(fromArray(crop(b), [1, ch, cw, 3]));
      return ops.mseLoss(fa, fb);
    }));
    const n = cw * ch;
    sum += (await d.item()) * n;
    count += n;
    d.dispose();
  }
  await gpu().sync();
  return sum / count / 12.75 ** 2;
}

/** The image without a `border`-pixel frame, for the VGG distance. */
const shaved = (img: Image, border: number): Image =>
  cropImage(img, border, border, img.width - 2 * border, img.height - 2 * border);

/**
 * `bicubicCache`: the bicubic rows by file, filled on the first call and reused after (the baseline
 * never changes between a training run's validations; with a VGG19 it costs as much as the model's row).
 */
export async function evaluateFolder(G: AnyGenerator | FoldedGenerator | null, dir: string, scale: number, tiles: TileOptions = {},
  vgg?: VGG19Features, bicubicCache?: Map<string, { bicubic: Scores; hrGrid: number }>, opts: EvalOptions = {}): Promise<EvalResult> {
  const degrade = opts.degrade ?? 'bicubic';
  if (degrade !== 'bicubic') bicubicCache = undefined; // the cache holds the paper's inputs' rows
  const files = await listImages(dir);
  if (!files.length) throw new Error(`${dir}: no images to evaluate`);
  if (!G && !opts.results) throw new Error('evaluateFolder: a generator or results to score');
  const folded = !G || G instanceof FoldedGenerator ? G : await FoldedGenerator.fromGenerator(G);
  const rows: EvalRow[] = [];
  try {
    for (const f of files) {
      const img = await readImage(f);
      const w = img.width - (img.width % scale), h = img.height - (img.height % scale);
      const { rgb } = toRGB(cropImage(img, 0, 0, w, h)); // mod-crop; gray replicated, alpha dropped
      const lw = w / scale, lh = h / scale;
      const lr = evalInput(degrade, { w, h, data: rgb }, { w: lw, h: lh, data: downscale(toBytes(rgb), w, h, scale) }, scale, basename(f)).data;
      await opts.saveInput?.(f, lr, lw, lh);
      let sr: Float32Array;
      if (opts.results) sr = await opts.results(f, w, h);
      else {
        sr = await upscaleTiled(folded!, lr, lw, lh, tiles);
        for (let i = 0; i < sr.length; i++) sr[i] = (sr[i] + 1) / 2;
      }
      const hr = makeImage(w, h, 3, 8, rgb);
      const hrTexture = textureEnergy(hr, scale);
      const score = async (out: Image): Promise<Scores> => {
        const s: Scores = { ...evaluatePair(out, hr, scale), texture: textureEnergy(out, scale) / hrTexture, grid: gridShare(out, scale), block: blockiness(out, scale) };
        if (vgg) {
          const a = shaved(out, scale), b = shaved(hr, scale);
          s.vgg = await vggDistance(vgg, a.data, b.data, a.width, a.height).catch((e: Error) => { throw new Error(`${f}: ${e.message}`); });
        }
        return s;
      };
      let base = bicubicCache?.get(f);
      if (!base || (base.bicubic.vgg !== undefined) !== !!vgg) { // a row made without the VGG (or with) is no use now
        const bic = imresize(lr, lw, lh, 3, w, h);
        base = { bicubic: await score(makeImage(w, h, 3, 8, quantize(bic, 8))), hrGrid: gridShare(hr, scale) };
        bicubicCache?.set(f, base);
      }
      // quantised to 8 bits, as a saved image would be
      rows.push({ name: basename(f), width: w, height: h, model: await score(makeImage(w, h, 3, 8, quantize(sr, 8))), ...base });
    }
  } finally {
    if (folded && folded !== G) folded.dispose();
  }
  const mean = (k: 'model' | 'bicubic', f: keyof Scores) => rows.reduce((s, r) => s + (r[k][f] ?? NaN), 0) / rows.length;
  // the grid share over the images large enough to have one
  const meanOf = (v: number[]) => {
    v = v.filter((g) => !Number.isNaN(g));
    return v.length ? v.reduce((a, b) => a + b, 0) / v.length : NaN;
  };
  const gridMean = (k: 'model' | 'bicubic') => meanOf(rows.map((r) => r[k].grid));
  const avg = (k: 'model' | 'bicubic'): Scores => ({
    psnrY: mean(k, 'psnrY'), ssimY: mean(k, 'ssimY'), psnrRGB: mean(k, 'psnrRGB'), texture: mean(k, 'texture'), grid: gridMean(k), block: mean(k, 'block'),
    ...(vgg ? { vgg: mean(k, 'vgg') } : {}),
  });
  return { rows, mean: avg('model'), bicubicMean: avg('bicubic'), hrGridMean: meanOf(rows.map((r) => r.hrGrid)), ...(vgg ? { vggLayer: vgg.layer } : {}), ...(degrade !== 'bicubic' ? { degrade } : {}) };
}

/** VGG distances: one decimal at relu3_4's scale (hundreds to thousands), 4 significant digits at relu5_4's (about 0.1). */
const fmtVgg = (x: number) => (Math.abs(x) >= 100 ? x.toFixed(1) : x.toPrecision(4));

export function formatEvalTable(r: EvalResult, title = ''): string {
  const v = r.vggLayer !== undefined;
  const f = (s: Scores) => `${s.psnrY.toFixed(2).padStart(6)} ${s.ssimY.toFixed(4)} ${s.psnrRGB.toFixed(2).padStart(6)} ${s.texture.toFixed(2)} ${s.grid.toFixed(2)} ${s.block.toFixed(2)}` +
    (v ? ` ${fmtVgg(s.vgg!)}` : '');
  const cols = `Y-PSNR / Y-SSIM / RGB-PSNR / texture / grid / block${v ? ` / ${r.vggLayer!.toUpperCase()} dist` : ''}`;
  const lines = [
    title,
    r.degrade ? `input: ${r.degrade}` : '',
    `| image | size | model ${cols} | bicubic ${cols} | HR grid |`,
    `|---|---|---|---|---|`,
    ...r.rows.map((x) => `| ${x.name} | ${x.width}x${x.height} | ${f(x.model)} | ${f(x.bicubic)} | ${x.hrGrid.toFixed(2)} |`),
    `| **mean** | ${r.rows.length} images | ${f(r.mean)} | ${f(r.bicubicMean)} | ${r.hrGridMean.toFixed(2)} |`,
  ];
  return lines.filter((l) => l !== '').join('\n');
}
