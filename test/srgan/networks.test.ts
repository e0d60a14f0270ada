import { describe, it, expect, beforeAll } from 'vitest';
import { testGpu, uniform, expectClose } from '../helpers.js';
import {
  Generator, PAPER_GENERATOR, archOf, architectureOfTensors, generatorConfigError, generatorFlopsPerLrPixel, generatorParamCount, generatorTensorShapes, makeGenerator, normalGenerator,
  type GeneratorConfig,
} from '../../src/srgan/generator.js';
import { inferGeneratorConfig } from '../../src/srgan/model.js';
import { upsampleBilinearRef } from '../../src/kernels/ref/upsample.js';
import { conv2dForwardRef } from '../../src/kernels/ref/conv2d.js';
import { pixelShuffleRef } from '../../src/kernels/ref/pixel_shuffle.js';
import { preluRef } from '../../src/kernels/ref/activation.js';
import { Discriminator, PAPER_DISCRIMINATOR, discriminatorParamCount } from '../../src/srgan/discriminator.js';
import { FoldedGenerator, upscaleTiled, planTiles, type TileNet } from '../../src/srgan/inference.js';
import { loadFoldedGenerator, modelPath } from '../../src/node/model.js';
import { fromArray, noGrad, tidy, type Tensor } from '../../src/nn/tensor.js';
import { gpu } from '../../src/gpu/gpu.js';
import { setInitSeed } from '../../src/nn/layers.js';
import { saveModule } from '../../src/node/state.js';
import { diskShape } from '../../src/nn/state.js';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

beforeAll(async () => { await testGpu(); });

describe('network definitions', () => {
  it('default parameter counts match the layer table (about 1.55 M and 23.6 M)', () => {
    const G = new Generator(PAPER_GENERATOR);
    expect(G.parameterCount()).toBe(generatorParamCount(PAPER_GENERATOR));
    expect(G.parameterCount()).toBe(1_548_547); // 15680 + 16*74048 + 36992 + 2*(147456+256+64) + 15555
    // multiply-adds per LR pixel: the paper's 1.5 M parameters' weights, each conv's at its resolution
    // (conv_in, blocks and conv_mid at LR; ups.0 at LR, ups.1 at 2x, conv_out at 4x)
    expect(generatorFlopsPerLrPixel(PAPER_GENERATOR)).toBe(2 * (15552 + 32 * 36864 + 36864 + 147456 + 4 * 147456 + 16 * 15552));
    expect(generatorFlopsPerLrPixel({ channels: 32, blocks: 10, scale: 4, upsample: 'espcn' })).toBe(2 * (7776 + 21 * 9216 + 13824));
    expect(generatorFlopsPerLrPixel({ channels: 8, blocks: 1, scale: 2, upsample: 'nearest' })).toBe(2 * (1944 + 3 * 576 + 4 * 576 + 4 * 1944));
    expect(generatorFlopsPerLrPixel({ channels: 32, blocks: 6, scale: 4, upsample: 'shuffle-espcn' })).toBe(2 * (7776 + 13 * 9216 + 36864 + 4 * 3456));
    const names = G.stateEntries().map(([n]) => n);
    for (const n of ['conv_in.weight', 'act_in.weight', 'blocks.15.conv1.weight', 'blocks.0.bn1.running_mean', 'blocks.3.act.weight',
      'conv_mid.weight', 'bn_mid.running_var', 'ups.1.conv.bias', 'ups.0.act.weight', 'conv_out.bias']) expect(names).toContain(n);
    expect(names).not.toContain('blocks.0.conv1.bias');
    G.dispose();
    const D = new Discriminator(PAPER_DISCRIMINATOR);
    expect(D.parameterCount()).toBe(discriminatorParamCount(PAPER_DISCRIMINATOR));
    expect(Math.abs(D.parameterCount() - 23.6e6)).toBeLessThan(0.1e6);
    const dn = D.stateEntries().map(([n]) => n);
    for (const n of ['conv_in.weight', 'blocks.6.conv.weight', 'blocks.6.bn.running_mean', 'dense1.weight', 'dense2.bias']) expect(dn).toContain(n);
    expect(D.dense1.weight.shape).toEqual([512 * 6 * 6, 1024]);
    D.dispose();
  });
});

