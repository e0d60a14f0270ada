// Training-recipe options beyond the paper, each checked against an independent reference:
// L1 pixel loss, the generator's weight EMA, learning-rate schedules, the pooled discriminator
// head, --resume reusing the saved configuration, and --val checked up front.
import { describe, it, expect, beforeAll } from 'vitest';
import { mkdtempSync, writeFileSync, readFileSync, existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { testGpu, rng, uniform, expectClose, finiteDiff } from '../helpers.js';
import { encodePng } from '../../src/image/png.js';
import { fromArray, backward, tidy } from '../../src/nn/tensor.js';
import * as ops from '../../src/nn/ops.js';
import { setInitSeed } from '../../src/nn/layers.js';
import { parseSafetensors, serializeSafetensors, toFloat32 } from '../../src/nn/safetensors.js';
import { stateTensors } from '../../src/nn/state.js';
import { resolveConfig, learningRate, DEFAULT_CONFIG, type TrainConfig } from '../../src/srgan/config.js';
import { Discriminator, discriminatorParamCount, PAPER_DISCRIMINATOR } from '../../src/srgan/discriminator.js';
import { Trainer } from '../../src/train/trainer.js';
import { resumeConfig } from '../../src/train/checkpoint.js';
import { makeBatch } from '../../src/train/data.js';
import { blockPhases, boxAverage4, chroma, gridPhases } from '../../src/srgan/losses.js';
import { evaluateFolder } from '../../src/train/evaluate.js';

function makeData(n: number, size = 48): string {
  const dir = mkdtempSync(join(tmpdir(), 'srgan-recipe-data-'));
  const r = rng(7);
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
  batch: 2, crop: 32, phase1Steps: 3, phase2Steps: 0, checkpointEvery: 100, previewEvery: 0, logEvery: 1, seed: 5, ...over,
});
const tmp = (p: string) => mkdtempSync(join(tmpdir(), p));
const images = (t: Trainer) => (t as unknown as { images: Parameters<typeof makeBatch>[0] }).images;

/** Runs fn with stderr captured; returns what was written. */
async function captureStderr(fn: () => Promise<void>): Promise<string> {
  const out: string[] = [];
  const orig = process.stderr.write.bind(process.stderr);
  (process.stderr as unknown as { write: (s: string) => boolean }).write = (s: string) => { out.push(String(s)); return true; };
  try { await fn(); } finally { (process.stderr as unknown as { write: typeof orig }).write = orig; }
  return out.join('');
}

beforeAll(async () => { await testGpu(); });

describe('pixel loss l1', () => {
  it('mean |a - b| and its gradient match a float64 reference, and the reference matches finite differences', async () => {
    const shape = [3, 5, 7, 3], n = 315;
    const av = uniform(n, 11), bv = uniform(n, 12);
    bv[5] = Math.fround(av[5]); av[5] = bv[5]; // a tie: PyTorch's sign(0) = 0 gradient
    const ref = (a: Float64Array) => a.reduce((s, x, i) => s + Math.abs(x - bv[i]), 0) / n;
    const [loss, ga, gb] = await tidy(() => {
      const a = fromArray(av, shape, true), b = fromArray(bv, shape, true);
      const l = ops.l1Loss(a, b);
      backward(l);
      return Promise.all([l.data(), a.grad!.data(), b.grad!.data()]);
    });
    expectClose([loss[0]], [ref(av)], 1e-5, 0, 'l1 value');
    const want = Array.from(av, (x, i) => Math.sign(x - bv[i]) / n);
    expectClose(ga, want, 1e-5, 1e-9, 'dL/da');
    expectClose(gb, want.map((v) => -v), 1e-5, 1e-9, 'dL/db');
    expect(ga[5]).toBe(0);
    const idx = [0, 17, 101, 200, 314];
    expectClose(idx.map((i) => want[i]), finiteDiff(ref, av, idx, 1e-6), 1e-4, 1e-9, 'reference vs finite differences');
  });

  it('pixelLoss l1 trains phase 1 and logs the l1 value', async () => {
    const t = new Trainer(tinyCfg({ pixelLoss: 'l1' }), { dataDir: makeData(2), outDir: tmp('srgan-l1-'), resume: false, quiet: true });
    await t.init();
    const b = makeBatch(images(t), 2, 32, 4, 1, 0);
    const rec = await t.trainStep(b);
    expect(rec.l1).toBeGreaterThan(0);
    expect(rec.mse).toBeUndefined();
    // the logged value of the next step is mean |G(LR) - HR| of the generator as it is now
    const sr = await tidy(() => t.G.forward(fromArray(b.lr, [2, 8, 8, 3]))).data();
    const rec2 = await t.trainStep(b);
    const want = sr.reduce((s, x, i) => s + Math.abs(x - b.hr[i]), 0) / sr.length;
    expectClose([rec2.l1!], [want], 1e-4, 0, 'logged l1');
    t.dispose();
  });
});

