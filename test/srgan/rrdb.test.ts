// ESRGAN's RRDBNet against PyTorch: a random-weight network written and saved by PyTorch as BasicSR
// saves it (test/fixtures/make_rrdb.py), loaded from the .pth without Python. Whole-image output
// equals PyTorch's; tiles, whose context cannot cover this network's receptive field, stay within a
// stated distance of it.
import { describe, it, expect, beforeAll } from 'vitest';
import { readFileSync, writeFileSync, mkdtempSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { testGpu, rng } from '../helpers.js';
import { loadFoldedGenerator, readGeneratorHeader, readGeneratorFile } from '../../src/node/model.js';
import { upscaleTiled } from '../../src/srgan/inference.js';
import { RRDB_TILE_CONTEXT } from '../../src/srgan/rrdb.js';
import { generatorParamCount, generatorMacsPerLrPixel, generatorTensorShapes, makeGenerator } from '../../src/srgan/generator.js';
import { checkGeneratorTensors, inferGeneratorConfig } from '../../src/srgan/model.js';
import { resolveConfig } from '../../src/srgan/config.js';
import { loadTensors } from '../../src/nn/state.js';
import { fromArray, noGrad, tidy } from '../../src/nn/tensor.js';
import { l1Steps } from './learns.js';

const dir = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures');
const pth = join(dir, 'rrdb_x4.pth');
const io = JSON.parse(readFileSync(join(dir, 'rrdb_x4_io.json'), 'utf8')) as
  { config: object; input_nhwc: number[]; output_nhwc: number[]; width: number; height: number };

beforeAll(async () => { await testGpu(); });

/** Tiles against the whole image, in 8-bit levels: inexact (several tiles), under a level, 0.05 on average. */
function expectTilesNearWhole(whole: Float32Array, tiled: Float32Array): void {
  let worst = 0, sum = 0;
  for (let i = 0; i < whole.length; i++) { const d = Math.abs(whole[i] - tiled[i]) * 127.5; worst = Math.max(worst, d); sum += d; }
  expect(worst).toBeGreaterThan(0); // inexact, as stated
  expect(worst).toBeLessThan(1);
  expect(sum / whole.length).toBeLessThan(0.05);
}

describe("ESRGAN's RRDBNet against PyTorch", () => {
  it("reads its configuration off BasicSR's names and shapes", async () => {
    expect((await readGeneratorHeader(pth)).config).toEqual(io.config);
    const { tensors } = await readGeneratorFile(pth);
    expect([...tensors.keys()].sort()).toEqual([...generatorTensorShapes(io.config as never).keys()].sort());
    expect(generatorParamCount(io.config as never)).toBe([...tensors.values()].reduce((a, t) => a + t.shape.reduce((x, y) => x * y, 1), 0));
    // dense convs 8->4, 12->4, 16->4, 20->4, 24->8 per dense block; 3 per RRDB, 2 RRDBs
    const dense = 8 * 4 + 12 * 4 + 16 * 4 + 20 * 4 + 24 * 8;
    expect(generatorMacsPerLrPixel(io.config as never).body).toBe(9 * (3 * 8 + 2 * 3 * dense + 64));
  });

  it("equals PyTorch's output at every pixel (the concatenations never built: each piece transformed once)", async () => {
    const F = await loadFoldedGenerator(pth);
    try {
      const out = await upscaleTiled(F, Float32Array.from(io.input_nhwc), io.width, io.height);
      let worst = 0;
      for (let i = 0; i < out.length; i++) worst = Math.max(worst, Math.abs((out[i] + 1) / 2 - io.output_nhwc[i]));
      expect(worst).toBeLessThan(2e-5);
    } finally { F.dispose(); }
  });

  it(`tiles with ${RRDB_TILE_CONTEXT} pixels of context: no tile edge shows (under a level everywhere) though its receptive field is wider`, async () => {
    const F = await loadFoldedGenerator(pth);
    try {
      expect(F.radius).toBe(RRDB_TILE_CONTEXT + 2);
      // a smooth photograph-like image, larger than a tile
      const r = rng(5), w = 90, h = 70, x = new Float32Array(w * h * 3);
      for (let y = 0; y < h; y++) for (let i = 0; i < w; i++) for (let c = 0; c < 3; c++) {
        x[(y * w + i) * 3 + c] = 0.5 + 0.3 * Math.sin(i * 0.11 * (c + 1) + y * 0.07) + 0.05 * r();
      }
      const whole = await upscaleTiled(F, x, w, h);
      const tiled = await upscaleTiled(F, x, w, h, { tile: 48 });
      expectTilesNearWhole(whole, tiled);
    } finally { F.dispose(); }
  });

  it("trains: the training graph (real concatenations) with the fixture's weights gives PyTorch's output, and a few steps lower its loss", async () => {
    const { config, tensors } = await readGeneratorFile(pth);
    const G = makeGenerator(config);
    loadTensors(G.stateEntries(), tensors, pth);
    const y = noGrad(() => tidy(() => G.forward(fromArray(Float32Array.from(io.input_nhwc), [1, io.height, io.width, 3]))));
    const out = await y.data();
    y.dispose();
    let worst = 0;
    for (let i = 0; i < out.length; i++) worst = Math.max(worst, Math.abs((out[i] + 1) / 2 - io.output_nhwc[i]));
    expect(worst).toBeLessThan(2e-5);
    const losses = await l1Steps(G, 6, 25, 8, (rgb, c) => 1.6 * rgb[c] - 0.8);
    expect(losses[24]).toBeLessThan(losses[0] * 0.8);
    G.dispose();
  });

  it('refuses what it does not support, in one line naming the problem', () => {
    expect(() => resolveConfig({ generator: { arch: 'rrdb', upsample: 'nearest' } })).toThrow(/^config: generator arch 'rrdb' has its own tail and no BN: upsample, norm and skip do not apply$/);
    expect(() => resolveConfig({ generator: { growth: 16 } })).toThrow(/generator growth is RRDBNet's \(arch 'rrdb'\) alone/);
    expect(resolveConfig({ generator: { arch: 'rrdb', channels: 8, blocks: 1, growth: 4 } }).generator).toMatchObject({ arch: 'rrdb', growth: 4 });
    const shaped = (entries: Array<[string, number[]]>) => new Map(entries.map(([k, shape]) => [k, { dtype: 'F32' as const, shape }]));
    expect(() => inferGeneratorConfig(shaped([['conv_first.weight', [64, 48, 3, 3]]]), 'x1.pth')).toThrow(/^x1\.pth: conv_first takes 48 channels: the x1 RRDBNet \(a pixel unshuffle by 4\) is not supported, only x4 and x2$/);
    expect(() => inferGeneratorConfig(shaped([['conv_first.weight', [64, 6, 3, 3]]]), 'six.pth')).toThrow(/^six\.pth: tensor 'conv_first\.weight' has shape \[64,6,3,3\], RRDBNet's is \[channels, 3, 3, 3\] \(x4\) or \[channels, 12, 3, 3\] \(x2\)$/);
    const t = new Map([...generatorTensorShapes(io.config as never)].filter(([k]) => k !== 'body.1.rdb2.conv3.bias')
      .map(([k, shape]) => [k, { dtype: 'F32' as const, shape, data: new Uint8Array(4 * shape.reduce((a, b) => a * b, 1)) }]));
    expect(() => checkGeneratorTensors(io.config as never, t, 'm.pth')).toThrow(/^m\.pth: tensor 'body\.1\.rdb2\.conv3\.bias' is missing/);
  });

  it("reads Real-ESRGAN's x4plus as Upscayl ships it in ncnn format (../shared): 23 RRDBs of 64 channels, growth 32; a changed layer is refused", async () => {
    const param = fileURLToPath(new URL('../../../shared/weights/realesrgan-ncnn/realesrgan-x4plus.param', import.meta.url));
    const { config, tensors } = await readGeneratorFile(param);
    expect(config).toEqual({ arch: 'rrdb', channels: 64, blocks: 23, growth: 32, scale: 4 });
    expect(tensors.size).toBe(generatorTensorShapes(config).size);
    const tmp = mkdtempSync(join(tmpdir(), 'rrdb-ncnn-'));
    const text = readFileSync(param, 'utf8');
    const variant = (name: string, t: string) => {
      writeFileSync(join(tmp, `${name}.param`), t);
      symlinkSync(param.replace(/\.param$/, '.bin'), join(tmp, `${name}.bin`));
      return join(tmp, `${name}.param`);
    };
    await expect(readGeneratorFile(variant('coef', text.replace('-23301=2,2.000000e-01,1.000000e+00', '-23301=2,3.000000e-01,1.000000e+00'))))
      .rejects.toThrow(/coef\.param: layer Add_\d+ \(Eltwise\): expected 0\.2 x the block's output \+ its input$/);
    await expect(readGeneratorFile(variant('act', text.replace(/(Conv_1 .*) 9=2 -23310=1,2\.000000e-01/, '$1'))))
      .rejects.toThrow(/act\.param: layer Conv_1 \(Convolution\), RRDBNet's body\.0\.rdb1\.conv1: expected a fused LeakyReLU 0\.2$/);
    await expect(readGeneratorFile(variant('sig', text.replace(/^Interp(\s+Resize_1177)/m, 'Sigmoid$1'))))
      .rejects.toThrow(/sig\.param: layer Resize_1177 \(Sigmoid\): not a layer of ESRGAN's RRDBNet/);
  });
});

// Real-ESRGAN's x2 model (RealESRGAN_x2plus) is the same network after a pixel unshuffle by 2: the
// body and tail run on 2x2 blocks of the input and make x4 of that, x2 of the input.
describe("ESRGAN's x2 RRDBNet (pixel-unshuffled input) against PyTorch", () => {
  const pth2 = join(dir, 'rrdb_x2.pth');
  const io2 = JSON.parse(readFileSync(join(dir, 'rrdb_x2_io.json'), 'utf8')) as typeof io;

  it('reads scale 2 off conv_first\'s 12 input channels; the tables count the body at a quarter of the pixels', async () => {
    expect(io2.config).toEqual({ arch: 'rrdb', channels: 8, blocks: 1, growth: 4, scale: 2 });
    expect((await readGeneratorHeader(pth2)).config).toEqual(io2.config);
    const { tensors } = await readGeneratorFile(pth2);
    expect([...tensors.keys()].sort()).toEqual([...generatorTensorShapes(io2.config as never).keys()].sort());
    expect(tensors.get('conv_first.weight')!.shape).toEqual([8, 12, 3, 3]);
    const dense = 8 * 4 + 12 * 4 + 16 * 4 + 20 * 4 + 24 * 8;
    const m = generatorMacsPerLrPixel(io2.config as never);
    expect(m.body).toBe(9 * (12 * 8 + 3 * dense + 64) / 4);
    expect(m.tail).toBe(9 * (64 * 4 + 64 * 16 + 64 * 16 + 8 * 3 * 16) / 4);
  });

  it("equals PyTorch's output on an image of odd height (reflect-padded to even sides, the padding's output cropped, as Real-ESRGAN runs it)", async () => {
    const F = await loadFoldedGenerator(pth2);
    try {
      expect(F.tileNet.align).toBe(2);
      const out = await upscaleTiled(F, Float32Array.from(io2.input_nhwc), io2.width, io2.height);
      expect(out.length).toBe(io2.output_nhwc.length);
      let worst = 0;
      for (let i = 0; i < out.length; i++) worst = Math.max(worst, Math.abs((out[i] + 1) / 2 - io2.output_nhwc[i]));
      expect(worst).toBeLessThan(2e-5);
    } finally { F.dispose(); }
  });

  it('tiles on the 2-pixel grid: under a level from the whole image, odd sizes included', async () => {
    const F = await loadFoldedGenerator(pth2);
    try {
      expect(F.radius).toBe(2 * (RRDB_TILE_CONTEXT + 2));
      const r = rng(9), w = 151, h = 97, x = new Float32Array(w * h * 3);
      for (let y = 0; y < h; y++) for (let i = 0; i < w; i++) for (let c = 0; c < 3; c++) {
        x[(y * w + i) * 3 + c] = 0.5 + 0.3 * Math.sin(i * 0.09 * (c + 1) + y * 0.05) + 0.05 * r();
      }
      const whole = await upscaleTiled(F, x, w, h);
      const tiled = await upscaleTiled(F, x, w, h, { tile: 2 * F.radius + 9 });
      expect(whole.length).toBe(w * 2 * h * 2 * 3);
      expectTilesNearWhole(whole, tiled);
    } finally { F.dispose(); }
  });

  it('trains: the training graph with the fixture\'s weights equals the inference graph, and a few steps lower its loss', async () => {
    const { config, tensors } = await readGeneratorFile(pth2);
    const G = makeGenerator(config);
    loadTensors(G.stateEntries(), tensors, pth2);
    // (the inference graph equals PyTorch, above; the training graph takes even sides only: the
    // fixture's first 10 rows)
    const xs = Float32Array.from(io2.input_nhwc.slice(0, 10 * io2.width * 3));
    const y = noGrad(() => tidy(() => G.forward(fromArray(xs, [1, 10, io2.width, 3]))));
    const train = await y.data();
    y.dispose();
    const F = await loadFoldedGenerator(pth2);
    const infer = await upscaleTiled(F, xs, io2.width, 10);
    F.dispose();
    let worst = 0;
    for (let i = 0; i < train.length; i++) worst = Math.max(worst, Math.abs(train[i] - infer[i]));
    expect(worst).toBeLessThan(4e-5);
    const losses = await l1Steps(G, 6, 25, 8, (rgb, c) => 1.6 * rgb[c] - 0.8);
    expect(losses[24]).toBeLessThan(losses[0] * 0.8);
    G.dispose();
  });
});
