// Crafted and foreign generator files: refused from the header before anything is allocated,
// non-finite weights refused by name, checksums verified, and a plain PyTorch state_dict with the
// generator's tensor names loaded with its configuration read off the shapes.
import { describe, it, expect, beforeAll } from 'vitest';
import { mkdtempSync, writeFileSync, readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { testGpu, uniform } from '../helpers.js';
import { fromArray, noGrad } from '../../src/nn/tensor.js';
import { fromFloat32, serializeSafetensors, type StTensor } from '../../src/nn/safetensors.js';
import { saveModule } from '../../src/node/state.js';
import { setInitSeed } from '../../src/nn/layers.js';
import { Generator, type GeneratorConfig } from '../../src/srgan/generator.js';
import { loadFoldedGenerator, loadGenerator, readGeneratorFile, readGeneratorHeader } from '../../src/node/model.js';
import { generatorTensorShapes } from '../../src/srgan/generator.js';
import { initialGeneratorTensors } from '../../src/srgan/model.js';

const dir = mkdtempSync(join(tmpdir(), 'srgan-modelfiles-'));
let n = 0;

/** A generator file's tensors for `cfg`, small random values (seeded), in the file's layout. */
function tensorsOf(cfg: GeneratorConfig, seed = 3): Array<[string, StTensor]> {
  return [...generatorTensorShapes(cfg)].map(([name, shape], i) => {
    const count = shape.reduce((a, b) => a * b, 1);
    const v = Float32Array.from(uniform(count, seed + i, -0.1, 0.1));
    if (name.endsWith('running_var')) v.fill(1);
    return [name, fromFloat32(v, shape)];
  });
}

function write(tensors: Array<[string, StTensor]>, metadata?: Record<string, string>): string {
  const p = join(dir, `m${n++}.safetensors`);
  writeFileSync(p, serializeSafetensors(tensors, metadata));
  return p;
}

const meta = (g: unknown) => ({ format: 'srgan-webgpu-generator', generator: JSON.stringify(g) });
const tiny: GeneratorConfig = { channels: 4, blocks: 1, scale: 4 };

beforeAll(async () => { await testGpu(); });

describe('generator files from the header alone', () => {
  it('metadata out of bounds is refused at once, before any shape table or model is built', async () => {
    const t = tensorsOf(tiny);
    const cases: Array<[unknown, RegExp]> = [
      [{ channels: 4, blocks: 100_000_000, scale: 4 }, /generator blocks 100000000 is not an integer in 0\.\.256/],
      [{ channels: 2048, blocks: 1, scale: 4 }, /generator channels 2048 is not an integer in 1\.\.1024/],
      [{ channels: 4, blocks: 1, scale: 3 }, /generator scale 3 is not 2 or 4/],
      [{ channels: 4.5, blocks: 1, scale: 4 }, /generator channels 4\.5/],
      [{ channels: '4', blocks: 1, scale: 4 }, /generator channels "4"/],
      [{ channels: 4, blocks: -1, scale: 4 }, /generator blocks -1/],
      [[4, 1, 4], /generator channels undefined/],
      [{ channels: 4, blocks: 1, scale: 4, upsample: 'bilinear' }, /generator upsample "bilinear" is not 'shuffle' or 'nearest' or 'espcn' or 'shuffle-espcn'/],
      [{ channels: 4, blocks: 1, scale: 4, norm: 'layer' }, /generator norm "layer" is not 'batch' or 'none'/],
      [{ channels: 4, blocks: 1, scale: 4, skip: 'bicubic' }, /generator skip "bicubic" is not 'none' or 'bilinear'/],
    ];
    for (const [g, re] of cases) {
      const p = write(t, meta(g));
      const t0 = performance.now();
      await expect(loadGenerator(p)).rejects.toThrow(re);
      await expect(loadFoldedGenerator(p)).rejects.toThrow(re);
      expect(performance.now() - t0).toBeLessThan(2000);
    }
    const bad = write(t, { generator: '{"channels": 4,' });
    await expect(readGeneratorHeader(bad)).rejects.toThrow(/malformed 'generator' metadata/);
  });

  it('every shape is checked against the configuration from the header, naming the tensor', async () => {
    // a channels-4 file claiming 512 channels: within bounds, refused by shape before anything is built
    const p = write(tensorsOf(tiny), meta({ channels: 512, blocks: 1, scale: 4 }));
    await expect(readGeneratorHeader(p)).rejects.toThrow(new RegExp(`^${p}: tensor 'conv_in.weight' has shape \\[4,3,9,9\\], the model expects \\[512,3,9,9\\]$`));
    await expect(loadGenerator(p)).rejects.toThrow(/conv_in.weight' has shape/);
    // more blocks than the file holds
    const q = write(tensorsOf(tiny), meta({ channels: 4, blocks: 3, scale: 4 }));
    await expect(loadFoldedGenerator(q)).rejects.toThrow(/tensor 'blocks.1.conv1.weight' is missing/);
    // an extra tensor, and a non-float dtype
    const extra = write([...tensorsOf(tiny), ['stray', fromFloat32(new Float32Array(1), [1])]], meta(tiny));
    await expect(readGeneratorHeader(extra)).rejects.toThrow(/unexpected tensor 'stray'/);
    const ints = tensorsOf(tiny).map(([k, t]): [string, StTensor] => (k === 'act_in.weight' ? [k, { dtype: 'I32', shape: t.shape, data: t.data }] : [k, t]));
    await expect(readGeneratorHeader(write(ints, meta(tiny)))).rejects.toThrow(/tensor 'act_in.weight' has dtype I32/);
  });

  it('NaN or infinite weights are refused naming the file and the tensor', async () => {
    for (const [bad, dtype, re] of [[NaN, 'F32', /NaN at element 5/], [Infinity, 'F16', /Infinity at element 5/], [-Infinity, 'F32', /-Infinity/]] as const) {
      const t = tensorsOf(tiny).map(([k, v]): [string, StTensor] => {
        if (k !== 'blocks.0.conv2.weight') return [k, v];
        const f = new Float32Array(v.data.buffer.slice(v.data.byteOffset, v.data.byteOffset + v.data.byteLength));
        f[5] = bad;
        return [k, fromFloat32(f, v.shape, dtype)];
      });
      const p = write(t, meta(tiny));
      const msg = new RegExp(`^${p}: tensor 'blocks.0.conv2.weight' holds a non-finite value .*${re.source}`);
      await expect(readGeneratorFile(p)).rejects.toThrow(msg);
      await expect(loadGenerator(p)).rejects.toThrow(msg);
      await expect(loadFoldedGenerator(p)).rejects.toThrow(msg);
    }
  });

  it('a generator file written by the project carries a checksum of its data, and a changed byte is refused', async () => {
    setInitSeed(2);
    const G = new Generator(tiny);
    const p = join(dir, 'saved.safetensors');
    await saveModule(p, G, meta(tiny));
    G.dispose();
    const { metadata } = await readGeneratorFile(p);
    expect(metadata.data_sha256).toMatch(/^[0-9a-f]{64}$/);
    const bytes = readFileSync(p);
    bytes[bytes.length - 3] ^= 0x40; // a flipped bit in the last tensor: still finite, still the right shapes
    const q = join(dir, 'flipped.safetensors');
    writeFileSync(q, bytes);
    await expect(loadFoldedGenerator(q)).rejects.toThrow(new RegExp(`^${q}: checksum mismatch`));
    // scripts/to-f16.mjs: float16 tensors, metadata kept, the checksum recomputed for the new bytes
    const h = join(dir, 'saved-f16.safetensors');
    execFileSync('node', [fileURLToPath(new URL('../../scripts/to-f16.mjs', import.meta.url)), p, h]);
    const f16 = await readGeneratorFile(h);
    expect([...f16.tensors.values()].every((t) => t.dtype === 'F16')).toBe(true);
    expect(f16.metadata.data_sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(f16.metadata.data_sha256).not.toBe(metadata.data_sha256);
    expect(f16.metadata.generator).toBe(metadata.generator);
    (await loadFoldedGenerator(h)).dispose();
  });
});

describe('a plain PyTorch state_dict', () => {
  it('loads with channels, blocks and scale read off the shapes, and computes what the same file with metadata does', async () => {
    const cfg: GeneratorConfig = { channels: 5, blocks: 2, scale: 2 };
    const t = tensorsOf(cfg, 11);
    // torch.save(state_dict) keeps BatchNorm's counters: int64 scalars, ignored
    const counter: StTensor = { dtype: 'I64', shape: [], data: new Uint8Array(8) };
    const plain = write([...t, ['blocks.0.bn1.num_batches_tracked', counter], ['bn_mid.num_batches_tracked', counter]]);
    const ours = write(t, meta(cfg));
    expect((await readGeneratorHeader(plain)).config).toEqual(cfg);
    const G = await loadGenerator(plain);
    expect(G.config).toEqual(cfg);
    G.dispose();
    const A = await loadFoldedGenerator(plain), B = await loadFoldedGenerator(ours);
    const x = Float32Array.from(uniform(7 * 6 * 3, 4, 0, 1));
    const run = async (F: typeof A) => { const y = noGrad(() => F.forward(fromArray(x, [1, 7, 6, 3]))); const d = await y.data(); y.dispose(); return d; };
    const ya = await run(A), yb = await run(B);
    expect(ya.length).toBe(14 * 12 * 3);
    expect(Array.from(ya)).toEqual(Array.from(yb));
    A.dispose(); B.dispose();
    // scale 4 and no residual blocks
    const c4: GeneratorConfig = { channels: 3, blocks: 0, scale: 4 };
    expect((await readGeneratorFile(write(tensorsOf(c4)))).config).toEqual(c4);
    // ESRGAN-style upsampling (ups.N.conv C -> C, not 4C) is read off the shapes too, and a file
    // whose metadata names the other upsampling is refused by shape
    for (const c of [{ channels: 5, blocks: 1, scale: 4, upsample: 'nearest' }, { channels: 4, blocks: 0, scale: 2, upsample: 'nearest' }] as GeneratorConfig[]) {
      expect((await readGeneratorFile(write(tensorsOf(c)))).config).toEqual(c);
      expect((await readGeneratorFile(write(tensorsOf(c), meta(c)))).config).toEqual(c);
      const shuffle = { ...c, upsample: undefined };
      await expect(readGeneratorHeader(write(tensorsOf(c), meta(shuffle)))).rejects.toThrow(/tensor 'ups.0.conv.weight' has shape \[\d+,\d+,3,3\], the model expects/);
    }
    // ESPCN's tail (no ups.N, conv_out 3x3 to 3 * scale^2 channels) is read off the shapes, its
    // scale from conv_out's channels; metadata naming another upsampling is refused by name
    for (const c of [{ channels: 5, blocks: 1, scale: 4, upsample: 'espcn', norm: 'none' }, { channels: 4, blocks: 2, scale: 2, upsample: 'espcn' }] as GeneratorConfig[]) {
      expect((await readGeneratorFile(write(tensorsOf(c)))).config).toEqual(c);
      expect((await readGeneratorFile(write(tensorsOf(c), meta(c)))).config).toEqual(c);
      expect(tensorsOf(c).find(([k]) => k === 'conv_out.weight')![1].shape).toEqual([3 * c.scale ** 2, c.channels, 3, 3]);
      await expect(readGeneratorHeader(write(tensorsOf(c), meta({ ...c, upsample: 'nearest' })))).rejects.toThrow(/tensor 'ups.0.conv.weight' is missing/);
    }
    // one pixel-shuffle step and an ESPCN output at 2x (conv_out 3x3 to 12): scale 4 only
    const se: GeneratorConfig = { channels: 4, blocks: 1, scale: 4, upsample: 'shuffle-espcn', norm: 'none' };
    expect((await readGeneratorFile(write(tensorsOf(se)))).config).toEqual(se);
    expect(tensorsOf(se).filter(([k]) => k.endsWith('.weight') && !k.startsWith('blocks.')).map(([k, t]) => [k, t.shape]))
      .toEqual([['conv_in.weight', [4, 3, 9, 9]], ['act_in.weight', [4]], ['conv_mid.weight', [4, 4, 3, 3]], ['ups.0.conv.weight', [16, 4, 3, 3]], ['ups.0.act.weight', [4]], ['conv_out.weight', [12, 4, 3, 3]]]);
    await expect(readGeneratorHeader(write(tensorsOf(se), meta({ ...se, scale: 2 })))).rejects.toThrow(/generator upsample 'shuffle-espcn' needs scale 4 \(at scale 2 it is 'espcn'\)/);
    // a BN-free body (EDSR's) is read off the shapes too (no bn_mid); a skip leaves no tensor, so it
    // comes from the metadata; a file whose metadata names BN while it has none is refused by name
    for (const c of [{ channels: 5, blocks: 2, scale: 4, norm: 'none' }, { channels: 4, blocks: 1, scale: 2, upsample: 'nearest', norm: 'none' }] as GeneratorConfig[]) {
      expect((await readGeneratorFile(write(tensorsOf(c)))).config).toEqual(c);
      const skip = { ...c, skip: 'bilinear' } as GeneratorConfig;
      expect((await readGeneratorFile(write(tensorsOf(skip), meta(skip)))).config).toEqual(skip);
      await expect(readGeneratorHeader(write(tensorsOf(c), meta({ ...c, norm: undefined })))).rejects.toThrow(/tensor 'blocks.0.conv1.bias' not in the model|tensor 'blocks.0.bn1.weight' is missing/);
    }
  });

  it('anything that is not a generator is a clear error', async () => {
    const f = (shape: number[]) => fromFloat32(new Float32Array(shape.reduce((a, b) => a * b, 1)), shape);
    const cases: Array<[Array<[string, StTensor]>, RegExp]> = [
      [[['features.0.weight', f([64, 3, 3, 3])], ['features.0.bias', f([64])]], /not a generator: no 'generator' metadata and no tensor 'conv_in.weight'/],
      [[['conv_in.weight', f([4, 3, 3, 3])]], /not a generator: tensor 'conv_in.weight' has shape \[4,3,3,3\], a generator's is \[channels, 3, 9, 9\]/],
      [tensorsOf(tiny).filter(([k]) => !k.startsWith('ups.')), /not a generator of scale 2 or 4: 0 upsampling stages/],
      [tensorsOf(tiny).map(([k, v]): [string, StTensor] => [k.replace(/^ups\.1\./, 'ups.2.'), v]), /not a generator of scale 2 or 4: 3 upsampling stages/],
      [tensorsOf(tiny).filter(([k]) => k !== 'blocks.0.bn2.running_var'), /tensor 'blocks.0.bn2.running_var' is missing/],
      [[['conv_in.weight', f([2000, 3, 9, 9])], ...tensorsOf(tiny).slice(1)], /generator channels 2000 is not an integer in 1\.\.1024/],
      [tensorsOf(tiny).map(([k, v]): [string, StTensor] => [`generator.${k}`, v]), /this is a full training checkpoint; pass the generator.safetensors beside it/],
    ];
    for (const [t, re] of cases) {
      const p = write(t);
      await expect(loadFoldedGenerator(p)).rejects.toThrow(new RegExp(`^${p}: ${re.source}`));
    }
    // a huge block index costs nothing either
    const far = tensorsOf(tiny).map(([k, v]): [string, StTensor] => [k.replace(/^blocks\.0\./, 'blocks.99999999.'), v]);
    await expect(readGeneratorHeader(write(far))).rejects.toThrow(/generator blocks 100000000 is not an integer/);
  });
});

describe('--init-generator: what a run starts from in another network\'s file', () => {
  const layer = (n: string) => n.slice(0, n.lastIndexOf('.'));
  const base: GeneratorConfig = { channels: 8, blocks: 2, scale: 4 };
  const file = new Map(tensorsOf(base));

  it('the same network: every tensor, nothing fresh', () => {
    const r = initialGeneratorTensors(base, file, { ...base }, 'g.safetensors');
    expect(r.fresh).toEqual([]);
    expect(r.tensors).toBe(file);
  });

  it.each([
    ['nearest', (n: string) => n.startsWith('ups.')], // another step kind: every upsampling layer fresh, conv_out kept
    ['espcn', (n: string) => n.startsWith('conv_out.')], // no steps, a 3x3 conv_out to 48 channels
    ['shuffle-espcn', (n: string) => n.startsWith('conv_out.')], // ups.0 alike (a shuffle step), ups.1 gone, conv_out 3x3
  ] as const)('a pixel-shuffle SRResNet into a %s run: the body and the alike tail layers, the rest fresh', (upsample, isFresh) => {
    const want: GeneratorConfig = { ...base, upsample };
    const shapes = generatorTensorShapes(want);
    const r = initialGeneratorTensors(base, file, want, 'g.safetensors');
    const fresh = new Set([...shapes.keys()].filter(isFresh).map(layer));
    expect(new Set(r.fresh)).toEqual(fresh);
    expect(fresh.size).toBeGreaterThan(0);
    // kept: exactly the run's tensors outside the fresh layers, each the file's own, of the run's shape
    expect([...r.tensors.keys()].sort()).toEqual([...shapes.keys()].filter((n) => !fresh.has(layer(n))).sort());
    for (const [n, t] of r.tensors) { expect(t).toBe(file.get(n)); expect(t.shape).toEqual(shapes.get(n)); }
    expect([...r.tensors.keys()].some((n) => n.startsWith('blocks.1.'))).toBe(true);
  });

  it.each([
    [{ ...base, channels: 16 }, 'another width'],
    [{ ...base, blocks: 3 }, 'another depth'],
    [{ arch: 'compact' as const, channels: 8, blocks: 2, scale: 4 as const }, 'another architecture'],
  ])('%j (%s): one error naming the file and both networks', (want, _why) => {
    expect(() => initialGeneratorTensors(base, file, want, 'dir/g.safetensors')).toThrow(/^dir\/g\.safetensors: generator \{.*\} does not match this run's generator \{.*\}$/);
  });
});