describe('phase-2 pixel loss (pixelWeight2)', () => {
  it('adds weight x the pixel loss of G(LR) to the generator loss, and logs it; off (the paper) by default', async () => {
    const cfg = tinyCfg({ phase1Steps: 0, phase2Steps: 3, vggLayer: 'vgg22', pixelLoss: 'l1', pixelWeight2: 0.5, discriminator: { channels: 4, denseUnits: 8, head: 'pool' } });
    const t = new Trainer(cfg, { dataDir: makeData(2), outDir: tmp('srgan-pix2-'), resume: false, quiet: true, vggRandom: true });
    await captureStderr(() => t.init());
    const b = makeBatch(images(t), 2, 32, 4, 1, 0);
    await t.trainStep(b);
    // the next step's pixel term is mean |G(LR) - HR| of the generator as it is now
    const sr = await tidy(() => t.G.forward(fromArray(b.lr, [2, 8, 8, 3]))).data();
    const rec = await t.trainStep(b);
    const want = sr.reduce((acc, x, i) => acc + Math.abs(x - b.hr[i]), 0) / sr.length;
    expectClose([rec.l1!], [want], 1e-4, 0, 'logged pixel term');
    expectClose([rec.loss_g], [rec.content! + cfg.advWeight * rec.adversarial! + 0.5 * rec.l1!], 1e-5, 1e-7, 'loss_g = content + adv + pixel');
    t.dispose();
    expect(DEFAULT_CONFIG.pixelWeight2).toBe(0);
    const t0 = new Trainer(tinyCfg({ phase1Steps: 0, phase2Steps: 2, vggLayer: 'vgg22', discriminator: { channels: 4, denseUnits: 8, head: 'pool' } }),
      { dataDir: makeData(2), outDir: tmp('srgan-pix0-'), resume: false, quiet: true, vggRandom: true });
    await captureStderr(() => t0.init());
    const r0 = await t0.trainStep(b);
    expect(r0.mse).toBeUndefined();
    expectClose([r0.loss_g], [r0.content! + 1e-3 * r0.adversarial!], 1e-5, 1e-7, 'paper: loss_g = content + adv');
    t0.dispose();
  });
});

describe('generator EMA', () => {
  it('after each update ema = d*ema + (1-d)*w for every parameter and BN statistic; generator.safetensors holds the average', async () => {
    const d = 0.75;
    const out = tmp('srgan-ema-');
    const t = new Trainer(tinyCfg({ ema: d, phase1Steps: 10, lr1: 3e-3 }), { dataDir: makeData(2), outDir: out, resume: false, quiet: true });
    await t.init();
    // parameters and buffers (BN running statistics) alike
    const live = [...t.G.namedParameters(), ...t.G.namedBuffers()], avg = [...t.Gema!.namedParameters(), ...t.Gema!.namedBuffers()];
    expect(t.G.namedBuffers().length).toBeGreaterThan(0);
    const read = async (es: typeof live) => Promise.all(es.map(async ([, e]) => Float64Array.from(await e.tensor.data())));
    let ref = await read(live);
    for (const [i, w] of (await read(avg)).entries()) expect(Array.from(w)).toEqual(Array.from(ref[i]));
    for (let s = 0; s < 3; s++) {
      await t.trainStep(makeBatch(images(t), 2, 32, 4, 1, s));
      const w = await read(live);
      ref = ref.map((e, i) => e.map((v, k) => d * v + (1 - d) * w[i][k]));
    }
    const got = await read(avg);
    got.forEach((g, i) => expectClose(g, ref[i], 1e-5, 1e-7, avg[i][0]));
    // the average did move away from the live weights (the test is not vacuous)
    const w = await read(live);
    expect(w.some((x, i) => x.some((v, k) => Math.abs(v - got[i][k]) > 1e-5))).toBe(true);
    await t.saveCheckpoint();
    const gen = parseSafetensors(new Uint8Array(readFileSync(join(out, 'generator.safetensors'))), 'g').tensors;
    for (const [name, st] of await stateTensors(t.Gema!.stateEntries())) {
      expect(Buffer.from(gen.get(name)!.data).equals(Buffer.from(st.data)), name).toBe(true);
    }
    const ck = parseSafetensors(new Uint8Array(readFileSync(join(out, 'checkpoint.safetensors'))), 'c').tensors;
    expect(ck.has('ema.conv_in.weight')).toBe(true);
    expect(ck.has('ema.blocks.0.bn1.running_mean')).toBe(true);
    t.dispose();
  });

  it('resume with EMA is exact; a checkpoint without EMA tensors starts the average from the current weights', async () => {
    const data = makeData(2);
    const cfg = tinyCfg({ ema: 0.9, phase1Steps: 4 });
    const a = new Trainer(cfg, { dataDir: data, outDir: tmp('srgan-emaA-'), resume: false, quiet: true });
    await a.init(); await a.run(); a.dispose();
    const outB = tmp('srgan-emaB-');
    const b1 = new Trainer(cfg, { dataDir: data, outDir: outB, resume: false, quiet: true, stopAfter: 2 });
    await b1.init(); await b1.run(); b1.dispose();
    const b2 = new Trainer(cfg, { dataDir: data, outDir: outB, resume: true, quiet: true });
    await b2.init(); await b2.run(); b2.dispose();
    for (const f of ['checkpoint.safetensors', 'generator.safetensors']) {
      expect(readFileSync(join(outB, f)).equals(readFileSync(join(a.opts.outDir, f))), f).toBe(true);
    }
    expect(existsSync(join(outB, 'plot.png'))).toBe(true);
    // a run without the average, resumed with one
    const outC = tmp('srgan-emaC-');
    const c1 = new Trainer(tinyCfg({ phase1Steps: 2 }), { dataDir: data, outDir: outC, resume: false, quiet: true });
    await c1.init(); await c1.run(); c1.dispose();
    const c2 = new Trainer(tinyCfg({ phase1Steps: 3, ema: 0.9 }), { dataDir: data, outDir: outC, resume: true });
    const msg = await captureStderr(() => c2.init());
    expect(msg).toMatch(/no EMA weights in the checkpoint.*starts from the current weights/);
    const lp = c2.G.namedParameters(), ap = c2.Gema!.namedParameters();
    for (let i = 0; i < lp.length; i++) expect(Array.from(await ap[i][1].tensor.data())).toEqual(Array.from(await lp[i][1].tensor.data()));
    c2.dispose();
    // and an EMA checkpoint resumed with ema 0 drops the average, saying so
    const c3 = new Trainer(tinyCfg({ phase1Steps: 5 }), { dataDir: data, outDir: outB, resume: true });
    expect(await captureStderr(() => c3.init())).toMatch(/has EMA weights but ema is 0/);
    expect(c3.step).toBe(4);
    c3.dispose();
  });
});

