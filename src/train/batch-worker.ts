// The worker thread behind BatchSource: holds the training images and builds the batch of each step
// it is asked for (makeBatch, so the same (seed, step) gives the same batch as in the main thread).
import { parentPort } from 'node:worker_threads';
import { makeBatch, type RgbImage } from './data.js';
import type { BatchParams } from './prefetch.js';

let images: RgbImage[] = [];
let params: BatchParams | null = null;
parentPort!.on('message', (m: { images?: RgbImage[]; params?: BatchParams; step?: number }) => {
  if (m.images) { images = m.images; params = m.params!; return; }
  const p = params!, step = m.step!;
  const t = performance.now();
  const b = makeBatch(images, p.n, p.crop, p.scale, p.seed, step, p.degradation);
  parentPort!.postMessage({ step, batch: b, ms: performance.now() - t }, [b.lr.buffer as ArrayBuffer, b.hr.buffer as ArrayBuffer]);
});