const tiny = { channels: 8, blocks: 2, scale: 4 as const };

/** The generator variants every inference test runs on: the paper's, ESRGAN's upsampling, EDSR/MSRResNet's body and skip. */
type Variant = Omit<GeneratorConfig, 'channels' | 'blocks' | 'scale'>;
const VARIANTS: Array<[string, Variant]> = [
  ['shuffle upsampling', { upsample: 'shuffle' }],
  ['nearest upsampling', { upsample: 'nearest' }],
  ['no BN, bilinear skip', { norm: 'none', skip: 'bilinear' }],
  ['nearest upsampling, no BN', { upsample: 'nearest', norm: 'none' }],
  ['ESPCN tail', { upsample: 'espcn' }],
  ['ESPCN tail, no BN, bilinear skip', { upsample: 'espcn', norm: 'none', skip: 'bilinear' }],
  ['a shuffle step then an ESPCN output, no BN, bilinear skip', { upsample: 'shuffle-espcn', norm: 'none', skip: 'bilinear' }],
];

async function trainedTinyGenerator(variant: Variant = {}): Promise<Generator> {
  setInitSeed(21);
  const G = new Generator({ ...tiny, ...variant });
  // run a few training-mode forwards so BN running statistics are not the identity
  for (let i = 0; i < 3; i++) tidy(() => { G.forward(fromArray(uniform(2 * 9 * 7 * 3, 30 + i, 0, 1), [2, 9, 7, 3])); });
  return G.eval();
}

describe.each(VARIANTS)('inference, %s', (_, up) => {
  it('the BN-folded, epilogue-fused generator computes the same function as the layered one', async () => {
    const G = await trainedTinyGenerator(up);
    const F = await FoldedGenerator.fromGenerator(G);
    const x = uniform(2 * 11 * 9 * 3, 5, 0, 1);
    const a = await noGrad(() => tidy(() => G.forward(fromArray(x, [2, 11, 9, 3])))).data();
    const t = tidy(() => F.forward(fromArray(x, [2, 11, 9, 3])));
    const b = await t.data();
    expect(b.length).toBe(2 * 44 * 36 * 3);
    expectClose(b, a, 1e-4, 2e-5, 'folded vs layered');
    F.dispose(); G.dispose();
  });

  if (up.skip === 'bilinear') it('the skip adds the input\'s bilinear upsampling (float64 reference) to conv_out, which has no tanh', async () => {
    const G = await trainedTinyGenerator(up);
    const G0 = await trainedTinyGenerator({ ...up, skip: 'none' }); // same seed: the same weights, conv_out + tanh
    const [N, H, W] = [2, 7, 5];
    const x = uniform(N * H * W * 3, 13, 0, 1);
    const a = await noGrad(() => tidy(() => G.forward(fromArray(x, [N, H, W, 3])))).data();
    const t = await noGrad(() => tidy(() => G0.forward(fromArray(x, [N, H, W, 3])))).data();
    const up4 = upsampleBilinearRef(x, N, H, W, 3, 4);
    expectClose(a, Array.from(t, (v, i) => Math.atanh(v) + 2 * up4[i] - 1), 1e-4, 1e-5, 'skip vs atanh(no skip) + 2 bilinear - 1');
    G.dispose(); G0.dispose();
  });

  it('tiled upscaling equals whole-image upscaling within 1/255 at every pixel', async () => {
    const G = await trainedTinyGenerator(up);
    const F = await FoldedGenerator.fromGenerator(G);
    const w = 37, h = 29;
    const img = Float32Array.from(uniform(w * h * 3, 8, 0, 1));
    const whole = await upscaleTiled(F, img, w, h, { tile: 200 });
    const tiled = await upscaleTiled(F, img, w, h, { tile: 2 * F.radius + 6, batch: 3 });
    expect(tiled.length).toBe(w * 4 * h * 4 * 3);
    let worst = 0;
    for (let i = 0; i < whole.length; i++) worst = Math.max(worst, Math.abs(whole[i] - tiled[i]) / 2); // [-1,1] -> [0,1]
    expect(worst).toBeLessThan(1 / 255);
    F.dispose(); G.dispose();
  });
});