describe('learning-rate schedules', () => {
  const cfg = (o: Record<string, unknown>) => resolveConfig({ phase1Steps: 100, phase2Steps: 40, lr1: 1e-4, lr2: 1e-4, lr2Final: 1e-5, ...o });
  const close = (got: number, want: number) => expect(Math.abs(got - want)).toBeLessThan(1e-12 + 1e-9 * want);

  it('defaults are the paper: constant lr1, then lr2 for the first half of phase 2 and lr2Final after', () => {
    const c = cfg({});
    for (const s of [0, 1, 50, 99]) close(learningRate(c, s), 1e-4);
    for (const s of [100, 119]) close(learningRate(c, s), 1e-4);
    for (const s of [120, 139]) close(learningRate(c, s), 1e-5);
    expect(DEFAULT_CONFIG.schedule1).toBe('constant');
    expect(DEFAULT_CONFIG.schedule2).toBe('step');
  });

  it('cosine with warmup in phase 1, cosine in phase 2 (hand-computed values)', () => {
    const c = cfg({ schedule1: 'cosine', lr1Min: 1e-6, warmup1: 10, schedule2: 'cosine' });
    close(learningRate(c, 0), 1e-5);          // 1e-4 * 1/10
    close(learningRate(c, 4), 5e-5);          // 1e-4 * 5/10
    close(learningRate(c, 9), 1e-4);
    close(learningRate(c, 10), 1e-4);         // the cosine starts at lr1
    close(learningRate(c, 55), 5.05e-5);      // halfway: (1e-4 + 1e-6) / 2
    close(learningRate(c, 100), 1e-4);        // phase 2 starts at lr2
    close(learningRate(c, 110), 8.681980515339464e-5); // 1e-5 + 9e-5 * (1 + cos(pi/4)) / 2
    close(learningRate(c, 130), 2.3180194846605363e-5); // 1e-5 + 9e-5 * (1 + cos(3pi/4)) / 2
    const nw = cfg({ schedule1: 'cosine' });
    close(learningRate(nw, 25), 8.535533905932738e-5); // 1e-4 * (1 + cos(pi/4)) / 2
    close(learningRate(nw, 0), 1e-4);
    // warmup before a constant rate
    close(learningRate(cfg({ warmup1: 4 }), 1), 5e-5);
    expect(() => resolveConfig({ schedule1: 'linear' })).toThrow(/schedule1 must be 'constant' or 'cosine'/);
    expect(() => resolveConfig({ ema: 1 })).toThrow(/ema must be in \[0, 1\)/);
  });
});

describe('discriminator head pool', () => {
  it('global average pool: forward and its gradient through the tape vs a float64 reference and finite differences', async () => {
    const [N, H, W, C] = [3, 5, 7, 6], n = N * H * W * C;
    const xv = uniform(n, 31), rv = uniform(N * C, 32);
    // f(x) = mean over (n, c) of r[n,c] * (mean over h,w of x[n,h,w,c])
    const pool = (x: Float64Array) => {
      const p = new Float64Array(N * C);
      for (let i = 0; i < n; i++) p[Math.floor(i / (H * W * C)) * C + (i % C)] += x[i] / (H * W);
      return p;
    };
    const f = (x: Float64Array) => pool(x).reduce((s, v, i) => s + v * rv[i], 0) / (N * C);
    const [y, loss, gx] = await tidy(() => {
      const x = fromArray(xv, [N, H, W, C], true);
      const p = ops.globalAvgPool(x);
      expect(p.shape).toEqual([N, C]);
      const l = ops.mean(ops.mul(p, fromArray(rv, [N, C])));
      backward(l);
      return Promise.all([p.data(), l.data(), x.grad!.data()]);
    });
    expectClose(y, pool(xv), 1e-5, 1e-6, 'pooled');
    expectClose([loss[0]], [f(xv)], 1e-4, 1e-7, 'loss');
    const idx = [0, 7, 100, 333, n - 1];
    expectClose(idx.map((i) => gx[i]), finiteDiff(f, xv, idx), 1e-4, 1e-8, 'dx vs finite differences');
  });

  it('has the expected shape and parameter count, and trains', async () => {
    setInitSeed(4);
    const cfg = { channels: 4, inputSize: 32, denseUnits: 8, head: 'pool' as const };
    const D = new Discriminator(cfg);
    // counted by hand: widths 4,4,8,8,16,16,32,32; BN (2 per channel) on all but the first
    const widths = [4, 4, 8, 8, 16, 16, 32, 32];
    let want = 3 * 4 * 9 + 4;
    for (let i = 1; i < 8; i++) want += widths[i - 1] * widths[i] * 9 + 2 * widths[i];
    want += 32 * 8 + 8 + 8 + 1;
    expect(D.parameterCount()).toBe(want);
    expect(discriminatorParamCount(cfg)).toBe(want);
    expect(D.dense1.weight.shape).toEqual([32, 8]);
    // the paper-size network: the head shrinks from 18432 x 1024 to 512 x 1024 weights
    const paper = discriminatorParamCount(PAPER_DISCRIMINATOR), pooled = discriminatorParamCount({ ...PAPER_DISCRIMINATOR, head: 'pool' });
    expect(paper - pooled).toBe((512 * 36 - 512) * 1024);
    const [logits, gw] = await tidy(() => {
      const z = D.forward(fromArray(uniform(2 * 32 * 32 * 3, 5), [2, 32, 32, 3]));
      backward(ops.bceWithLogits(z, 1));
      return Promise.all([z.data(), D.convIn.weight.grad!.data()]);
    });
    expect(logits.length).toBe(2);
    expect(gw.every(Number.isFinite) && gw.some((v) => v !== 0)).toBe(true);
    D.dispose();
    expect(resolveConfig({}).discriminator.head).toBe('dense');
    expect(() => resolveConfig({ discriminator: { head: 'avg' } })).toThrow(/discriminator.head/);
  });
});

