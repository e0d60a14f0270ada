// The paper's evaluation protocol on a folder of HR images: mod-crop to the scale, bicubic x1/scale
// (MATLAB-style, rounded to 8 bits) as the LR input, then PSNR/SSIM on Y with a `scale`-pixel
// border removed, plus RGB PSNR; bicubic upscaling of the same LR is the baseline row.
import { readImage, type Image } from '../image/image.js';
import { imresize } from '../image/resize.js';
import { evaluatePair } from '../image/metrics.js';
import { Generator } from './generator.js';
import { FoldedGenerator, upscaleTiled, type TileOptions } from './inference.js';
import { listImages, downscale } from './data.js';
import { basename } from 'node:path';

export interface Scores { psnrY: number; ssimY: number; psnrRGB: number }
export interface EvalRow { name: string; width: number; height: number; model: Scores; bicubic: Scores }
export interface EvalResult { rows: EvalRow[]; mean: Scores; bicubicMean: Scores }

function rgbImage(data: Float32Array, width: number, height: number): Image {
  return { width, height, channels: 3, bitDepth: 8, data };
}

/** Quantises to 8 bits as a saved image would be. */
function to8bit(a: Float32Array): Float32Array {
  const o = new Float32Array(a.length);
  for (let i = 0; i < a.length; i++) o[i] = Math.round(Math.min(1, Math.max(0, a[i])) * 255) / 255;
  return o;
}

export async function evaluateFolder(G: Generator | FoldedGenerator, dir: string, scale: number, tiles: TileOptions = {}): Promise<EvalResult> {
  const files = await listImages(dir);
  if (!files.length) throw new Error(`${dir}: no images to evaluate`);
  const folded = G instanceof FoldedGenerator ? G : await FoldedGenerator.fromGenerator(G);
  const rows: EvalRow[] = [];
  try {
    for (const f of files) {
      const img = await readImage(f);
      const w = img.width - (img.width % scale), h = img.height - (img.height % scale);
      const rgb = new Float32Array(w * h * 3);
      for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let c = 0; c < 3; c++) {
        const ch = img.channels >= 3 ? c : 0;
        rgb[(y * w + x) * 3 + c] = img.data[(y * img.width + x) * img.channels + ch];
      }
      const rgb8 = new Uint8Array(rgb.length);
      for (let i = 0; i < rgb.length; i++) rgb8[i] = Math.round(rgb[i] * 255);
      const lr = downscale(rgb8, w, h, scale);
      const lw = w / scale, lh = h / scale;
      const sr = await upscaleTiled(folded, lr, lw, lh, tiles);
      for (let i = 0; i < sr.length; i++) sr[i] = (sr[i] + 1) / 2;
      const bic = imresize(lr, lw, lh, 3, w, h);
      const hr = rgbImage(rgb, w, h);
      rows.push({
        name: basename(f), width: w, height: h,
        model: evaluatePair(rgbImage(to8bit(sr), w, h), hr, scale),
        bicubic: evaluatePair(rgbImage(to8bit(bic), w, h), hr, scale),
      });
    }
  } finally {
    if (!(G instanceof FoldedGenerator)) folded.dispose();
  }
  const avg = (k: 'model' | 'bicubic'): Scores => ({
    psnrY: rows.reduce((s, r) => s + r[k].psnrY, 0) / rows.length,
    ssimY: rows.reduce((s, r) => s + r[k].ssimY, 0) / rows.length,
    psnrRGB: rows.reduce((s, r) => s + r[k].psnrRGB, 0) / rows.length,
  });
  return { rows, mean: avg('model'), bicubicMean: avg('bicubic') };
}

export function formatEvalTable(r: EvalResult, title = ''): string {
  const f = (s: Scores) => `${s.psnrY.toFixed(2).padStart(6)} ${s.ssimY.toFixed(4)} ${s.psnrRGB.toFixed(2).padStart(6)}`;
  const lines = [
    title,
    `| image | size | model Y-PSNR / Y-SSIM / RGB-PSNR | bicubic Y-PSNR / Y-SSIM / RGB-PSNR |`,
    `|---|---|---|---|`,
    ...r.rows.map((x) => `| ${x.name} | ${x.width}x${x.height} | ${f(x.model)} | ${f(x.bicubic)} |`),
    `| **mean** | ${r.rows.length} images | ${f(r.mean)} | ${f(r.bicubicMean)} |`,
  ];
  return lines.filter((l) => l !== '').join('\n');
}
