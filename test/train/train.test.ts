// Training on tiny configurations: one step of each phase, overfitting, exact resume, bad inputs.
import { describe, it, expect, beforeAll } from 'vitest';
import { mkdtempSync, mkdirSync, writeFileSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { testGpu, rng } from '../helpers.js';
import { gpu } from '../../src/gpu/gpu.js';
import { encodePng } from '../../src/image/png.js';
import { resolveConfig } from '../../src/srgan/config.js';
import { Trainer } from '../../src/train/trainer.js';
import { makeBatch } from '../../src/train/data.js';
import { loadGenerator } from '../../src/node/model.js';
import type { GeneratorConfig } from '../../src/srgan/generator.js';

const VGG = fileURLToPath(new URL('../../../shared/weights/vgg19_tfjs_fp32_partial', import.meta.url));

/** A folder of smooth random colour images (and the odd one out, if asked). */
function makeData(n: number, size = 48): string {
  const dir = mkdtempSync(join(tmpdir(), 'srgan-data-'));
  const r = rng(99);
  for (let k = 0; k < n; k++) {
    const w = size + k * 3, h = size + 5;
    const data = new Float32Array(w * h * 3);
    const f = [r() * 0.3, r() * 0.3, r() * 0.3], p = [r() * 6, r() * 6, r() * 6];
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let c = 0; c < 3; c++) {
      data[(y * w + x) * 3 + c] = 0.5 + 0.4 * Math.sin(f[c] * x + p[c]) * Math.cos(f[(c + 1) % 3] * y);
    }
    writeFileSync(join(dir, `img${k}.png`), encodePng({ width: w, height: h, channels: 3, bitDepth: 8, data }));
  }
  return dir;
}

const tinyCfg = (over: Record<string, unknown> = {}) => resolveConfig({
  generator: { channels: 8, blocks: 1, scale: 4 }, discriminator: { channels: 4, denseUnits: 8 },
  batch: 2, crop: 32, phase1Steps: 2, phase2Steps: 2, vggLayer: 'vgg22', checkpointEvery: 100,
  previewEvery: 0, logEvery: 1, seed: 5, ...over,
});

beforeAll(async () => { await testGpu(); });