describe('--resume reuses the saved configuration', () => {
  it('starts from the checkpoint config, applies overrides on top, lists the changes, and reads old checkpoints', async () => {
    const data = makeData(2);
    const run = tmp('srgan-resumecfg-');
    const cfg0 = tinyCfg({ phase1Steps: 2, lr1: 2e-4, generator: { channels: 12, blocks: 1, scale: 4 } });
    const t = new Trainer(cfg0, { dataDir: data, outDir: run, resume: false, quiet: true });
    await t.init(); await t.run(); t.dispose();
    // nothing given: exactly the saved config (not the defaults)
    const same = await resumeConfig(run, {});
    expect(same.cfg).toEqual(cfg0);
    expect(same.changes).toEqual([]);
    const r = await resumeConfig(run, { phase1Steps: 3, lr1: 1e-4 });
    expect(r.cfg).toEqual({ ...cfg0, phase1Steps: 3, lr1: 1e-4 });
    expect(r.changes).toEqual(['phase1Steps 2 -> 3', 'lr1 0.0002 -> 0.0001']);
    const t2 = new Trainer(r.cfg, { dataDir: data, outDir: run, resume: true, quiet: true });
    await t2.init(); await t2.run();
    expect(t2.step).toBe(3);
    t2.dispose();
    await expect(resumeConfig(tmp('srgan-none-'), {})).rejects.toThrow(/no checkpoint to resume from/);
    // a checkpoint written before the recipe entries existed: they take their defaults
    const path = join(run, 'checkpoint.safetensors');
    const { tensors, metadata } = parseSafetensors(new Uint8Array(readFileSync(path)), path);
    const old = JSON.parse(metadata.config);
    for (const k of ['schedule1', 'lr1Min', 'warmup1', 'schedule2', 'pixelLoss', 'ema']) delete old[k];
    delete old.discriminator.head;
    const oldRun = tmp('srgan-oldckpt-');
    writeFileSync(join(oldRun, 'checkpoint.safetensors'), serializeSafetensors(tensors, { ...metadata, config: JSON.stringify(old) }));
    const ro = await resumeConfig(oldRun, {});
    expect(ro.changes).toEqual([]);
    expect(ro.cfg).toEqual({ ...cfg0, phase1Steps: 3, lr1: 1e-4 });
    const t3 = new Trainer(ro.cfg, { dataDir: data, outDir: oldRun, resume: true, quiet: true });
    await t3.init();
    expect(t3.step).toBe(3);
    expect(toFloat32(tensors.get('generator.conv_in.bias')!, 'b')).toEqual(await t3.G.convIn.bias!.data());
    t3.dispose();
  });
});

