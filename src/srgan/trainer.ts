// The two-phase SRGAN training loop: SRResNet with MSE, then SRGAN (VGG content + adversarial),
// with atomic checkpoints that resume exactly, previews, validation, JSON-lines logs and a plot.
import { mkdir, appendFile, stat, open, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gpu } from '../gpu/gpu.js';
import { Adam } from '../nn/adam.js';
import { Ema } from '../nn/ema.js';
import type { Entry } from '../nn/module.js';
import * as ops from '../nn/ops.js';
import { backward, fromArray, noGrad, tidy, type Tensor } from '../nn/tensor.js';
import { loadTensors, readSafetensors, stateTensors, writeAtomic, saveModule } from '../nn/state.js';
import { serializeSafetensors, type StTensor } from '../nn/safetensors.js';
import { setInitSeed } from '../nn/layers.js';
import { Generator } from './generator.js';
import { Discriminator } from './discriminator.js';
import { VGG19Features } from './vgg19.js';
import { listImages, loadImages, makeBatch, type Batch, type RgbImage } from './data.js';
import { configChanges, learningRate, resolveConfig, type TrainConfig } from './config.js';
import { readImage, encodePng } from '../image/image.js';
import { renderPlot, type LogRecord } from './plot.js';
import { writePreview } from './preview.js';
import { readGeneratorFile } from './model.js';
import { evaluateFolder, formatEvalTable } from './evaluate.js';

export interface TrainOptions {
  dataDir: string;
  outDir: string;
  resume: boolean;
  vggPath?: string;     // tfjs model.json / folder, or torchvision safetensors
  vggRandom?: boolean;  // experiments only: a random VGG (loudly announced)
  valDir?: string;
  maxTimeSec?: number;
  quiet?: boolean;
  /**
   * A new run starts its generator from this generator.safetensors (e.g. a phase-1 result, to go
   * straight to phase 2 with phase1Steps 0). Ignored on --resume (the checkpoint has the weights).
   */
  initGenerator?: string;
  /** Stop after this many steps in this process (tests: N steps, then resume). */
  stopAfter?: number;
}

export interface StepLog {
  step: number; phase: 1 | 2; lr: number;
  loss_g: number; mse?: number; l1?: number; content?: number; adversarial?: number; loss_d?: number;
  d_hr?: number; d_sr?: number; steps_per_s: number; time: string;
}

const CHECKPOINT = 'checkpoint.safetensors';
export const GENERATOR_FILE = 'generator.safetensors';

function adamEntries(params: Array<[string, Entry]>, opt: Adam, which: 'm' | 'v'): Array<[string, Entry]> {
  return params.map(([n, e], i) => [`${n}.${which}`, { tensor: (which === 'm' ? opt.m : opt.v)[i], layout: e.layout }]);
}

export class Trainer {
  readonly G: Generator;
  readonly D: Discriminator | null;
  /** The moving average of G's weights (cfg.ema > 0): what validation, previews and generator.safetensors use. */
  readonly Gema: Generator | null = null;
  private readonly ema: Ema | null = null;
  private emaLoaded = false;
  vgg: VGG19Features | null = null;
  optG: Adam;
  optD: Adam | null;
  step = 0;
  private images: RgbImage[] = [];
  private stopRequested = false;
  private startTime = 0;
  private lastLogTime = 0;
  private lastLogStep = 0;

  constructor(readonly cfg: TrainConfig, readonly opts: TrainOptions) {
    setInitSeed(cfg.seed);
    this.G = new Generator(cfg.generator);
    this.D = cfg.phase2Steps > 0 ? new Discriminator({ ...cfg.discriminator, inputSize: cfg.crop }) : null;
    this.optG = new Adam(this.G.parameters(), { lr: cfg.lr1, beta1: cfg.beta1, beta2: cfg.beta2 });
    this.optD = this.D ? new Adam(this.D.parameters(), { lr: cfg.lr2, beta1: cfg.beta1, beta2: cfg.beta2 }) : null;
    if (cfg.ema > 0) {
      // built last, so that G and D draw the same initial weights with the average on or off
      this.Gema = new Generator(cfg.generator);
      this.ema = new Ema(this.G, this.Gema, cfg.ema);
    }
  }