describe('ESPCN tail', () => {
  it('is conv_out (3x3 to 3 * scale^2 channels, + tanh without the skip) and one pixel shuffle by the scale: float64 reference, scale 4 and 2', async () => {
    for (const [scale, skip, seed] of [[4, 'none', 3], [2, 'none', 4], [4, 'bilinear', 5]] as const) {
      setInitSeed(seed);
      const G = new Generator({ channels: 5, blocks: 1, scale, upsample: 'espcn', norm: 'none', skip });
      expect(G.ups).toEqual([]);
      expect(G.convOut.weight.shape).toEqual([3, 3, 5, 3 * scale * scale]);
      const [N, H, W, C] = [2, 7, 6, 5];
      const h = uniform(N * H * W * C, 40 + seed, -1, 1);
      const got = await wholeImage(() => G.tail(fromArray(h, [N, H, W, C])));
      const w = await G.convOut.weight.data(), b = await G.convOut.bias!.data();
      const y = conv2dForwardRef({ N, H, W, Cin: C, Cout: 3 * scale * scale, K: 3, stride: 1 }, h, w, { bias: b, act: skip === 'none' ? 'tanh' : undefined });
      expect(got.length).toBe(N * H * scale * W * scale * 3);
      expectClose(got, pixelShuffleRef(y, N, H, W, 3 * scale * scale, scale), 1e-4, 1e-5, `x${scale} skip ${skip}`);
      // ICNR: untrained, every scale x scale block of the tail's output is one value per colour
      // (nearest-neighbour upsampling of a conv at LR), and not the same value everywhere
      const [Ho, Wo] = [H * scale, W * scale];
      let spread = 0;
      for (let n = 0; n < N; n++) for (let yy = 0; yy < Ho; yy++) for (let xx = 0; xx < Wo; xx++) for (let c = 0; c < 3; c++) {
        const at = (py: number, px: number) => got[((n * Ho + py) * Wo + px) * 3 + c];
        const v = at(yy, xx), corner = at(yy - (yy % scale), xx - (xx % scale));
        expect(v, `x${scale} (${n},${yy},${xx},${c})`).toBe(corner);
        spread = Math.max(spread, Math.abs(v - got[c]));
      }
      expect(spread).toBeGreaterThan(0.01);
      G.dispose();
    }
  });

  it('shuffle-espcn: the paper\'s first x2 step (3x3 conv to 4C, pixel shuffle, PReLU), then a 3x3 conv_out to 12 channels and a pixel shuffle by 2: float64 reference', async () => {
    setInitSeed(8);
    const G = new Generator({ channels: 4, blocks: 1, scale: 4, upsample: 'shuffle-espcn', norm: 'none', skip: 'bilinear' });
    expect(G.ups.length).toBe(1);
    expect(G.convOut.weight.shape).toEqual([3, 3, 4, 12]);
    // PReLU slopes other than their initial 0.25 everywhere, so a slope mix-up shows
    const slope = Float32Array.from(uniform(4, 77, 0.05, 0.6));
    gpu().write(G.ups[0].act.weight.buffer, slope);
    const [N, H, W, C] = [2, 5, 7, 4];
    const h = uniform(N * H * W * C, 50, -1, 1);
    const got = await wholeImage(() => G.tail(fromArray(h, [N, H, W, C])));
    const up = G.ups[0].conv;
    const u = conv2dForwardRef({ N, H, W, Cin: C, Cout: 4 * C, K: 3, stride: 1 }, h, await up.weight.data(), { bias: await up.bias!.data() });
    const h2 = preluRef(pixelShuffleRef(u, N, H, W, 4 * C, 2), slope, N * 2 * H * 2 * W * C, C);
    const y = conv2dForwardRef({ N, H: 2 * H, W: 2 * W, Cin: C, Cout: 12, K: 3, stride: 1 }, h2, await G.convOut.weight.data(), { bias: await G.convOut.bias!.data() });
    expect(got.length).toBe(N * 4 * H * 4 * W * 3);
    expectClose(got, pixelShuffleRef(y, N, 2 * H, 2 * W, 12, 2), 1e-4, 1e-5, 'shuffle-espcn tail');
    G.dispose();
  });
});