describe('trainer', () => {
  it('runs both phases, checkpoints, and a resumed run ends with the same weights as an uninterrupted one', async () => {
    const data = makeData(3);
    const outA = mkdtempSync(join(tmpdir(), 'srgan-runA-'));
    const outB = mkdtempSync(join(tmpdir(), 'srgan-runB-'));
    const a = new Trainer(tinyCfg(), { dataDir: data, outDir: outA, resume: false, vggPath: VGG, quiet: true });
    await a.init();
    await a.run();
    expect(a.step).toBe(4);
    a.dispose();
    const b1 = new Trainer(tinyCfg(), { dataDir: data, outDir: outB, resume: false, vggPath: VGG, quiet: true, stopAfter: 3 });
    await b1.init();
    await b1.run();
    expect(b1.step).toBe(3);
    b1.dispose();
    const b2 = new Trainer(tinyCfg(), { dataDir: data, outDir: outB, resume: true, vggPath: VGG, quiet: true });
    await b2.init();
    expect(b2.step).toBe(3);
    await b2.run();
    b2.dispose();
    const ga = readFileSync(join(outA, 'generator.safetensors'));
    const gb = readFileSync(join(outB, 'generator.safetensors'));
    expect(gb.equals(ga)).toBe(true);
    expect(readFileSync(join(outB, 'checkpoint.safetensors')).equals(readFileSync(join(outA, 'checkpoint.safetensors')))).toBe(true);
    const log = readFileSync(join(outA, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(log.map((r) => r.phase)).toEqual([1, 1, 2, 2]);
    for (const k of ['content', 'adversarial', 'loss_d', 'd_hr', 'd_sr']) expect(Number.isFinite(log[3][k])).toBe(true);
    // the generator alone loads for upscaling
    const G = await loadGenerator(join(outA, 'generator.safetensors'));
    expect(G.config).toEqual({ channels: 8, blocks: 1, scale: 4 });
    G.dispose();
  });

  it('a run folder inside --data is never read back as training data on --resume (issue 29, class 4)', async () => {
    const data = makeData(3);
    const out = join(data, 'run');
    const t1 = new Trainer(tinyCfg({ phase2Steps: 0, previewEvery: 1, previewCount: 2 }), { dataDir: data, outDir: out, resume: false, quiet: true });
    await t1.init(); await t1.run();
    const n = t1.imageCount;
    t1.dispose();
    expect(n).toBe(3);
    expect(existsSync(join(out, 'previews'))).toBe(true); // PNGs larger than the crop, inside --data
    // the trainer's messages reach its caller (train.js prints them), not stderr
    const said: Array<[string, string]> = [];
    const t2 = new Trainer(tinyCfg({ phase2Steps: 0, phase1Steps: 3, previewEvery: 1, previewCount: 2 }),
      { dataDir: data, outDir: out, resume: true, onMessage: (m, kind) => said.push([kind, m]) });
    await t2.init();
    expect(t2.imageCount).toBe(n);
    expect(said).toContainEqual(['info', `data: 3 images from ${data}`]);
    expect(said.some(([k, m]) => k === 'info' && m.startsWith('resumed from'))).toBe(true);
    t2.dispose();
  });

  it('phase 1 overfits a single batch: the MSE falls at least 10x', async () => {
    const data = makeData(2);
    const out = mkdtempSync(join(tmpdir(), 'srgan-overfit-'));
    const cfg = tinyCfg({ phase1Steps: 1000, phase2Steps: 0, lr1: 3e-3, generator: { channels: 16, blocks: 1, scale: 4 } });
    const t = new Trainer(cfg, { dataDir: data, outDir: out, resume: false, quiet: true });
    await t.init();
    const imgs = (t as unknown as { images: Parameters<typeof makeBatch>[0] }).images;
    const batch = makeBatch(imgs, 2, 32, 4, 1, 0);
    const first = (await t.trainStep(batch)).mse!;
    let last = first;
    for (let i = 0; i < 150 && last > first / 10; i++) last = (await t.trainStep(batch)).mse!;
    expect(last).toBeLessThan(first / 10);
    t.dispose();
  });

  it('bad inputs give clear errors', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'srgan-empty-'));
    const out = mkdtempSync(join(tmpdir(), 'srgan-out-'));
    const t1 = new Trainer(tinyCfg({ phase2Steps: 0 }), { dataDir: empty, outDir: out, resume: false, quiet: true });
    await expect(t1.init()).rejects.toThrow(/no images/);
    t1.dispose();
    await expect(new Trainer(tinyCfg({ phase2Steps: 0 }), { dataDir: join(empty, 'nope'), outDir: out, resume: false, quiet: true }).init()).rejects.toThrow(/no such folder/);
    // a corrupt image is skipped with a warning naming it, through the trainer's messages (train.js prints them)
    const data = makeData(2);
    writeFileSync(join(data, 'broken.png'), Buffer.from('\x89PNG\r\n\x1a\nnot really'));
    const said: Array<[string, string]> = [];
    const t2 = new Trainer(tinyCfg({ phase2Steps: 0 }), { dataDir: data, outDir: out, resume: false, quiet: true, onMessage: (m, kind) => said.push([kind, m]) });
    await t2.init();
    expect(said.filter(([k]) => k === 'warning').map(([, m]) => m)).toEqual([expect.stringMatching(/^warning: .*broken\.png.*skipped$/)]);
    t2.dispose();
    // missing VGG weights
    const t3 = new Trainer(tinyCfg(), { dataDir: data, outDir: mkdtempSync(join(tmpdir(), 'srgan-o-')), resume: false, quiet: true, vggPath: join(empty, 'novgg') });
    await expect(t3.init()).rejects.toThrow(/novgg/);
    t3.dispose();
    // VGG54 from a file that only has the first three blocks
    const t4 = new Trainer(tinyCfg({ vggLayer: 'vgg54' }), { dataDir: data, outDir: mkdtempSync(join(tmpdir(), 'srgan-o-')), resume: false, quiet: true, vggPath: VGG });
    await expect(t4.init()).rejects.toThrow(/incomplete/);
    t4.dispose();
    // a checkpoint from another configuration
    const run = mkdtempSync(join(tmpdir(), 'srgan-run-'));
    const t5 = new Trainer(tinyCfg({ phase2Steps: 0, phase1Steps: 1 }), { dataDir: data, outDir: run, resume: false, quiet: true });
    await t5.init(); await t5.run(); t5.dispose();
    expect(existsSync(join(run, 'checkpoint.safetensors'))).toBe(true);
    const t6 = new Trainer(tinyCfg({ phase2Steps: 0, phase1Steps: 2, generator: { channels: 12, blocks: 1, scale: 4 } }), { dataDir: data, outDir: run, resume: true, quiet: true });
    await expect(t6.init()).rejects.toThrow(/another model configuration/);
    t6.dispose();
    mkdirSync(join(out, 'x'), { recursive: true });
  });

  it('a NaN loss stops the run naming the step and the term, and leaves the last checkpoint intact', async () => {
    const data = makeData(2);
    const run = mkdtempSync(join(tmpdir(), 'srgan-nan-'));
    const cfg = tinyCfg({ phase1Steps: 6, phase2Steps: 0, checkpointEvery: 2 });
    const t = new Trainer(cfg, { dataDir: data, outDir: run, resume: false, quiet: true, stopAfter: 2 });
    await t.init();
    await t.run();
    expect(t.step).toBe(2);
    const ckpt = readFileSync(join(run, 'checkpoint.safetensors'));
    const gen = readFileSync(join(run, 'generator.safetensors'));
    t.opts.stopAfter = undefined;
    // the weights go bad (as after a divergent update): the next loss is NaN
    gpu().write(t.G.convOut.bias!.buffer, new Float32Array(3).fill(NaN));
    await expect(t.run()).rejects.toThrow(/step 3: loss_g is NaN.*last checkpoint, step 2, is intact/);
    t.dispose();
    expect(readFileSync(join(run, 'checkpoint.safetensors')).equals(ckpt)).toBe(true);
    expect(readFileSync(join(run, 'generator.safetensors')).equals(gen)).toBe(true);
    // and it resumes from there
    const t2 = new Trainer(cfg, { dataDir: data, outDir: run, resume: true, quiet: true, stopAfter: 1 });
    await t2.init();
    expect(t2.step).toBe(2);
    await t2.run();
    expect(t2.step).toBe(3);
    t2.dispose();
  });

  it('--init-generator starts a phase-2 run from a phase-1 generator, and refuses a mismatched one', async () => {
    const data = makeData(2);
    const run1 = mkdtempSync(join(tmpdir(), 'srgan-p1-'));
    const t1 = new Trainer(tinyCfg({ phase1Steps: 2, phase2Steps: 0 }), { dataDir: data, outDir: run1, resume: false, quiet: true });
    await t1.init(); await t1.run(); t1.dispose();
    const genFile = join(run1, 'generator.safetensors');
    const run2 = mkdtempSync(join(tmpdir(), 'srgan-p2-'));
    const t2 = new Trainer(tinyCfg({ phase1Steps: 0, phase2Steps: 1, seed: 77 }), { dataDir: data, outDir: run2, resume: false, quiet: true, vggPath: VGG, initGenerator: genFile });
    await t2.init();
    // before any step the generator holds exactly the phase-1 weights (not seed 77's initialisation)
    const { saveModule } = await import('../../src/node/state.js');
    const probe = join(run2, 'probe.safetensors');
    await saveModule(probe, t2.G, {});
    const { parseSafetensors } = await import('../../src/nn/safetensors.js');
    const a = parseSafetensors(new Uint8Array(readFileSync(probe)), probe).tensors;
    const b = parseSafetensors(new Uint8Array(readFileSync(genFile)), genFile).tensors;
    expect([...a.keys()].sort()).toEqual([...b.keys()].sort());
    for (const [k, t] of a) expect(Buffer.from(t.data).equals(Buffer.from(b.get(k)!.data)), k).toBe(true);
    await t2.run();
    expect(t2.step).toBe(1);
    const log = readFileSync(join(run2, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(log[0].phase).toBe(2);
    t2.dispose();
    // a generator of another shape is a clear error
    const t3 = new Trainer(tinyCfg({ phase1Steps: 0, phase2Steps: 1, generator: { channels: 12, blocks: 1, scale: 4 } }),
      { dataDir: data, outDir: mkdtempSync(join(tmpdir(), 'srgan-p2b-')), resume: false, quiet: true, vggPath: VGG, initGenerator: genFile });
    await expect(t3.init()).rejects.toThrow(/does not match this run's generator/);
    t3.dispose();
    // a run of another tail from a generator file: the trainer after init, and its generator's tensors then
    const initFrom = async (file: string, generator: GeneratorConfig | undefined, steps: number) => {
      const run = mkdtempSync(join(tmpdir(), 'srgan-init-'));
      const t = new Trainer(tinyCfg({ phase1Steps: steps, phase2Steps: 0, ...(generator ? { generator } : {}) }),
        { dataDir: data, outDir: run, resume: false, quiet: true, initGenerator: file });
      await t.init();
      const probe = join(run, 'probe.safetensors');
      await saveModule(probe, t.G, {});
      return { t, run, tensors: parseSafetensors(new Uint8Array(readFileSync(probe)), probe).tensors };
    };
    const fromFile = (k: string, t: { data: Uint8Array }) => Buffer.from(t.data).equals(Buffer.from(b.get(k)!.data));
    // a nearest-neighbour run from the pixel-shuffle file: every tensor but the upsampling steps';
    // an ESPCN run: the body's tensors, a new conv_out (3x3 to 48) and no upsampling steps; a
    // shuffle-espcn run: the body and the first upsampling step (the same kind), a new conv_out (3x3
    // to 12), no second step
    const cases: Array<[GeneratorConfig, (k: string) => boolean, Record<string, number[]>]> = [
      [{ channels: 8, blocks: 1, scale: 4, upsample: 'nearest' }, () => true, { 'ups.0.conv.weight': [8, 8, 3, 3], 'ups.0.conv.bias': [8], 'ups.0.act.weight': [8], 'ups.1.conv.weight': [8, 8, 3, 3], 'ups.1.conv.bias': [8], 'ups.1.act.weight': [8] }],
      [{ channels: 8, blocks: 1, scale: 4, upsample: 'espcn' }, (k) => !k.startsWith('ups.'), { 'conv_out.weight': [48, 8, 3, 3], 'conv_out.bias': [48] }],
      [{ channels: 8, blocks: 1, scale: 4, upsample: 'shuffle-espcn' }, (k) => !k.startsWith('ups.1.'), { 'conv_out.weight': [12, 8, 3, 3], 'conv_out.bias': [12] }],
    ];
    const runs: string[] = [];
    for (const [cfg, kept, fresh] of cases) {
      const { t, run, tensors } = await initFrom(genFile, cfg, 2);
      expect([...tensors.keys()].sort(), cfg.upsample).toEqual([...b.keys()].filter(kept).sort());
      for (const [k, v] of tensors) {
        if (k in fresh) expect(v.shape, k).toEqual(fresh[k]);
        else expect(fromFile(k, v), `${cfg.upsample} ${k}`).toBe(true);
      }
      await t.run();
      expect(t.step).toBe(2);
      t.dispose();
      const G = await loadGenerator(join(run, 'generator.safetensors'));
      expect(G.config).toEqual(cfg);
      G.dispose();
      runs.push(run);
    }
    // and back: a pixel-shuffle run from the nearest-neighbour file takes no upsampling step from it
    const nearestFile = join(runs[0], 'generator.safetensors');
    const { t: t7, tensors: f7 } = await initFrom(nearestFile, undefined, 1);
    const n4 = parseSafetensors(new Uint8Array(readFileSync(nearestFile)), nearestFile).tensors;
    for (const [k, t] of f7) expect(Buffer.from(t.data).equals(Buffer.from(n4.get(k)!.data)), k).toBe(!k.startsWith('ups.'));
    t7.dispose();
  });
});