  /** The generator whose outputs the user sees: the average when there is one. */
  get outputG(): Generator { return this.Gema ?? this.G; }

  /** Validation interval in steps (0 = none): validateEvery, or every 5 checkpoints when --val is given. */
  get validateEvery(): number {
    if (!this.opts.valDir) return 0;
    return this.cfg.validateEvery > 0 ? this.cfg.validateEvery : 5 * this.cfg.checkpointEvery;
  }

  get totalSteps(): number { return this.cfg.phase1Steps + this.cfg.phase2Steps; }
  phaseOf(step: number): 1 | 2 { return step < this.cfg.phase1Steps ? 1 : 2; }
  lrOf(step: number): number { return learningRate(this.cfg, step); }

  private say(msg: string): void {
    if (!this.opts.quiet) process.stderr.write(msg + '\n');
  }

  async init(): Promise<void> {
    await mkdir(this.opts.outDir, { recursive: true });
    this.images = await loadImages(this.opts.dataDir, { minSize: this.cfg.crop });
    this.say(`data: ${this.images.length} images from ${this.opts.dataDir}`);
    if (this.opts.valDir) await this.checkValidationFolder(this.opts.valDir);
    if (this.cfg.phase2Steps > 0) {
      this.vgg = new VGG19Features(this.cfg.vggLayer);
      if (this.opts.vggPath) {
        await this.vgg.load(this.opts.vggPath);
        this.say(`VGG19 (${this.cfg.vggLayer}) weights: ${this.opts.vggPath}`);
      } else if (this.opts.vggRandom) {
        process.stderr.write('WARNING: --vgg random: the content loss uses a RANDOMLY INITIALISED VGG19, not ImageNet weights. ' +
          'Results will not be SRGAN. Use this for experiments only.\n');
      } else {
        throw new Error('phase 2 (SRGAN) needs ImageNet VGG19 weights: pass --vgg PATH (a tfjs model.json folder or torchvision safetensors), or set phase2Steps to 0');
      }
    }
    const ckpt = join(this.opts.outDir, CHECKPOINT);
    if (this.opts.resume) {
      if (!(await stat(ckpt).catch(() => null))) throw new Error(`${ckpt}: no checkpoint to resume from`);
      await this.loadCheckpoint(ckpt);
      this.say(`resumed from ${ckpt} at step ${this.step}`);
    } else if (await stat(ckpt).catch(() => null)) {
      throw new Error(`${ckpt} exists: pass --resume to continue that run, or choose another --out`);
    } else if (this.opts.initGenerator) {
      const path = this.opts.initGenerator;
      const { config, tensors } = await readGeneratorFile(path);
      const have = JSON.stringify(config), want = JSON.stringify(this.cfg.generator);
      if (have !== want) throw new Error(`${path}: generator ${have} does not match this run's generator ${want}`);
      loadTensors(this.G.stateEntries(), tensors, path);
      this.say(`generator initialised from ${path}`);
    }
    if (this.ema && !this.emaLoaded) this.ema.reset();
  }

  /** Fails before any training if --val names nothing usable (rather than at the first validation). */
  private async checkValidationFolder(dir: string): Promise<void> {
    const files = await listImages(dir).catch((e: Error) => { throw new Error(`--val: ${e.message}`); });
    if (!files.length) throw new Error(`--val: ${dir}: no images (.png, .jpg, .jpeg, .bmp) found`);
    const s = this.cfg.generator.scale;
    for (const f of files) {
      const img = await readImage(f).catch((e: Error) => { throw new Error(`--val: ${e.message}`); });
      if (img.width < 4 * s || img.height < 4 * s) throw new Error(`--val: ${f}: ${img.width}x${img.height} is too small to validate x${s}`);
    }
    this.say(`validation: ${files.length} images from ${dir} every ${this.validateEvery} steps`);
  }