/** NHWC [1, h, w, 3] output as interleaved RGB, the layout upscaleTiled returns. */
async function wholeImage(run: () => Tensor): Promise<Float32Array> {
  const t = noGrad(() => tidy(run));
  const d = await t.data();
  t.dispose();
  return d;
}

describe.each(VARIANTS)('tiled inference, %s', (_, up) => {
  it('tiles with zero-padded edges equal the whole-image folded forward and the training graph, edges included', async () => {
    const G = await trainedTinyGenerator(up);
    const F = await FoldedGenerator.fromGenerator(G);
    // body: conv_in 4, blocks 2x2, conv_mid 1 = 9 LR px. Tail: shuffle, conv_out's 4 HR px = 1 LR px
    // plus a 3x3 conv at LR and at 2x LR before each shuffle: 3; nearest, HR cone [-4, 7] through a
    // 3x3 conv at 4x, then at 2x: [-2, 2], 2; ESPCN, conv_out's 3x3 at LR: 1; shuffle-espcn,
    // conv_out's 3x3 at 2x, [-1, 2], then a 3x3 conv at LR before the shuffle: [-2, 2], 2
    expect(F.radius).toBe({ shuffle: 12, nearest: 11, espcn: 10, 'shuffle-espcn': 11 }[up.upsample ?? 'shuffle']);
    for (const [w, h, seed, core] of [[37, 45, 41, 9], [130, 67, 42, 17]]) {
      const img = Float32Array.from(uniform(w * h * 3, seed, 0, 1));
      const folded = await wholeImage(() => F.forward(fromArray(img, [1, h, w, 3])));
      const layered = await wholeImage(() => G.forward(fromArray(img, [1, h, w, 3])));
      expectClose(folded, layered, 1e-4, 2e-5, `${w}x${h} folded vs training graph`);
      // small forced tiles (a grid of them, batched, windows slid inside the image at the edges)
      // and the tail in strips of 3 rows
      const opts = { tile: 2 * F.radius + core, batch: 4, tailRows: 3 };
      const plan = planTiles(w, h, F.tileNet, opts, 2 ** 27);
      expect(Math.min(plan.nx, plan.ny)).toBeGreaterThan(3);
      const tiled = await upscaleTiled(F, img, w, h, opts);
      // (a window's Winograd tiles start at its own origin, so a pixel can be summed in another
      // order than in the whole image: float32 rounding, 1.5e-6 at most where conv_out feeds the output directly)
      expectClose(tiled, folded, 1e-5, 2e-6, `${w}x${h} tiled vs whole (folded)`);
      expectClose(tiled, layered, 1e-4, 2e-5, `${w}x${h} tiled vs whole (training graph)`);
      // the default plan: one tile, the tail whole
      expectClose(await upscaleTiled(F, img, w, h), folded, 1e-5, 1e-6, `${w}x${h} default plan`);
    }
    F.dispose(); G.dispose();
  });

  it('the tail run in strips equals the tail run whole, batch > 1', async () => {
    const G = await trainedTinyGenerator(up);
    const F = await FoldedGenerator.fromGenerator(G);
    const x = uniform(2 * 13 * 10 * 3, 9, 0, 1);
    const whole = await wholeImage(() => F.forward(fromArray(x, [2, 13, 10, 3])));
    for (const rows of [1, 2, 5, 13]) {
      const strips = await wholeImage(() => F.forward(fromArray(x, [2, 13, 10, 3]), rows));
      expectClose(strips, whole, 1e-5, 1e-6, `tail strips of ${rows} rows`);
    }
    F.dispose(); G.dispose();
  });

  it('builds the folded generator straight from the file, equal to folding the loaded training graph', async () => {
    const G = await trainedTinyGenerator(up);
    const path = join(mkdtempSync(join(tmpdir(), 'srgan-fold-')), 'g.safetensors');
    await saveModule(path, G, { format: 'srgan-webgpu-generator', generator: JSON.stringify(G.config) });
    const fromGraph = await FoldedGenerator.fromGenerator(G);
    const fromFile = await loadFoldedGenerator(path);
    const x = uniform(1 * 9 * 11 * 3, 12, 0, 1);
    const a = await wholeImage(() => fromGraph.forward(fromArray(x, [1, 9, 11, 3])));
    const b = await wholeImage(() => fromFile.forward(fromArray(x, [1, 9, 11, 3])));
    expectClose(b, a, 0, 0, 'folded from file vs from the training graph');
    fromGraph.dispose(); fromFile.dispose(); G.dispose();
    // the file format's shape table is the module tree's
    for (const cfg of [{ ...tiny, ...up }, { channels: 4, blocks: 1, scale: 2 as const, ...up }].filter((c) => !generatorConfigError(c))) {
      const g = new Generator(cfg);
      expect(g.parameterCount()).toBe(generatorParamCount(cfg));
      const want = new Map(g.stateEntries().map(([n, e]) => [n, diskShape(e.tensor, e.layout)]));
      expect(generatorTensorShapes(cfg)).toEqual(want);
      g.dispose();
    }
  });
});