describe('--val', () => {
  it('is checked before training, and validates every 5 checkpoints when validateEvery is 0', async () => {
    const data = makeData(2);
    const empty = tmp('srgan-val-empty-');
    const t1 = new Trainer(tinyCfg(), { dataDir: data, outDir: tmp('srgan-v1-'), resume: false, quiet: true, valDir: empty });
    await expect(t1.init()).rejects.toThrow(/^--val: .*no images/);
    expect(t1.step).toBe(0);
    t1.dispose();
    const t2 = new Trainer(tinyCfg(), { dataDir: data, outDir: tmp('srgan-v2-'), resume: false, quiet: true, valDir: join(empty, 'nope') });
    await expect(t2.init()).rejects.toThrow(/^--val: .*no such folder/);
    t2.dispose();
    const bad = tmp('srgan-val-bad-');
    writeFileSync(join(bad, 'x.png'), Buffer.from('\x89PNG\r\n\x1a\nnot really'));
    const t3 = new Trainer(tinyCfg(), { dataDir: data, outDir: tmp('srgan-v3-'), resume: false, quiet: true, valDir: bad });
    await expect(t3.init()).rejects.toThrow(/^--val: .*x\.png/);
    t3.dispose();
    const val = makeData(1, 40);
    mkdirSync(join(val, 'sub'));
    const run = tmp('srgan-v4-');
    const t4 = new Trainer(tinyCfg({ phase1Steps: 5, checkpointEvery: 1, validateDegraded: 'jpeg50,noise10' }), { dataDir: data, outDir: run, resume: false, quiet: true, valDir: val });
    expect(t4.validateEvery).toBe(5);
    await t4.init(); await t4.run(); t4.dispose();
    const log = readFileSync(join(run, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    const v = log.filter((r) => r.validation);
    expect(v.map((r) => r.step)).toEqual([5]);
    expect(Number.isFinite(v[0].validation.psnrY)).toBe(true);
    // validateDegraded: the same images from JPEG and noisy inputs, each case's model and bicubic rows
    expect(Object.keys(v[0].degraded)).toEqual(['jpeg50', 'noise10']);
    for (const c of ['jpeg50', 'noise10']) {
      expect(Number.isFinite(v[0].degraded[c].model.psnrY)).toBe(true);
      expect(v[0].degraded[c].bicubic.psnrY).toBeLessThan(v[0].bicubic.psnrY); // worse inputs than the clean ones
    }
    expect(existsSync(join(run, 'plot.png'))).toBe(true);
    const t5 = new Trainer(tinyCfg({ validateEvery: 3 }), { dataDir: data, outDir: tmp('srgan-v5-'), resume: false, quiet: true, valDir: val });
    expect(t5.validateEvery).toBe(3);
    t5.dispose();
    const t6 = new Trainer(tinyCfg({ validateEvery: 3 }), { dataDir: data, outDir: tmp('srgan-v6-'), resume: false, quiet: true });
    expect(t6.validateEvery).toBe(0);
    t6.dispose();
  });

  it("in phase 2 also logs the VGG feature distance at the content loss's layer, the bicubic rows computed once", async () => {
    const run = tmp('srgan-v7-');
    const val = makeData(2, 40);
    const t = new Trainer(tinyCfg({ phase1Steps: 0, phase2Steps: 2, validateEvery: 1, vggLayer: 'vgg22', discriminator: { channels: 4, denseUnits: 8, head: 'pool' } }),
      { dataDir: makeData(2), outDir: run, resume: false, quiet: true, vggRandom: true, valDir: val });
    await captureStderr(() => t.init());
    await t.run();
    const v = readFileSync(join(run, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((r) => r.validation);
    expect(v.map((r) => r.step)).toEqual([1, 2]);
    for (const r of v) {
      expect(r.vggLayer).toBe('vgg22');
      expect(r.validation.vgg).toBeGreaterThan(0);
      expect(r.bicubic.vgg).toBeGreaterThan(0);
    }
    expect(v[1].validation.vgg).not.toBe(v[0].validation.vgg); // the generator moved between the two
    // a fresh evaluation without the cache gives the same figures for the generator as it is now
    const fresh = await evaluateFolder(t.outputG, val, 4, {}, t.vgg!);
    expectClose([v[1].validation.vgg, v[1].bicubic.vgg, v[1].bicubic.psnrY], [fresh.mean.vgg!, fresh.bicubicMean.vgg!, fresh.bicubicMean.psnrY], 1e-5, 0, 'logged vs fresh');
    t.dispose();
  });
});

/** 4x4 box averages of NHWC RGB in float64: block (i, j) covers rows 4i-1..4i+2 and columns 4j-1..4j+2, zeros outside. */
function boxRef(x: ArrayLike<number>, N: number, H: number, W: number): Float64Array {
  const Ho = Math.ceil(H / 4), Wo = Math.ceil(W / 4);
  const y = new Float64Array(N * Ho * Wo * 3);
  for (let n = 0; n < N; n++) for (let i = 0; i < Ho; i++) for (let j = 0; j < Wo; j++) for (let c = 0; c < 3; c++) {
    let s = 0;
    for (let r = 4 * i - 1; r <= 4 * i + 2; r++) for (let q = 4 * j - 1; q <= 4 * j + 2; q++) {
      if (r >= 0 && r < H && q >= 0 && q < W) s += x[((n * H + r) * W + q) * 3 + c];
    }
    y[((n * Ho + i) * Wo + j) * 3 + c] = s / 16;
  }
  return y;
}

/**
 * A tiny phase-2 trainer with these extra loss weights: one step, then G's output on the batch and
 * the record of a second step on the same batch (whose logged terms are computed from that output).
 */
async function phase2Record(weights: Partial<TrainConfig>, prefix: string) {
  const cfg = tinyCfg({ phase1Steps: 0, phase2Steps: 3, vggLayer: 'vgg22', pixelLoss: 'l1', ...weights,
    discriminator: { channels: 4, denseUnits: 8, head: 'pool' } });
  const t = new Trainer(cfg, { dataDir: makeData(2), outDir: tmp(prefix), resume: false, quiet: true, vggRandom: true });
  await captureStderr(() => t.init());
  const b = makeBatch(images(t), 2, 32, 4, 1, 0);
  await t.trainStep(b);
  const sr = await tidy(() => t.G.forward(fromArray(b.lr, [2, 8, 8, 3]))).data();
  const rec = await t.trainStep(b);
  t.dispose();
  return { cfg, hr: b.hr, sr, rec };
}

const meanAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += Math.abs(a[i] - b[i]);
  return s / a.length;
};

describe('phase-2 low-frequency loss (lowWeight2)', () => {
  it('boxAverage4 matches a float64 loop at awkward sizes', async () => {
    for (const [N, H, W] of [[2, 13, 10], [1, 32, 32], [3, 5, 7]]) {
      const x = uniform(N * H * W * 3, H * W, -1, 1);
      const t = tidy(() => boxAverage4(fromArray(x, [N, H, W, 3])));
      expect(t.shape).toEqual([N, Math.ceil(H / 4), Math.ceil(W / 4), 3]);
      expectClose(await t.data(), boxRef(Float32Array.from(x), N, H, W), 1e-6, 1e-7, `${N}x${H}x${W}`);
      t.dispose();
    }
  });

  it('adds weight x mean |box(G(LR)) - box(HR)| to the generator loss beside the pixel term, and logs it; off by default', async () => {
    const { cfg, hr, sr, rec } = await phase2Record({ pixelWeight2: 0.5, lowWeight2: 2 }, 'srgan-low-');
    expectClose([rec.low!], [meanAbsDiff(boxRef(sr, 2, 32, 32), boxRef(hr, 2, 32, 32))], 1e-4, 0, 'logged low-frequency term');
    expectClose([rec.l1!], [meanAbsDiff(sr, hr)], 1e-4, 0, 'logged pixel term');
    expectClose([rec.loss_g], [rec.content! + cfg.advWeight * rec.adversarial! + 0.5 * rec.l1! + 2 * rec.low!], 1e-5, 1e-7, 'loss_g = content + adv + pixel + low');
    expect(DEFAULT_CONFIG.lowWeight2).toBe(0);
  });
});

/** BT.601 Cb and Cr (no offset) of NHWC RGB in float64, written from the standard's coefficients. */
function chromaRef(x: ArrayLike<number>): Float64Array {
  const n = x.length / 3, y = new Float64Array(n * 2);
  for (let i = 0; i < n; i++) {
    const r = x[3 * i], g = x[3 * i + 1], b = x[3 * i + 2];
    y[2 * i] = (b - (0.299 * r + 0.587 * g + 0.114 * b)) / 1.772;     // Cb = (B - Y) / (2 (1 - 0.114))
    y[2 * i + 1] = (r - (0.299 * r + 0.587 * g + 0.114 * b)) / 1.402; // Cr = (R - Y) / (2 (1 - 0.299))
  }
  return y;
}

describe('phase-2 chroma loss (chromaWeight2)', () => {
  it('chroma matches BT.601 Cb, Cr in float64 at awkward sizes, and is 0 for grey', async () => {
    for (const [N, H, W] of [[2, 13, 10], [1, 7, 33]]) {
      const x = uniform(N * H * W * 3, H * W, -1, 1);
      const t = tidy(() => chroma(fromArray(x, [N, H, W, 3])));
      expect(t.shape).toEqual([N, H, W, 2]);
      expectClose(await t.data(), chromaRef(Float32Array.from(x)), 1e-5, 1e-6, `${N}x${H}x${W}`);
      t.dispose();
    }
    const grey = new Float32Array(5 * 4 * 3).map((_, i) => ((Math.floor(i / 3) * 37) % 11) / 11 - 0.5);
    const g = tidy(() => chroma(fromArray(grey, [1, 5, 4, 3])));
    expectClose(await g.data(), new Float64Array(5 * 4 * 2), 0, 1e-6, 'grey has no chroma');
    g.dispose();
  });

  it('adds weight x mean |chroma(G(LR)) - chroma(HR)| to the generator loss beside the other terms, and logs it; off by default', async () => {
    const { cfg, hr, sr, rec } = await phase2Record({ pixelWeight2: 0.5, lowWeight2: 2, chromaWeight2: 3 }, 'srgan-chroma-');
    const want = meanAbsDiff(chromaRef(sr), chromaRef(hr));
    expect(want).toBeGreaterThan(1e-3);
    expectClose([rec.chroma!], [want], 1e-4, 0, 'logged chroma term');
    expectClose([rec.loss_g], [rec.content! + cfg.advWeight * rec.adversarial! + 0.5 * rec.l1! + 2 * rec.low! + 3 * rec.chroma!], 1e-5, 1e-7,
      'loss_g = content + adv + pixel + low + chroma');
    expect(DEFAULT_CONFIG.chromaWeight2).toBe(0);
  });
});

/**
 * The 16 phase means of the high-pass residual r = x - blur(x) of NHWC RGB in float64 (blur: the 3x3
 * binomial filter, zeros outside the image), [N, 48] with index (4p + q) * 3 + c, written directly
 * from that definition: r pixel by pixel, then the mean over the pixels at each (row mod 4, column
 * mod 4), leaving out the 4-pixel frame at the image's edge.
 */
function gridRef(x: ArrayLike<number>, N: number, H: number, W: number): Float64Array {
  const out = new Float64Array(N * 48);
  const bin = [0.25, 0.5, 0.25];
  const at = (n: number, r: number, q: number, c: number) => (r >= 0 && r < H && q >= 0 && q < W ? x[((n * H + r) * W + q) * 3 + c] : 0);
  for (let n = 0; n < N; n++) for (let r = 4; r < H - 4; r++) for (let q = 4; q < W - 4; q++) for (let c = 0; c < 3; c++) {
    let blur = 0;
    for (let u = -1; u <= 1; u++) for (let v = -1; v <= 1; v++) blur += bin[u + 1] * bin[v + 1] * at(n, r + u, q + v, c);
    out[n * 48 + ((r % 4) * 4 + (q % 4)) * 3 + c] += (at(n, r, q, c) - blur) / ((H / 4 - 2) * (W / 4 - 2));
  }
  return out;
}

describe('phase-2 grid-phase loss (gridWeight2)', () => {
  it('gridPhases matches a float64 loop at awkward sizes, is 0 for a constant image and sees a 4-pixel dot grid', async () => {
    for (const [N, H, W] of [[2, 20, 12], [1, 12, 36], [3, 16, 16]]) {
      const x = uniform(N * H * W * 3, H + W, -1, 1);
      const t = tidy(() => gridPhases(fromArray(x, [N, H, W, 3])));
      expect(t.shape).toEqual([N, 48]);
      expectClose(await t.data(), gridRef(Float32Array.from(x), N, H, W), 1e-5, 1e-6, `${N}x${H}x${W}`);
      t.dispose();
    }
    expect(() => tidy(() => gridPhases(fromArray(new Float32Array(6 * 12 * 3), [1, 6, 12, 3])))).toThrow(/6x12 is not a multiple of 4/);
    expect(() => tidy(() => gridPhases(fromArray(new Float32Array(8 * 12 * 3), [1, 8, 12, 3])))).toThrow(/8x12 .* 12 or more/);
    // a smooth image, with and without a faint dot on every 4th pixel of every 4th row
    const H = 32, W = 32;
    const smooth = new Float32Array(H * W * 3).map((_, i) => 0.3 * Math.sin(Math.floor(i / 3 / W) / 7) + 0.2 * Math.cos((Math.floor(i / 3) % W) / 5));
    const dotted = smooth.map((v, i) => (Math.floor(i / 3 / W) % 4 === 1 && (Math.floor(i / 3) % W) % 4 === 2 ? v + 0.05 : v));
    const flat = new Float32Array(H * W * 3).fill(0.4);
    const [ps, pd, pf] = await Promise.all([smooth, dotted, flat].map(async (im) => {
      const t = tidy(() => gridPhases(fromArray(im, [1, H, W, 3])));
      const d = await t.data(); t.dispose(); return d;
    }));
    // a constant image has no residual away from its edge; a smooth one next to none
    expectClose(pf, new Float64Array(48), 0, 1e-6, 'flat');
    const size = (p: ArrayLike<number>) => Array.from(p).reduce((s, v) => s + Math.abs(v), 0) / p.length;
    expect(size(ps)).toBeLessThan(1e-3);
    // the dots move their own phase's mean by their amplitude x (1 - 1/4) (the blur keeps a quarter
    // of a dot at its own pixel) and every phase around it by the blur's share, the rest not at all
    const d = Array.from(pd, (v, i) => v - ps[i]);
    expectClose([d[(1 * 4 + 2) * 3], d[(1 * 4 + 2) * 3 + 1], d[(1 * 4 + 2) * 3 + 2]], [0.0375, 0.0375, 0.0375], 1e-4, 0, 'the dots\' phase');
    expectClose([d[(0 * 4 + 2) * 3], d[(1 * 4 + 1) * 3], d[(0 * 4 + 1) * 3]], [-0.05 / 8, -0.05 / 8, -0.05 / 16], 1e-4, 0, 'its neighbours');
    expectClose([d[(3 * 4 + 0) * 3]], [0], 0, 1e-7, 'a phase the blur does not reach');
  });

  it('adds weight x mean |gridPhases(G(LR)) - gridPhases(HR)| to the generator loss beside the other terms, and logs it; off by default', async () => {
    const { cfg, hr, sr, rec } = await phase2Record({ pixelWeight2: 0.5, lowWeight2: 2, chromaWeight2: 3, gridWeight2: 40 }, 'srgan-grid-');
    const want = meanAbsDiff(gridRef(sr, 2, 32, 32), gridRef(hr, 2, 32, 32));
    expect(want).toBeGreaterThan(1e-4);
    expectClose([rec.grid!], [want], 1e-3, 1e-7, 'logged grid term');
    expectClose([rec.loss_g], [rec.content! + cfg.advWeight * rec.adversarial! + 0.5 * rec.l1! + 2 * rec.low! + 3 * rec.chroma! + 40 * rec.grid!], 1e-5, 1e-7,
      'loss_g = content + adv + pixel + low + chroma + grid');
    expect(DEFAULT_CONFIG.gridWeight2).toBe(0);
  });
});

/**
 * The batch's block profile of NHWC RGB in float64, [64], from its definition: BT.601 luma per
 * pixel, the squared step to the next column (entries 0..31 by column mod 32) and to the next row
 * (32..63 by row mod 32), inside each image only, summed over the batch and divided by N * H * W / 32,
 * then each group of 32 less its mean.
 */
function blockRef(x: ArrayLike<number>, N: number, H: number, W: number): Float64Array {
  const out = new Float64Array(64);
  const Y = (n: number, r: number, q: number) => { const o = ((n * H + r) * W + q) * 3; return 0.299 * x[o] + 0.587 * x[o + 1] + 0.114 * x[o + 2]; };
  for (let n = 0; n < N; n++) for (let r = 0; r < H; r++) for (let q = 0; q < W; q++) {
    if (q + 1 < W) out[q % 32] += (Y(n, r, q + 1) - Y(n, r, q)) ** 2 / (N * H * W / 32);
    if (r + 1 < H) out[32 + (r % 32)] += (Y(n, r + 1, q) - Y(n, r, q)) ** 2 / (N * H * W / 32);
  }
  for (let g = 0; g < 2; g++) {
    const m = out.subarray(g * 32, g * 32 + 32).reduce((a, v) => a + v, 0) / 32;
    for (let p = 0; p < 32; p++) out[g * 32 + p] -= m;
  }
  return out;
}

describe('phase-2 block-phase loss (blockWeight2)', () => {
  it('blockPhases matches a float64 loop, and a JPEG-like 32-pixel grid stands out at its phase', async () => {
    for (const [N, H, W] of [[2, 32, 64], [1, 96, 32]]) {
      const x = uniform(N * H * W * 3, H + 3 * W, -1, 1);
      const t = tidy(() => blockPhases(fromArray(x, [N, H, W, 3])));
      expect(t.shape).toEqual([1, 64]);
      expectClose(await t.data(), blockRef(Float32Array.from(x), N, H, W), 1e-4, 1e-6, `${N}x${H}x${W}`);
      t.dispose();
    }
    expect(() => tidy(() => blockPhases(fromArray(new Float32Array(48 * 32 * 3), [1, 48, 32, 3])))).toThrow(/48x32 is not a multiple of 32/);
    // detail with no preferred phase (random pixels), and flat 32x32 blocks offset by 8 pixels (as a JPEG's at x4)
    const H = 64, W = 96, smooth = Float32Array.from(uniform(H * W * 3, 77, -0.5, 0.5)), blocky = new Float32Array(H * W * 3);
    for (let r = 0; r < H; r++) for (let q = 0; q < W; q++) for (let c = 0; c < 3; c++) {
      const f = (rr: number, qq: number) => 0.4 * Math.sin(rr / 9) * Math.cos(qq / 13);
      blocky[(r * W + q) * 3 + c] = f(Math.floor((r + 8) / 32) * 32, Math.floor((q + 8) / 32) * 32);
    }
    const [ps, pb] = await Promise.all([smooth, blocky].map(async (im) => {
      const t = tidy(() => blockPhases(fromArray(im, [1, H, W, 3])));
      const d = await t.data(); t.dispose(); return d;
    }));
    // the blocks' edges lie between columns (rows) 23 and 24: all their steps at phase 23
    const peak = (p: ArrayLike<number>, o: number) => Array.from(p).slice(o, o + 32).map((v, i) => [v, i]).sort((a, b) => b[0] - a[0])[0][1];
    expect(peak(pb, 0)).toBe(23); expect(peak(pb, 32)).toBe(23);
    // every other phase holds no step: after centring, all equal (-1/32 of the peak's sum)
    for (const o of [0, 32]) {
      const rest = Array.from(pb).slice(o, o + 32).filter((v, i) => i !== 23);
      expectClose(rest, new Float64Array(31).fill(rest[0]), 1e-5, 1e-9, 'the other phases');
      expect(pb[o + 23]).toBeCloseTo(-31 * rest[0], 6);
    }
    // the random image's profile is flat within its sampling noise: no phase off by half the mean
    // squared step of iid pixels, 2 Var(Y) = 2 (0.299^2 + 0.587^2 + 0.114^2) / 12
    const inner = Array.from(ps).filter((v, i) => i !== 31 && i !== 63);
    expect(Math.max(...inner.map(Math.abs))).toBeLessThan(0.5 * 2 * (0.299 ** 2 + 0.587 ** 2 + 0.114 ** 2) / 12);
  });

  it('adds weight x mean |blockPhases(G(LR)) - blockPhases(HR)| to the generator loss beside the other terms, and logs it; off by default; needs a crop of 32s', async () => {
    const { cfg, hr, sr, rec } = await phase2Record({ pixelWeight2: 0.5, blockWeight2: 30 }, 'srgan-block-');
    const want = meanAbsDiff(blockRef(sr, 2, 32, 32), blockRef(hr, 2, 32, 32));
    expect(want).toBeGreaterThan(1e-6);
    expectClose([rec.block!], [want], 1e-3, 1e-8, 'logged block term');
    expectClose([rec.loss_g], [rec.content! + cfg.advWeight * rec.adversarial! + 0.5 * rec.l1! + 30 * rec.block!], 1e-5, 1e-7,
      'loss_g = content + adv + pixel + block');
    expect(DEFAULT_CONFIG.blockWeight2).toBe(0);
    expect(() => resolveConfig({ blockWeight2: 1, crop: 48 })).toThrow(/^config: blockWeight2 needs a crop that is a multiple of 32 \(the JPEG block at x4\), got 48$/);
  });
});

describe("ESRGAN's options: the relativistic average GAN and VGG features before the ReLU", () => {
  it('relativistic(a, b) = a - mean(b): values and gradients against a float64 loop and finite differences', async () => {
    const { relativistic, GAN_LOSSES } = await import('../../src/srgan/losses.js');
    const N = 5, r = rng(17);
    const a0 = Float64Array.from({ length: N }, () => 3 * r() - 1.5), b0 = Float64Array.from({ length: N }, () => 3 * r() - 1.5);
    // the reference: D's relativistic loss in float64
    const sp = (z: number) => Math.max(z, 0) + Math.log1p(Math.exp(-Math.abs(z))); // -log(1 - sigmoid(z)) = softplus(z)
    const bce = (z: number[], t: number) => z.reduce((s, v) => s + (t ? sp(-v) : sp(v)), 0) / z.length;
    const mean = (v: ArrayLike<number>) => Array.from(v).reduce((s, x) => s + x, 0) / v.length;
    const refD = (a: Float64Array, b: Float64Array) => 0.5 * (bce(Array.from(a, (v) => v - mean(b)), 1) + bce(Array.from(b, (v) => v - mean(a)), 0));
    const A = fromArray(Float32Array.from(a0), [N, 1]), B = fromArray(Float32Array.from(b0), [N, 1]);
    A.requiresGrad = true; B.requiresGrad = true;
    const rel = await relativistic(A, B).data();
    rel.forEach((v, i) => expect(v).toBeCloseTo(a0[i] - mean(b0), 5));
    const loss = GAN_LOSSES.ragan.discriminator(A, B);
    expectClose([await loss.item()], [refD(a0, b0)], 1e-5, 1e-6, 'RaGAN D loss');
    backward(loss);
    const ga = await A.grad!.data(), gb = await B.grad!.data();
    const h = 1e-6;
    for (let i = 0; i < N; i++) {
      const ap = a0.slice(), am = a0.slice(); ap[i] += h; am[i] -= h;
      const bp = b0.slice(), bm = b0.slice(); bp[i] += h; bm[i] -= h;
      expectClose([ga[i]], [(refD(ap, b0) - refD(am, b0)) / (2 * h)], 1e-3, 1e-6, `dL/da[${i}]`);
      expectClose([gb[i]], [(refD(a0, bp) - refD(a0, bm)) / (2 * h)], 1e-3, 1e-6, `dL/db[${i}]`);
    }
    // G's: the targets swapped
    const refG = (a: Float64Array, b: Float64Array) => 0.5 * (bce(Array.from(a, (v) => v - mean(b)), 0) + bce(Array.from(b, (v) => v - mean(a)), 1));
    expectClose([await GAN_LOSSES.ragan.generator(A, B).item()], [refG(a0, b0)], 1e-5, 1e-6, 'RaGAN G loss');
  });

  it('a phase-2 run with ganLoss ragan and vggActivation before trains (finite losses), and they are entries', async () => {
    expect(DEFAULT_CONFIG.ganLoss).toBe('vanilla');
    expect(DEFAULT_CONFIG.vggActivation).toBe('after');
    expect(() => resolveConfig({ ganLoss: 'wgan' })).toThrow(/ganLoss must be 'vanilla' or 'ragan'/);
    // before the ReLU: the same conv output with its negatives kept
    const { VGG19Features } = await import('../../src/srgan/vgg19.js');
    const vgg = new VGG19Features('vgg22');
    const x = fromArray(Float32Array.from({ length: 2 * 20 * 20 * 3 }, (_, i) => Math.sin(i * 0.37)), [2, 20, 20, 3]);
    const after = await vgg.forward(x).data(), before = await vgg.forward(x, undefined, true).data();
    expect(Math.min(...before)).toBeLessThan(0);
    before.forEach((v, i) => expect(after[i]).toBeCloseTo(Math.max(0, v), 5));
    vgg.dispose();
    const run = tmp('srgan-ragan-');
    const t = new Trainer(tinyCfg({ phase1Steps: 0, phase2Steps: 2, ganLoss: 'ragan', vggActivation: 'before', vggLayer: 'vgg22',
      discriminator: { channels: 4, denseUnits: 8, head: 'pool' } }), { dataDir: makeData(2), outDir: run, resume: false, quiet: true, vggRandom: true });
    await t.init(); await t.run(); t.dispose();
    const log = readFileSync(join(run, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    for (const r of log) for (const k of ['loss_g', 'content', 'adversarial', 'loss_d']) expect(Number.isFinite(r[k]), k).toBe(true);
  });
});
