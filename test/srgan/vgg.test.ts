// VGG19 loaded from ../shared/weights gives, on a fixed image, the same conv1_2 and conv5_4 features
// as a float64 CPU reference computed from the same file (plain loops, Keras conventions).
import { describe, it, expect, beforeAll } from 'vitest';
import { fileURLToPath } from 'node:url';
import { testGpu, expectClose } from '../helpers.js';
import { VGG19Features, VGG19_CONVS } from '../../src/srgan/vgg19.js';
import { vggCrops, vggDistance } from '../../src/train/evaluate.js';
import * as ops from '../../src/nn/ops.js';
import { loadTfjsModel } from '../../src/node/tfjs.js';
import { readImage } from '../../src/node/image-files.js';
import { fromArray, noGrad, tidy } from '../../src/nn/tensor.js';
import { serializeSafetensors, fromFloat32, type StTensor } from '../../src/nn/safetensors.js';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { uniform } from '../helpers.js';
import { loadVgg19 } from '../../src/node/vgg-files.js';

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

/**
 * Float64 torchvision-convention VGG19 up to conv2_2 (after its ReLU): RGB in [0,1] normalised by
 * ImageNet mean/std, weights [out, in, kh, kw] read straight from the file's layout.
 */
function torchRef(img: Float64Array, H: number, W: number, w: Map<number, { weight: Float32Array; bias: Float32Array }>): Float64Array {
  const mean = [0.485, 0.456, 0.406], std = [0.229, 0.224, 0.225];
  let C = 3;
  let x = new Float64Array(H * W * 3);
  for (let i = 0; i < H * W; i++) for (let c = 0; c < 3; c++) x[i * 3 + c] = ((img[i * 3 + c] + 1) / 2 - mean[c]) / std[c];
  for (const idx of [0, 2, 4, 5, 7]) {
    if (idx === 4) { // features.4 is the first max-pool
      const h2 = Math.floor(H / 2), w2 = Math.floor(W / 2), y = new Float64Array(h2 * w2 * C);
      for (let i = 0; i < h2; i++) for (let j = 0; j < w2; j++) for (let c = 0; c < C; c++) {
        y[(i * w2 + j) * C + c] = Math.max(x[((2 * i) * W + 2 * j) * C + c], x[((2 * i) * W + 2 * j + 1) * C + c],
          x[((2 * i + 1) * W + 2 * j) * C + c], x[((2 * i + 1) * W + 2 * j + 1) * C + c]);
      }
      x = y; H = h2; W = w2;
      continue;
    }
    const { weight: K, bias: B } = w.get(idx)!;
    const cout = B.length;
    const y = new Float64Array(H * W * cout);
    for (let i = 0; i < H; i++) for (let j = 0; j < W; j++) for (let o = 0; o < cout; o++) {
      let s = B[o];
      for (let c = 0; c < C; c++) for (let kh = 0; kh < 3; kh++) for (let kw = 0; kw < 3; kw++) {
        const ii = i + kh - 1, jj = j + kw - 1;
        if (ii < 0 || jj < 0 || ii >= H || jj >= W) continue;
        s += x[(ii * W + jj) * C + c] * K[((o * C + c) * 3 + kh) * 3 + kw];
      }
      y[(i * W + j) * cout + o] = Math.max(0, s);
    }
    x = y; C = cout;
  }
  return x;
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
    await loadVgg19(vgg, U8);
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

  it("'vgg34' ends at relu3_4: its output is the float64 reference's block3_conv4 (a quarter of the size, 256 channels)", async () => {
    const H = 17, W = 22;
    const crop = uniform(H * W * 3, 77);
    const vgg = new VGG19Features('vgg34');
    await loadVgg19(vgg, U8);
    const weights = (await loadTfjsModel(U8)).tensors;
    const t = noGrad(() => tidy(() => vgg.forward(fromArray(crop, [1, H, W, 3]))));
    expect(t.shape).toEqual([1, 4, 5, 256]);
    const got = await t.data();
    t.dispose();
    vgg.dispose();
    const want = vggRef(crop, H, W, weights, 'block3_conv4');
    const peak = want.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    expect(peak).toBeGreaterThan(0);
    expectClose(got, want, 1e-3, 1e-4 * peak, 'block3_conv4');
  });

  it('loads torchvision-named safetensors (OIHW, RGB with mean/std) and matches a float64 reference at conv2_2', async () => {
    // random He-scaled weights in torchvision's layout, one layer stored as F16
    const layers: Array<[number, number, number]> = [[0, 3, 64], [2, 64, 64], [5, 64, 128], [7, 128, 128]];
    let seed = 1234;
    const byIdx = new Map<number, { weight: Float32Array; bias: Float32Array }>();
    const entries: Array<[string, StTensor]> = [];
    for (const [idx, cin, cout] of layers) {
      const weight = Float32Array.from(uniform(cout * cin * 9, seed++), (v) => v * Math.sqrt(6 / (cin * 9)));
      const bias = Float32Array.from(uniform(cout, seed++), (v) => 0.1 * v);
      const dtype = idx === 2 ? 'F16' : 'F32';
      const st = fromFloat32(weight, [cout, cin, 3, 3], dtype);
      // the reference sees exactly the stored values (F16 rounding included)
      byIdx.set(idx, { weight: dtype === 'F16' ? Float32Array.from(weight, (v) => Math.fround(f16Round(v))) : weight, bias });
      entries.push([`features.${idx}.weight`, st], [`features.${idx}.bias`, fromFloat32(bias, [cout])]);
    }
    const dir = mkdtempSync(join(tmpdir(), 'srgan-vggst-'));
    const file = join(dir, 'vgg19.safetensors');
    writeFileSync(file, serializeSafetensors(entries));
    const H = 13, W = 10;
    const img = uniform(H * W * 3, seed++);
    const vgg = new VGG19Features('vgg22');
    await loadVgg19(vgg, file);
    const t = noGrad(() => tidy(() => vgg.forward(fromArray(img, [1, H, W, 3]))));
    const got = await t.data();
    t.dispose();
    vgg.dispose();
    const want = torchRef(img, H, W, byIdx);
    expect(got.length).toBe(6 * 5 * 128);
    const peak = want.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    expect(peak).toBeGreaterThan(0);
    expectClose(got, want, 1e-3, 1e-4 * peak, 'conv2_2');
    // a file without one of the needed tensors is a clear error, not a silently random layer
    writeFileSync(file, serializeSafetensors(entries.filter(([n]) => n !== 'features.7.bias')));
    const v2 = new VGG19Features('vgg22');
    await expect(loadVgg19(v2, file)).rejects.toThrow(/incomplete: no features\.7\.bias/);
    v2.dispose();
  });
});

