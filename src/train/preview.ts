// Preview grids: one row per sample: LR (nearest-upscaled) | bicubic | SR | HR.
import { encodePng } from '../image/png.js';
import { imresize, upscaleNearest } from '../image/resize.js';
import { writeAtomic } from '../node/state.js';
import type { Batch } from './data.js';

export async function writePreview(path: string, b: Batch, sr: Float32Array): Promise<void> {
  const c = b.crop, s = b.scale, l = c / s;
  const W = 4 * c, H = b.n * c;
  const grid = new Float32Array(W * H * 3);
  const put = (panel: number, row: number, img: Float32Array, map: (v: number) => number) => {
    for (let y = 0; y < c; y++) for (let x = 0; x < c; x++) for (let k = 0; k < 3; k++) {
      grid[((row * c + y) * W + panel * c + x) * 3 + k] = map(img[(y * c + x) * 3 + k]);
    }
  };
  const fromTanh = (v: number) => Math.min(1, Math.max(0, (v + 1) / 2));
  const clamp01 = (v: number) => Math.min(1, Math.max(0, v));
  for (let n = 0; n < b.n; n++) {
    const lr = b.lr.subarray(n * l * l * 3, (n + 1) * l * l * 3);
    put(0, n, upscaleNearest(lr, l, l, 3, s), clamp01);
    put(1, n, imresize(lr, l, l, 3, c, c), clamp01);
    put(2, n, sr.subarray(n * c * c * 3, (n + 1) * c * c * 3), fromTanh);
    put(3, n, b.hr.subarray(n * c * c * 3, (n + 1) * c * c * 3), fromTanh);
  }
  await writeAtomic(path, encodePng({ width: W, height: H, channels: 3, bitDepth: 8, data: grid }));
}