  private checkpointEntries(): Array<[string, Entry]> {
    const gp = this.G.namedParameters();
    const out: Array<[string, Entry]> = [
      ...this.G.stateEntries().map(([n, e]): [string, Entry] => [`generator.${n}`, e]),
      ...adamEntries(gp, this.optG, 'm').map(([n, e]): [string, Entry] => [`adam_g.${n}`, e]),
      ...adamEntries(gp, this.optG, 'v').map(([n, e]): [string, Entry] => [`adam_g.${n}`, e]),
      ...(this.Gema?.stateEntries() ?? []).map(([n, e]): [string, Entry] => [`ema.${n}`, e]),
    ];
    if (this.D && this.optD) {
      const dp = this.D.namedParameters();
      out.push(...this.D.stateEntries().map(([n, e]): [string, Entry] => [`discriminator.${n}`, e]));
      out.push(...adamEntries(dp, this.optD, 'm').map(([n, e]): [string, Entry] => [`adam_d.${n}`, e]));
      out.push(...adamEntries(dp, this.optD, 'v').map(([n, e]): [string, Entry] => [`adam_d.${n}`, e]));
    }
    return out;
  }

  /** Writes the full training state atomically, and the generator alone for upscaling. */
  async saveCheckpoint(): Promise<void> {
    const tensors: Array<[string, StTensor]> = await stateTensors(this.checkpointEntries());
    const meta = {
      format: 'srgan-webgpu-checkpoint', step: String(this.step), phase: String(this.phaseOf(this.step)),
      lr: String(this.lrOf(this.step)), seed: String(this.cfg.seed), rng: `batch(seed=${this.cfg.seed}, step)`,
      adam_g_step: String(this.optG.step), adam_d_step: String(this.optD?.step ?? 0),
      config: JSON.stringify(this.cfg),
    };
    await writeAtomic(join(this.opts.outDir, CHECKPOINT), serializeSafetensors(tensors, meta));
    await saveModule(join(this.opts.outDir, GENERATOR_FILE), this.outputG, generatorMetadata(this.cfg, this.step));
  }

  private async loadCheckpoint(path: string): Promise<void> {
    const { tensors, metadata } = await readSafetensors(path);
    if (metadata.format !== 'srgan-webgpu-checkpoint') throw new Error(`${path}: not a training checkpoint of srgan-webgpu`);
    // over today's defaults: entries added since the checkpoint was written take their defaults
    const saved = resolveConfig(JSON.parse(metadata.config ?? '{}'));
    const arch = (c: TrainConfig) => JSON.stringify([c.generator, c.phase2Steps > 0 ? c.discriminator : null, c.crop]);
    if (arch(saved) !== arch(this.cfg)) {
      throw new Error(`${path}: checkpoint of another model configuration (saved ${arch(saved)}, now ${arch(this.cfg)})`);
    }
    const hasEma = [...tensors.keys()].some((k) => k.startsWith('ema.'));
    if (hasEma && !this.Gema) {
      for (const k of [...tensors.keys()]) if (k.startsWith('ema.')) tensors.delete(k);
      this.say(`${path}: the checkpoint has EMA weights but ema is 0: they are dropped, and generator.safetensors will hold the live weights`);
    }
    const entries = this.checkpointEntries().filter(([n]) => hasEma || !n.startsWith('ema.'));
    const names = new Set(entries.map(([n]) => n));
    for (const k of tensors.keys()) if (!names.has(k)) throw new Error(`${path}: unexpected tensor '${k}'`);
    loadTensors(entries, tensors, path);
    this.step = Number(metadata.step);
    this.optG.step = Number(metadata.adam_g_step);
    if (this.optD) this.optD.step = Number(metadata.adam_d_step);
    this.emaLoaded = hasEma && this.Gema !== null;
    if (this.Gema && !hasEma) this.say(`${path}: no EMA weights in the checkpoint: the average (ema ${this.cfg.ema}) starts from the current weights`);
    await gpu().sync();
  }

  requestStop(): void { this.stopRequested = true; }

  private upload(b: Batch): { lr: Tensor; hr: Tensor } {
    const ls = b.crop / b.scale;
    return { lr: fromArray(b.lr, [b.n, ls, ls, 3]), hr: fromArray(b.hr, [b.n, b.crop, b.crop, 3]) };
  }

