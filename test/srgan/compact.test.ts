// Real-ESRGAN's compact generator (SRVGGNetCompact) against PyTorch: a random-weight network written
// in PyTorch and saved as BasicSR saves it ({'params_ema': state_dict}; test/fixtures/make_compact.py),
// loaded from the .pth without Python, run whole and in tiles (the image is wider than the network's
// context), in the inference graph (the output's doubling folded into the last conv) and in the
// training graph (weights loaded into a random network); and it trains.
import { describe, it, expect, beforeAll } from 'vitest';
import { readFileSync, writeFileSync, mkdtempSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { testGpu } from '../helpers.js';
import { loadFoldedGenerator, readGeneratorHeader, readGeneratorFile } from '../../src/node/model.js';
import { upscaleTiled } from '../../src/srgan/inference.js';
import { CompactGenerator } from '../../src/srgan/compact.js';
import { generatorParamCount, generatorMacsPerLrPixel, generatorTensorShapes, makeGenerator } from '../../src/srgan/generator.js';
import { inferGeneratorConfig } from '../../src/srgan/model.js';
import { loadTensors } from '../../src/nn/state.js';
import { fromArray, noGrad, tidy } from '../../src/nn/tensor.js';
import { l1Steps } from './learns.js';

const dir = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures');
const pth = join(dir, 'compact_x4.pth');
const io = JSON.parse(readFileSync(join(dir, 'compact_x4_io.json'), 'utf8')) as
  { config: object; input_nhwc: number[]; output_nhwc: number[]; width: number; height: number };
/** The engine's [-1, 1] output as Real-ESRGAN's [0, 1]; the worst difference from PyTorch's. */
const worst = (out: ArrayLike<number>) => {
  expect(out.length).toBe(io.output_nhwc.length);
  let w = 0;
  for (let i = 0; i < out.length; i++) w = Math.max(w, Math.abs((out[i] + 1) / 2 - io.output_nhwc[i]));
  return w;
};

beforeAll(async () => { await testGpu(); });

describe('the compact generator (SRVGGNetCompact) against PyTorch', () => {
  it("reads its configuration off Real-ESRGAN's names and shapes, inside the params_ema wrapper", async () => {
    expect((await readGeneratorHeader(pth)).config).toEqual(io.config);
    const { tensors } = await readGeneratorFile(pth);
    expect([...tensors.keys()].sort()).toEqual([...generatorTensorShapes(io.config as never).keys()].sort());
    const params = [...tensors.values()].reduce((a, t) => a + t.shape.reduce((x, y) => x * y, 1), 0);
    expect(generatorParamCount(io.config as never)).toBe(params);
    // 8 features, 3 middle convs, x4: 3->8, 3 x 8->8, 8->48, all 3x3 at LR
    expect(generatorMacsPerLrPixel(io.config as never)).toEqual({ body: 9 * (3 * 8 + 3 * 64 + 8 * 48), tail: 0 });
  });

  it("equals PyTorch's output at every pixel, whole and in tiles smaller than the image", async () => {
    const F = await loadFoldedGenerator(pth);
    try {
      expect(F.radius).toBe(5); // five 3x3 convs, all at LR; the shuffle needs no context
      const x = Float32Array.from(io.input_nhwc);
      const whole = await upscaleTiled(F, x, io.width, io.height);
      expect(worst(whole)).toBeLessThan(2e-5);
      const tiled = await upscaleTiled(F, x, io.width, io.height, { tile: 11 });
      expect(worst(tiled)).toBeLessThan(2e-5);
      let same = 0;
      for (let i = 0; i < whole.length; i++) same = Math.max(same, Math.abs(whole[i] - tiled[i]));
      expect(same).toBeLessThan(1e-6);
    } finally { F.dispose(); }
  });

  it('the training graph with the same weights gives the same output, and it learns', async () => {
    const { config, tensors } = await readGeneratorFile(pth);
    const G = makeGenerator(config) as CompactGenerator;
    expect(G).toBeInstanceOf(CompactGenerator);
    loadTensors(G.stateEntries(), tensors, pth);
    const y = noGrad(() => tidy(() => G.forward(fromArray(Float32Array.from(io.input_nhwc), [1, io.height, io.width, 3]))));
    expect(worst(await y.data())).toBeLessThan(2e-5);
    y.dispose();
    // L1 steps on one batch lower its loss: the target its colours swapped and darkened, upsampled
    const losses = await l1Steps(G, 8, 30, 3, (rgb, c) => 0.8 * rgb[2 - c] - 0.9);
    expect(losses[29]).toBeLessThan(losses[0] * 0.8);
    G.dispose();
  });

  it('a random compact network starts as nearest-neighbour upsampling of a 3-channel conv (ICNR last conv): constant on each 4x4 block', async () => {
    const G = makeGenerator({ arch: 'compact', channels: 6, blocks: 1, scale: 4 });
    const x = new Float32Array(5 * 6 * 3).map((_, i) => (i * 37 % 11) / 11);
    const y = await noGrad(() => tidy(() => G.forward(fromArray(x, [1, 5, 6, 3])))).data();
    for (let by = 0; by < 5; by++) for (let bx = 0; bx < 6; bx++) for (let c = 0; c < 3; c++) {
      const v0 = y[((4 * by) * 24 + 4 * bx) * 3 + c];
      for (let i = 0; i < 4; i++) for (let j = 0; j < 4; j++) expect(y[((4 * by + i) * 24 + 4 * bx + j) * 3 + c]).toBeCloseTo(v0, 5);
    }
    G.dispose();
  });

  it('refuses files that are not a compact network, naming the file and the layer', () => {
    const shaped = (entries: Array<[string, number[]]>) => new Map(entries.map(([k, shape]) => [k, { dtype: 'F32' as const, shape }]));
    expect(() => inferGeneratorConfig(shaped([['body.0.weight', [8, 4, 3, 3]]]), 'f.pth')).toThrow(/^f\.pth: tensor 'body\.0\.weight' has shape \[8,4,3,3\], a compact generator's \(SRVGGNetCompact\) is \[channels, 3, 3, 3\]$/);
    expect(() => inferGeneratorConfig(shaped([['body.0.weight', [8, 3, 3, 3]], ['body.1.weight', [8]]]), 'f.pth')).toThrow(/body\.1\.weight is the last layer, expected an even index/);
    expect(() => inferGeneratorConfig(shaped([['body.0.weight', [8, 3, 3, 3]], ['body.2.weight', [27, 8, 3, 3]]]), 'f.pth')).toThrow(/the last conv \(body\.2\) has 27 outputs, expected 12 \(x2\) or 48 \(x4\)/);
  });

  describe('from ncnn files (.param + .bin)', () => {
    const param = join(dir, 'compact_x4.param');
    const ref16 = (JSON.parse(readFileSync(join(dir, 'compact_x4_ncnn_io.json'), 'utf8')) as { output_nhwc: number[] }).output_nhwc;
    it("the same network written as an ncnn model (float16 weights) gives PyTorch's output with those weights", async () => {
      expect((await readGeneratorHeader(param)).config).toEqual(io.config);
      const F = await loadFoldedGenerator(param);
      try {
        const out = await upscaleTiled(F, Float32Array.from(io.input_nhwc), io.width, io.height, { tile: 12 });
        let w = 0;
        for (let i = 0; i < out.length; i++) w = Math.max(w, Math.abs((out[i] + 1) / 2 - ref16[i]));
        expect(w).toBeLessThan(2e-5);
      } finally { F.dispose(); }
    });
    it('Real-ESRGAN realesr-general-x4v3 as Upscayl ships it (../shared): 64 features, 32 middle convs, x4, every byte of the .bin used', async () => {
      const shared = fileURLToPath(new URL('../../../shared/weights/realesrgan-ncnn/realesrgan-x4fast.param', import.meta.url));
      const { config, tensors } = await readGeneratorFile(shared);
      expect(config).toEqual({ arch: 'compact', channels: 64, blocks: 32, scale: 4 });
      expect(generatorParamCount(config)).toBe([...tensors.values()].reduce((a, t) => a + t.shape.reduce((x, y) => x * y, 1), 0));
    });
    it('refuses a damaged or foreign model in one line naming the file and the layer', async () => {
      const tmp = mkdtempSync(join(tmpdir(), 'ncnn-'));
      const text = readFileSync(param, 'utf8'), bin = readFileSync(join(dir, 'compact_x4.bin'));
      const write = (name: string, t: string, b: Uint8Array = bin) => { writeFileSync(join(tmp, `${name}.param`), t); writeFileSync(join(tmp, `${name}.bin`), b); return join(tmp, `${name}.param`); };
      const cases: Array<[string, RegExp]> = [
        [write('short', text, bin.subarray(0, bin.length - 100)), /short\.param: layer Conv_8: its weights run past the end of the \.bin \(11168 bytes\)$/],
        [write('long', text, Buffer.concat([bin, Buffer.alloc(8)])), /long\.param: the \.bin holds 11276 bytes, the layers use 11268: it does not belong to this \.param$/],
        [write('magic', text.replace('7767517', '7767518')), /magic\.param: not an ncnn \.param file/],
        [write('sigmoid', text.replace('PReLU            PRelu_3', 'Sigmoid          PRelu_3')), /sigmoid\.param: layer PRelu_3 \(Sigmoid\): not a layer of that network; this reader knows Real-ESRGAN's compact generator/],
        [write('k5', text.replace('0=8 1=3 4=1 5=1 6=576', '0=8 1=5 4=1 5=1 6=576')), /k5\.param: layer Conv_2 \(Convolution\): expected a 3x3 conv/],
        [write('count', text.replace('14 15', '15 15')), /count\.param: declares 15 layers but holds 14/],
        [write('tag', text, Uint8Array.from(bin, (v, i) => (i === 0 ? 0x55 : v))), /tag\.param: layer Conv_0: weight storage tag 0x1306b55 is not float16/],
      ];
      for (const [file, re] of cases) await expect(readGeneratorFile(file)).rejects.toThrow(re);
      const alone = join(tmp, 'alone.param');
      copyFileSync(param, alone);
      await expect(readGeneratorFile(alone)).rejects.toThrow(/alone\.bin: no such file \(an ncnn model's weights, beside .*alone\.param\)$/);
    });
  });
});