describe('tile planning', () => {
  it('plans few tiles that fit the image: within 1.3x of the image plus its border', async () => {
    const F = await loadFoldedGenerator(modelPath('srresnet'));
    expect(F.config).toEqual({ channels: 32, blocks: 6, scale: 4, upsample: 'shuffle-espcn', norm: 'none', skip: 'bilinear' });
    expect(F.radius).toBe(19); // body 4 + 12 + 1, tail 2 (see the tiled-inference tests)
    expect(F.bytesPerLrPixel).toBe(32 * 4); // the tail (4 x 32 floats per LR pixel) runs in strips
    expect(F.tailContext).toBe(2);
    const net: TileNet = F.tileNet;
    expect(net.tail!.bytesPerLrPixel).toBe(4 * 32 * 4);
    // multiply-adds per LR pixel, tail / all: ups.0's 3x3 32->128 at LR, conv_out's 3x3 32->12 at 4 pixels
    expect(net.tail!.share).toBeCloseTo((36864 + 4 * 3456) / (36864 + 4 * 3456 + 127584), 6);
    F.dispose();
    const binding = 128 * 2 ** 20;
    for (const s of [128, 256, 512]) {
      const p = planTiles(s, s, net, {}, binding);
      expect([p.windows.length, p.tw, p.th], `${s}x${s}`).toEqual([1, s, s]);
    }
    for (const [w, h, o] of [[37, 45, { tile: 49 }], [130, 67, { tile: 60 }], [700, 513, {}], [1000, 1000, {}], [2000, 300, {}], [1920, 1080, {}],
      [4000, 3000, {}], [30000, 3, {}], [3, 5000, {}], [1000, 1000, { budgetBytes: 2 ** 24 }]] as Array<[number, number, { tile?: number; budgetBytes?: number }]>) {
      const p = planTiles(w, h, net, o, binding);
      const what = `${w}x${h} ${JSON.stringify(o)}: ${p.nx}x${p.ny} of ${p.tw}x${p.th}`;
      expect(p.windows.length, what).toBe(p.nx * p.ny);
      expect(p.tw * p.th * net.bytesPerLrPixel * p.batch, what).toBeLessThanOrEqual(Math.min(binding, o.budgetBytes ?? Infinity));
      if (o.tile) expect(Math.max(p.tw, p.th), what).toBeLessThanOrEqual(o.tile);
      // (forced small tiles carry more context: the bound holds for the default budget)
      if (!o.tile && !o.budgetBytes) expect((p.windows.length * p.tw * p.th) / ((w + 2 * p.radius) * (h + 2 * p.radius)), what).toBeLessThanOrEqual(1.3);
      // cores cover the image exactly once; each window holds its core plus the context, or reaches the edge
      const cover = new Uint8Array(w * h);
      for (const win of p.windows) {
        expect(win.x >= 0 && win.y >= 0 && win.x + p.tw <= w && win.y + p.th <= h, what).toBe(true);
        expect(win.x === 0 || win.x <= win.cx0 - p.radius, what).toBe(true);
        expect(win.y === 0 || win.y <= win.cy0 - p.radius, what).toBe(true);
        expect(win.x + p.tw === w || win.x + p.tw >= win.cx1 + p.radius, what).toBe(true);
        expect(win.y + p.th === h || win.y + p.th >= win.cy1 + p.radius, what).toBe(true);
        for (let y = win.cy0; y < win.cy1; y++) for (let x = win.cx0; x < win.cx1; x++) cover[y * w + x]++;
      }
      expect(cover.every((c) => c === 1), what).toBe(true);
    }
    // batches when tiles are small enough
    expect(planTiles(300, 300, net, { tile: 100 }, binding).batch).toBeGreaterThan(1);
    expect(() => planTiles(300, 300, net, { tile: 2 * net.radius }, binding)).toThrow(/too small/); // no room for a core
  });
});