describe('VGG feature distance (evaluate.ts)', () => {
  it('crops at 512 pixels, and a rest too small for the max-pools joins the crop before it', () => {
    expect(vggCrops(100, 16)).toEqual([[0, 100]]);
    expect(vggCrops(512, 16)).toEqual([[0, 512]]);
    expect(vggCrops(520, 16)).toEqual([[0, 520]]);
    expect(vggCrops(520, 4)).toEqual([[0, 512], [512, 8]]);
    expect(vggCrops(530, 16)).toEqual([[0, 512], [512, 18]]);
    expect(vggCrops(1030, 16)).toEqual([[0, 512], [512, 518]]);
    for (const [layer, side] of [['vgg54', 16], ['vgg34', 4], ['vgg22', 2]] as const) {
      const v = new VGG19Features(layer);
      expect(v.minSide).toBe(side);
      v.dispose();
    }
  });

  it('on a 520x18 image at VGG54 (an 8-pixel rest) equals the distance over one 520-wide crop; under 16 pixels a side, a clear error', async () => {
    const vgg = new VGG19Features('vgg54'); // random weights: the crop logic is what is tested
    const w = 520, h = 18;
    const a = Float32Array.from(uniform(w * h * 3, 5, 0, 1)), b = Float32Array.from(uniform(w * h * 3, 6, 0, 1));
    const got = await vggDistance(vgg, a, b, w, h);
    const t = tidy(() => ops.mseLoss(vgg.forward(fromArray(Float32Array.from(a, (v) => 2 * v - 1), [1, h, w, 3])),
      vgg.forward(fromArray(Float32Array.from(b, (v) => 2 * v - 1), [1, h, w, 3]))));
    const want = (await t.item()) / 12.75 ** 2;
    t.dispose();
    expect(want).toBeGreaterThan(0);
    expectClose([got], [want], 1e-5, 0, 'one crop');
    await expect(vggDistance(vgg, a.subarray(0, 15 * 18 * 3), b.subarray(0, 15 * 18 * 3), 15, 18)).rejects.toThrow(/15x18 is too small for the VGG54 distance \(at least 16 pixels/);
    vgg.dispose();
  });
});

/** Rounds to the nearest float16 value (round half to even), independently of the product's encoder. */
function f16Round(v: number): number {
  if (v === 0 || !Number.isFinite(v)) return v;
  const e = Math.max(Math.floor(Math.log2(Math.abs(v))), -14);
  const ulp = 2 ** (e - 10);
  const q = v / ulp, fl = Math.floor(q), d = q - fl;
  const n = d > 0.5 || (d === 0.5 && fl % 2 !== 0) ? fl + 1 : fl;
  return n * ulp;
}