  /** Phase 1: one SRResNet (MSE) update. Returns the scalars to log (read back). */
  private stepPhase1(b: Batch): Tensor[] {
    return tidy(() => {
      const { lr, hr } = this.upload(b);
      const sr = this.G.forward(lr);
      const loss = this.cfg.pixelLoss === 'l1' ? ops.l1Loss(sr, hr) : ops.mseLoss(sr, hr);
      this.G.zeroGrad();
      backward(loss);
      this.optG.update();
      this.ema?.update();
      return [loss];
    });
  }

  /** Phase 2: one generator update then one discriminator update (BasicSR's order). */
  private stepPhase2(b: Batch): Tensor[] {
    const D = this.D!, vgg = this.vgg!, optD = this.optD!;
    return tidy(() => {
      const { lr, hr } = this.upload(b);
      // generator: content (VGG features / 12.75, MSE) + 1e-3 * -log D(G(LR))
      D.setRequiresGrad(false);
      const sr = this.G.forward(lr);
      const fHr = noGrad(() => vgg.forward(hr));
      const content = ops.scale(ops.mseLoss(vgg.forward(sr), fHr), this.cfg.contentScale ** 2);
      const adversarial = ops.bceWithLogits(D.forward(sr), 1);
      const lossG = ops.add(content, ops.scale(adversarial, this.cfg.advWeight));
      this.G.zeroGrad();
      backward(lossG);
      this.optG.update();
      this.ema?.update();
      // discriminator: BCE(D(HR), 1) + BCE(D(SR), 0) with SR detached
      D.setRequiresGrad(true);
      const srD = sr.detach();
      const dReal = D.forward(hr);
      const dFake = D.forward(srD);
      const lossD = ops.add(ops.bceWithLogits(dReal, 1), ops.bceWithLogits(dFake, 0));
      D.zeroGrad();
      backward(lossD);
      optD.update();
      return [lossG, content, adversarial, lossD, dReal, dFake];
    });
  }

  /** Runs one update for the current step; returns the log record. */
  async trainStep(batch: Batch, next?: () => void): Promise<StepLog> {
    const phase = this.phaseOf(this.step);
    const lr = this.lrOf(this.step);
    if (this.step === this.cfg.phase1Steps && this.cfg.phase1Steps > 0) {
      // SRGAN starts from the SRResNet weights with a fresh optimiser state (also after a resume
      // at exactly this step, so interrupted and uninterrupted runs agree)
      this.optG.dispose();
      this.optG = new Adam(this.G.parameters(), { lr, beta1: this.cfg.beta1, beta2: this.cfg.beta2 });
    }
    this.optG.lr = lr;
    if (this.optD) this.optD.lr = lr;
    const outs = phase === 1 ? this.stepPhase1(batch) : this.stepPhase2(batch);
    gpu().flush();
    next?.(); // prepare the next batch on the CPU while the GPU works
    const vals = await Promise.all(outs.map((t) => t.data()));
    for (const t of outs) t.dispose();
    const stepDone = this.step;
    this.step++;
    const rec: StepLog = { step: stepDone + 1, phase, lr, loss_g: vals[0][0], steps_per_s: 0, time: new Date().toISOString() };
    const sigmoidMean = (a: Float32Array) => a.reduce((s, z) => s + 1 / (1 + Math.exp(-z)), 0) / a.length;
    if (phase === 1) rec[this.cfg.pixelLoss] = vals[0][0];
    else {
      rec.content = vals[1][0]; rec.adversarial = vals[2][0]; rec.loss_d = vals[3][0];
      rec.d_hr = sigmoidMean(vals[4]); rec.d_sr = sigmoidMean(vals[5]);
    }
    const terms: Array<[string, number | undefined]> = [['loss_g', rec.loss_g], ['content', rec.content], ['adversarial', rec.adversarial], ['loss_d', rec.loss_d]];
    for (const [name, v] of terms) {
      if (v !== undefined && !Number.isFinite(v)) {
        throw new Error(`step ${stepDone + 1}: ${name} is ${v}; stopping (the last checkpoint, step ${this.lastSavedStep}, is intact)`);
      }
    }
    return rec;
  }

