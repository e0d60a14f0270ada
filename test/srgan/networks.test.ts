import { describe, it, expect, beforeAll } from 'vitest';
import { testGpu, randn, expectClose } from '../helpers.js';
import { Generator, PAPER_GENERATOR, generatorParamCount } from '../../src/srgan/generator.js';
import { Discriminator, PAPER_DISCRIMINATOR, discriminatorParamCount } from '../../src/srgan/discriminator.js';
import { FoldedGenerator, upscaleTiled } from '../../src/srgan/inference.js';
import { fromArray, noGrad, tidy } from '../../src/nn/tensor.js';
import { setInitSeed } from '../../src/nn/layers.js';

beforeAll(async () => { await testGpu(); });

describe('network definitions', () => {
  it('default parameter counts match the layer table (about 1.55 M and 23.6 M)', () => {
    const G = new Generator(PAPER_GENERATOR);
    expect(G.parameterCount()).toBe(generatorParamCount(PAPER_GENERATOR));
    expect(G.parameterCount()).toBe(1_548_547); // 15680 + 16*74048 + 36992 + 2*(147456+256+64) + 15555
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

async function trainedTinyGenerator(): Promise<Generator> {
  setInitSeed(21);
  const G = new Generator(tiny);
  // run a few training-mode forwards so BN running statistics are not the identity
  for (let i = 0; i < 3; i++) tidy(() => { G.forward(fromArray(randn(2 * 9 * 7 * 3, 30 + i, 0, 1), [2, 9, 7, 3])); });
  return G.eval();
}

describe('inference', () => {
  it('the BN-folded, epilogue-fused generator computes the same function as the layered one', async () => {
    const G = await trainedTinyGenerator();
    const F = await FoldedGenerator.fromGenerator(G);
    const x = randn(2 * 11 * 9 * 3, 5, 0, 1);
    const a = await noGrad(() => tidy(() => G.forward(fromArray(x, [2, 11, 9, 3])))).data();
    const t = tidy(() => F.forward(fromArray(x, [2, 11, 9, 3])));
    const b = await t.data();
    expect(b.length).toBe(2 * 44 * 36 * 3);
    expectClose(b, a, 1e-4, 2e-5, 'folded vs layered');
    F.dispose(); G.dispose();
  });

  it('tiled upscaling equals whole-image upscaling within 1/255 at every pixel', async () => {
    const G = await trainedTinyGenerator();
    const F = await FoldedGenerator.fromGenerator(G);
    const w = 37, h = 29;
    const img = Float32Array.from(randn(w * h * 3, 8, 0, 1));
    const whole = await upscaleTiled(F, img, w, h, { tile: 200 });
    const tiled = await upscaleTiled(F, img, w, h, { tile: 2 * F.radius + 6, batch: 3 });
    expect(tiled.length).toBe(w * 4 * h * 4 * 3);
    let worst = 0;
    for (let i = 0; i < whole.length; i++) worst = Math.max(worst, Math.abs(whole[i] - tiled[i]) / 2); // [-1,1] -> [0,1]
    expect(worst).toBeLessThan(1 / 255);
    F.dispose(); G.dispose();
  });
});