describe('the architecture table (generator.ts) against the module trees, every architecture and tail', () => {
  const CONFIGS: GeneratorConfig[] = [
    { channels: 8, blocks: 2, scale: 4 },
    { channels: 8, blocks: 1, scale: 2, upsample: 'nearest' },
    { channels: 8, blocks: 2, scale: 4, upsample: 'espcn', norm: 'none' },
    { channels: 8, blocks: 3, scale: 4, upsample: 'shuffle-espcn', norm: 'none' },
    { channels: 4, blocks: 0, scale: 2, upsample: 'espcn' },
    { arch: 'compact', channels: 8, blocks: 3, scale: 4 },
    { arch: 'compact', channels: 4, blocks: 1, scale: 2 },
    { arch: 'rrdb', channels: 8, blocks: 2, growth: 4, scale: 4 },
    { arch: 'rrdb', channels: 8, blocks: 1, growth: 4, scale: 2 },
  ];
  it.each(CONFIGS.map((c) => [JSON.stringify(c), c] as const))('%s: shapes, their inverse, parameters', (_, cfg) => {
    expect(generatorConfigError(cfg)).toBeUndefined();
    const g = makeGenerator(cfg);
    // the file format's shape table is the training graph's module tree, name for name
    const tree = new Map(g.stateEntries().map(([n, e]) => [n, diskShape(e.tensor, e.layout)]));
    expect(generatorTensorShapes(cfg)).toEqual(tree);
    expect(g.parameterCount()).toBe(generatorParamCount(cfg));
    // the inverse: a file of these tensors (no metadata) reads back as the configuration
    const entries = new Map([...tree].map(([n, shape]) => [n, { dtype: 'F32' as const, shape }]));
    expect(inferGeneratorConfig(entries, 'x.safetensors')).toEqual(normalGenerator(cfg));
    // told apart by its own marker tensor: its files have it, and no other architecture's marker
    expect(architectureOfTensors((n) => tree.has(n))).toBe(archOf(cfg));
    // the network the table names: its forward gives the scale's output
    const x = fromArray(uniform(6 * 4 * 3, 3, 0, 1), [1, 4, 6, 3]);
    const out = noGrad(() => g.forward(x));
    expect(out.shape).toEqual([1, 4 * cfg.scale, 6 * cfg.scale, 3]);
    out.dispose(); x.dispose(); g.dispose();
  });

  it('the tiler reads each network\'s own geometry: tiled output equals whole-image output for the exact ones', async () => {
    for (const cfg of CONFIGS.filter((c) => c.arch !== 'rrdb')) {
      setInitSeed(5);
      const g = makeGenerator(cfg);
      const F = await FoldedGenerator.fromGenerator(g);
      const x = uniform(53 * 41 * 3, 8, 0, 1);
      const whole = await wholeImage(() => F.forward(fromArray(x, [1, 41, 53, 3])));
      const tiled = await upscaleTiled(F, Float32Array.from(x), 53, 41, { tile: 2 * F.radius + 5 });
      expectClose(tiled, whole, 1e-5, 1e-6, `${JSON.stringify(cfg)} tiled`);
      F.dispose(); g.dispose();
    }
  });
});