  lastSavedStep = 0;

  /** The unattended loop: until the step budget, --max-time, a signal or stopAfter. */
  async run(): Promise<void> {
    const cfg = this.cfg, out = this.opts.outDir;
    const logFile = join(out, 'log.jsonl');
    this.lastSavedStep = this.step;
    this.startTime = performance.now();
    this.lastLogTime = this.startTime;
    this.lastLogStep = this.step;
    const onSignal = (sig: string) => {
      if (this.stopRequested) { process.stderr.write(`\n${sig} again: exiting without waiting\n`); process.exit(130); }
      process.stderr.write(`\n${sig}: saving a checkpoint and stopping after this step\n`);
      this.stopRequested = true;
    };
    const onInt = () => onSignal('SIGINT'), onTerm = () => onSignal('SIGTERM');
    process.on('SIGINT', onInt);
    process.on('SIGTERM', onTerm);
    const previewBatch = cfg.previewEvery > 0 ? makeBatch(this.images, cfg.previewCount, cfg.crop, cfg.generator.scale, cfg.seed ^ 0x5eed, 0) : null;
    const startStep = this.step;
    let batch = makeBatch(this.images, cfg.batch, cfg.crop, cfg.generator.scale, cfg.seed, this.step);
    try {
      while (this.step < this.totalSteps && !this.stopRequested) {
        if (this.opts.maxTimeSec !== undefined && (performance.now() - this.startTime) / 1000 >= this.opts.maxTimeSec) {
          this.say(`\n--max-time reached after ${((performance.now() - this.startTime) / 1000).toFixed(0)} s`);
          break;
        }
        if (this.opts.stopAfter !== undefined && this.step - startStep >= this.opts.stopAfter) break;
        let nextBatch: Batch | null = null;
        const rec = await this.trainStep(batch, () => {
          if (this.step + 1 < this.totalSteps) nextBatch = makeBatch(this.images, cfg.batch, cfg.crop, cfg.generator.scale, cfg.seed, this.step + 1);
        });
        if (nextBatch) batch = nextBatch;
        const now = performance.now();
        const sps = (this.step - this.lastLogStep) / Math.max(1e-9, (now - this.lastLogTime) / 1000);
        if (this.step % cfg.logEvery === 0 || this.step === this.totalSteps) {
          rec.steps_per_s = sps;
          await appendFile(logFile, JSON.stringify(rec) + '\n');
          this.lastLogTime = now;
          this.lastLogStep = this.step;
          this.progress(rec);
        }
        if (this.step % cfg.checkpointEvery === 0) await this.save();
        if (previewBatch && this.step % cfg.previewEvery === 0) await this.preview(previewBatch);
        if (this.validateEvery > 0 && this.step % this.validateEvery === 0) {
          await this.validate(logFile);
          await this.plot(logFile);
        }
      }
      if (this.step !== this.lastSavedStep) await this.save();
      await this.plot(logFile);
      if (!this.opts.quiet) process.stderr.write('\n');
    } finally {
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
    }
  }

  private async save(): Promise<void> {
    await this.saveCheckpoint();
    this.lastSavedStep = this.step;
  }

  private progress(r: StepLog): void {
    if (this.opts.quiet) return;
    const total = this.totalSteps;
    const eta = r.steps_per_s > 0 ? (total - this.step) / r.steps_per_s : Infinity;
    const fmtT = (s: number) => !Number.isFinite(s) ? '?' : s > 3600 ? `${(s / 3600).toFixed(1)}h` : s > 60 ? `${(s / 60).toFixed(1)}m` : `${s.toFixed(0)}s`;
    const losses = r.phase === 1 ? `${this.cfg.pixelLoss} ${r[this.cfg.pixelLoss]!.toExponential(3)}`
      : `G ${r.loss_g.toExponential(3)} (content ${r.content!.toExponential(3)}, adv ${r.adversarial!.toFixed(3)}) D ${r.loss_d!.toFixed(3)} D(HR) ${r.d_hr!.toFixed(2)} D(SR) ${r.d_sr!.toFixed(2)}`;
    process.stderr.write(`\rstep ${this.step}/${total} phase ${r.phase} ${losses} lr ${r.lr.toExponential(1)} ${r.steps_per_s.toFixed(3)} steps/s ETA ${fmtT(eta)}   `);
  }

