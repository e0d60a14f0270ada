// VGG19 loaded from ../shared/weights gives, on a fixed image, the same conv1_2 and conv5_4 features
// as a float64 CPU reference computed from the same file (plain loops, Keras conventions).
import { describe, it, expect, beforeAll } from 'vitest';
import { fileURLToPath } from 'node:url';
import { testGpu, expectClose } from '../helpers.js';
import { VGG19Features, VGG19_CONVS } from '../../src/srgan/vgg19.js';
import { loadTfjsModel } from '../../src/srgan/tfjs.js';
import { readImage } from '../../src/image/image.js';
import { fromArray, noGrad, tidy } from '../../src/nn/tensor.js';

const U8 = fileURLToPath(new URL('../../../shared/weights/vgg19_tfjs_uint8/model.json', import.meta.url));
const BABY = fileURLToPath(new URL('../../../shared/data/Set5/baby.png', import.meta.url));

/** Float64 VGG19 up to the named layer on an HWC image in [-1,1] (Keras: BGR, 0..255, mean-subtracted). */
function vggRef(img: Float64Array, H: number, W: number, w: Map<string, { shape: number[]; data: Float32Array }>, upTo: string): Float64Array {
  const mean = [103.939, 116.779, 123.68];
  let C = 3;
  let x = new Float64Array(H * W * 3);
  for (let i = 0; i < H * W; i++) for (let c = 0; c < 3; c++) x[i * 3 + c] = (img[i * 3 + (2 - c)] + 1) * 127.5 - mean[c];
  for (const [b, k, cout] of VGG19_CONVS) {
    if (b > 1 && k === 1) { // 2x2 max-pool
      const h2 = Math.floor(H / 2), w2 = Math.floor(W / 2), y = new Float64Array(h2 * w2 * C);
      for (let i = 0; i < h2; i++) for (let j = 0; j < w2; j++) for (let c = 0; c < C; c++) {
        y[(i * w2 + j) * C + c] = Math.max(x[((2 * i) * W + 2 * j) * C + c], x[((2 * i) * W + 2 * j + 1) * C + c],
          x[((2 * i + 1) * W + 2 * j) * C + c], x[((2 * i + 1) * W + 2 * j + 1) * C + c]);
      }
      x = y; H = h2; W = w2;
    }
    const name = `block${b}_conv${k}`;
    const K = w.get(`${name}/kernel`)!.data, B = w.get(`${name}/bias`)!.data;
    const y = new Float64Array(H * W * cout);
    for (let i = 0; i < H; i++) for (let j = 0; j < W; j++) for (let o = 0; o < cout; o++) {
      let s = B[o];
      for (let di = -1; di <= 1; di++) for (let dj = -1; dj <= 1; dj++) {
        const ii = i + di, jj = j + dj;
        if (ii < 0 || jj < 0 || ii >= H || jj >= W) continue;
        for (let c = 0; c < C; c++) s += x[(ii * W + jj) * C + c] * K[(((di + 1) * 3 + dj + 1) * C + c) * cout + o];
      }
      y[(i * W + j) * cout + o] = Math.max(0, s);
    }
    x = y; C = cout;
    if (name === upTo) return x;
  }
  throw new Error(upTo);
}

beforeAll(async () => { await testGpu(); });

describe('VGG19 feature extractor', () => {
  it('matches a float64 reference at conv1_2 and conv5_4 on a crop of Set5 baby', async () => {
    const img = await readImage(BABY);
    const H = 18, W = 20, x0 = 200, y0 = 150;
    const crop = new Float64Array(H * W * 3);
    for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) for (let c = 0; c < 3; c++) {
      crop[(y * W + x) * 3 + c] = img.data[((y0 + y) * img.width + x0 + x) * img.channels + c] * 2 - 1;
    }
    const vgg = new VGG19Features('vgg54');
    await vgg.load(U8);
    const weights = (await loadTfjsModel(U8)).tensors;
    for (const layer of ['block1_conv2', 'block5_conv4']) {
      const t = noGrad(() => tidy(() => vgg.forward(fromArray(crop, [1, H, W, 3]), layer)));
      const got = await t.data();
      t.dispose();
      const want = vggRef(crop, H, W, weights, layer);
      const peak = want.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      expect(peak).toBeGreaterThan(0);
      expectClose(got, want, 1e-3, 1e-4 * peak, layer);
    }
    vgg.dispose();
  });
});
