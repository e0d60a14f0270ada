// The two-phase SRGAN training loop: SRResNet with MSE, then SRGAN (VGG content + adversarial),
// with atomic checkpoints that resume exactly, previews, validation and JSON-lines logs.
import { mkdir, appendFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { gpu } from '../gpu/gpu.js';
import { Adam } from '../nn/adam.js';
import type { Entry } from '../nn/module.js';
import * as ops from '../nn/ops.js';
import { backward, fromArray, noGrad, tidy, type Tensor } from '../nn/tensor.js';
import { loadTensors, readSafetensors, stateTensors, writeAtomic, saveModule } from '../nn/state.js';
import { serializeSafetensors, type StTensor } from '../nn/safetensors.js';
import { setInitSeed } from '../nn/layers.js';
import { Generator } from './generator.js';
import { Discriminator } from './discriminator.js';
import { VGG19Features } from './vgg19.js';
import { loadImages, makeBatch, type Batch, type RgbImage } from './data.js';
import type { TrainConfig } from './config.js';
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
  loss_g: number; mse?: number; content?: number; adversarial?: number; loss_d?: number;
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
  }

  get totalSteps(): number { return this.cfg.phase1Steps + this.cfg.phase2Steps; }
  phaseOf(step: number): 1 | 2 { return step < this.cfg.phase1Steps ? 1 : 2; }
  lrOf(step: number): number {
    if (this.phaseOf(step) === 1) return this.cfg.lr1;
    return step - this.cfg.phase1Steps < this.cfg.phase2Steps / 2 ? this.cfg.lr2 : this.cfg.lr2Final;
  }

  private say(msg: string): void {
    if (!this.opts.quiet) process.stderr.write(msg + '\n');
  }

  async init(): Promise<void> {
    await mkdir(this.opts.outDir, { recursive: true });
    this.images = await loadImages(this.opts.dataDir, { minSize: this.cfg.crop });
    this.say(`data: ${this.images.length} images from ${this.opts.dataDir}`);
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
  }

  private checkpointEntries(): Array<[string, Entry]> {
    const gp = this.G.namedParameters();
    const out: Array<[string, Entry]> = [
      ...this.G.stateEntries().map(([n, e]): [string, Entry] => [`generator.${n}`, e]),
      ...adamEntries(gp, this.optG, 'm').map(([n, e]): [string, Entry] => [`adam_g.${n}`, e]),
      ...adamEntries(gp, this.optG, 'v').map(([n, e]): [string, Entry] => [`adam_g.${n}`, e]),
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
    await saveModule(join(this.opts.outDir, GENERATOR_FILE), this.G, generatorMetadata(this.cfg, this.step));
  }

  private async loadCheckpoint(path: string): Promise<void> {
    const { tensors, metadata } = await readSafetensors(path);
    if (metadata.format !== 'srgan-webgpu-checkpoint') throw new Error(`${path}: not a training checkpoint of srgan-webgpu`);
    const saved = JSON.parse(metadata.config ?? '{}') as TrainConfig;
    const arch = (c: TrainConfig) => JSON.stringify([c.generator, c.phase2Steps > 0 ? c.discriminator : null, c.crop]);
    if (arch(saved) !== arch(this.cfg)) {
      throw new Error(`${path}: checkpoint of another model configuration (saved ${arch(saved)}, now ${arch(this.cfg)})`);
    }
    const entries = this.checkpointEntries();
    const names = new Set(entries.map(([n]) => n));
    for (const k of tensors.keys()) if (!names.has(k)) throw new Error(`${path}: unexpected tensor '${k}'`);
    loadTensors(entries, tensors, path);
    this.step = Number(metadata.step);
    this.optG.step = Number(metadata.adam_g_step);
    if (this.optD) this.optD.step = Number(metadata.adam_d_step);
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
      const loss = ops.mseLoss(sr, hr);
      this.G.zeroGrad();
      backward(loss);
      this.optG.update();
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
    if (phase === 1) rec.mse = vals[0][0];
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
        if (this.opts.valDir && cfg.validateEvery > 0 && this.step % cfg.validateEvery === 0) await this.validate(logFile);
      }
      if (this.step !== this.lastSavedStep) await this.save();
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
    const losses = r.phase === 1 ? `mse ${r.mse!.toExponential(3)}`
      : `G ${r.loss_g.toExponential(3)} (content ${r.content!.toExponential(3)}, adv ${r.adversarial!.toFixed(3)}) D ${r.loss_d!.toFixed(3)} D(HR) ${r.d_hr!.toFixed(2)} D(SR) ${r.d_sr!.toFixed(2)}`;
    process.stderr.write(`\rstep ${this.step}/${total} phase ${r.phase} ${losses} lr ${r.lr.toExponential(1)} ${r.steps_per_s.toFixed(3)} steps/s ETA ${fmtT(eta)}   `);
  }

  private async preview(b: Batch): Promise<void> {
    const t = noGrad(() => tidy(() => {
      this.G.eval();
      const ls = b.crop / b.scale;
      const y = this.G.forward(fromArray(b.lr, [b.n, ls, ls, 3]));
      this.G.train();
      return y;
    }));
    const sr = await t.data();
    t.dispose();
    await mkdir(join(this.opts.outDir, 'previews'), { recursive: true });
    await writePreview(join(this.opts.outDir, 'previews', `step_${String(this.step).padStart(7, '0')}.png`), b, sr);
  }

  private async validate(logFile: string): Promise<void> {
    this.G.eval();
    try {
      const res = await evaluateFolder(this.G, this.opts.valDir!, this.cfg.generator.scale);
      await appendFile(logFile, JSON.stringify({ step: this.step, validation: res.mean, bicubic: res.bicubicMean, images: res.rows.length }) + '\n');
      if (!this.opts.quiet) process.stderr.write('\n' + formatEvalTable(res) + '\n');
    } finally {
      this.G.train();
    }
  }

  dispose(): void {
    this.G.dispose(); this.D?.dispose(); this.vgg?.dispose(); this.optG.dispose(); this.optD?.dispose();
  }
}

export function generatorMetadata(cfg: TrainConfig, step: number): Record<string, string> {
  return {
    format: 'srgan-webgpu-generator',
    generator: JSON.stringify(cfg.generator),
    step: String(step),
    trained_with: JSON.stringify({ batch: cfg.batch, crop: cfg.crop, phase1Steps: cfg.phase1Steps, phase2Steps: cfg.phase2Steps }),
  };
}