  private async preview(b: Batch): Promise<void> {
    const G = this.outputG;
    const t = noGrad(() => tidy(() => {
      G.eval();
      const ls = b.crop / b.scale;
      const y = G.forward(fromArray(b.lr, [b.n, ls, ls, 3]));
      if (G === this.G) G.train();
      return y;
    }));
    const sr = await t.data();
    t.dispose();
    await mkdir(join(this.opts.outDir, 'previews'), { recursive: true });
    await writePreview(join(this.opts.outDir, 'previews', `step_${String(this.step).padStart(7, '0')}.png`), b, sr);
  }

  private async validate(logFile: string): Promise<void> {
    this.outputG.eval();
    try {
      const res = await evaluateFolder(this.outputG, this.opts.valDir!, this.cfg.generator.scale);
      await appendFile(logFile, JSON.stringify({ step: this.step, validation: res.mean, bicubic: res.bicubicMean, images: res.rows.length }) + '\n');
      if (!this.opts.quiet) process.stderr.write('\n' + formatEvalTable(res) + '\n');
    } finally {
      this.G.train();
    }
  }

  /** Redraws plot.png from log.jsonl. A plot is a convenience: failing to draw one stops nothing. */
  private async plot(logFile: string): Promise<void> {
    try {
      const text = await readFile(logFile, 'utf8').catch(() => '');
      const recs = text.split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as LogRecord);
      if (!recs.length) return;
      await writeAtomic(join(this.opts.outDir, 'plot.png'), encodePng(renderPlot(recs)));
    } catch (e) {
      process.stderr.write(`\nwarning: plot.png not written: ${(e as Error).message}\n`);
    }
  }

  dispose(): void {
    this.G.dispose(); this.Gema?.dispose(); this.D?.dispose(); this.vgg?.dispose(); this.optG.dispose(); this.optD?.dispose();
  }
}

export function generatorMetadata(cfg: TrainConfig, step: number): Record<string, string> {
  return {
    format: 'srgan-webgpu-generator',
    generator: JSON.stringify(cfg.generator),
    step: String(step),
    trained_with: JSON.stringify({ batch: cfg.batch, crop: cfg.crop, phase1Steps: cfg.phase1Steps, phase2Steps: cfg.phase2Steps,
      ...(cfg.ema > 0 ? { ema: cfg.ema } : {}) }),
  };
}

/** The metadata of a safetensors file, reading only its header (a checkpoint may be 300 MB). */
async function readMetadata(path: string): Promise<Record<string, string>> {
  const f = await open(path, 'r').catch(() => { throw new Error(`${path}: no checkpoint to resume from`); });
  try {
    const head = Buffer.alloc(8);
    await f.read(head, 0, 8, 0);
    const n = Number(head.readBigUInt64LE(0));
    if (!(n > 0 && n < 100 * 2 ** 20)) throw new Error(`${path}: not a safetensors file`);
    const json = Buffer.alloc(n);
    await f.read(json, 0, n, 8);
    return (JSON.parse(json.toString('utf8')).__metadata__ ?? {}) as Record<string, string>;
  } finally {
    await f.close();
  }
}

/**
 * The configuration to resume the run in `outDir` with: the one saved in its checkpoint, with
 * `partial` (from --config / --set) applied on top, and the entries that changed, for the user.
 */
export async function resumeConfig(outDir: string, partial: Record<string, unknown>): Promise<{ cfg: TrainConfig; changes: string[] }> {
  const path = join(outDir, CHECKPOINT);
  const meta = await readMetadata(path);
  if (meta.format !== 'srgan-webgpu-checkpoint' || !meta.config) throw new Error(`${path}: not a training checkpoint of srgan-webgpu`);
  const saved = resolveConfig(JSON.parse(meta.config));
  const cfg = resolveConfig(partial, saved);
  return { cfg, changes: configChanges(saved, cfg) };
}

