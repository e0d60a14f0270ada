// The two-phase SRGAN training loop: SRResNet with MSE, then SRGAN (VGG content + adversarial),
// with atomic checkpoints that resume exactly, previews, validation, JSON-lines logs and a plot.
import { mkdir, appendFile, stat, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gpu } from '../gpu/gpu.js';
import { Adam } from '../nn/adam.js';
import { Ema } from '../nn/ema.js';
import type { Entry } from '../nn/module.js';
import { fromArray, noGrad, tidy, type Tensor } from '../nn/tensor.js';
import { readSafetensors, writeAtomic, saveModule, serializeChecked } from '../node/state.js';
import { loadTensors, stateTensors } from '../nn/state.js';
import type { StTensor } from '../nn/safetensors.js';
import { setInitSeed } from '../nn/layers.js';
import { makeGenerator, upsamplingOf, type AnyGenerator } from '../srgan/generator.js';
import { initialGeneratorTensors } from '../srgan/model.js';
import { Discriminator } from '../srgan/discriminator.js';
import { VGG19Features } from '../srgan/vgg19.js';
import { loadImages, makeBatch, type Batch, type RgbImage } from './data.js';
import { listImages } from '../node/image-files.js';
import { BatchSource } from './prefetch.js';
import type { EvalCase } from '../srgan/degrade.js';
import { learningRate, type TrainConfig } from '../srgan/config.js';
import { encodePng } from '../image/png.js';
import { readImage } from '../node/image-files.js';
import { renderPlot, type LogRecord } from './plot.js';
import { writePreview } from './preview.js';
import { readGeneratorFile } from '../node/model.js';
import { evaluateFolder, formatEvalTable, type Scores } from './evaluate.js';
import { srresnetStep, srganStep, phase2Weights } from '../srgan/steps.js';
import { PHASE2_TERMS, logName } from '../srgan/losses.js';
import { loadVgg19 } from '../node/vgg-files.js';
import { CHECKPOINT, GENERATOR_FILE, LOG_FILE, RunFolder } from './run-folder.js';
import { checkpointMetadata, generatorMetadata, refuseRestrictedChanges } from './checkpoint.js';

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
  /** Resume even when settings that change the run's meaning differ from the checkpoint's (--allow-changes). */
  allowChanges?: boolean;
  /** Called with each logged step's record (every logEvery steps): the CLI's progress line. */
  onStep?: (rec: StepLog, totalSteps: number) => void;
  /**
   * Where the trainer's messages go (train.js prints them): 'info' (what it loaded, resumed,
   * validated; dropped with `quiet`), 'note' and 'warning' (always). Default: stderr.
   */
  onMessage?: (msg: string, kind: 'info' | 'note' | 'warning') => void;
}

export interface StepLog {
  step: number; phase: 1 | 2; lr: number;
  loss_g: number; mse?: number; l1?: number; low?: number; chroma?: number; grid?: number; block?: number; content?: number; adversarial?: number; loss_d?: number;
  d_hr?: number; d_sr?: number; steps_per_s: number; time: string;
  /** Mean milliseconds a step waited for its batch since the last log line (batches built in a worker thread). */
  data_wait_ms?: number;
}

const VGG_FORMATS = 'a TensorFlow.js layers-model folder or model.json, or torchvision-named safetensors (features.N.weight)';

function adamEntries(params: Array<[string, Entry]>, opt: Adam, which: 'm' | 'v'): Array<[string, Entry]> {
  return params.map(([n, e], i) => [`${n}.${which}`, { tensor: (which === 'm' ? opt.m : opt.v)[i], layout: e.layout }]);
}

export class Trainer {
  readonly G: AnyGenerator;
  readonly D: Discriminator | null;
  /** The moving average of G's weights (cfg.ema > 0): what validation, previews and generator.safetensors use. */
  readonly Gema: AnyGenerator | null = null;
  private readonly ema: Ema | null = null;
  private emaLoaded = false;
  vgg: VGG19Features | null = null;
  /** Validation's bicubic rows, computed once per run (see evaluateFolder). */
  private readonly valBicubic = new Map<string, { bicubic: Scores; hrGrid: number }>();
  optG: Adam;
  optD: Adam | null;
  step = 0;
  private images: RgbImage[] = [];
  /** How many training images init() loaded. */
  get imageCount(): number { return this.images.length; }
  private stopRequested = false;
  private startTime = 0;
  private lastLogTime = 0;
  private lastLogStep = 0;
  /** The run folder: its lock, temporaries and log. */
  readonly folder: RunFolder;

  constructor(readonly cfg: TrainConfig, readonly opts: TrainOptions) {
    this.folder = new RunFolder(opts.outDir, (msg, kind) => this.say(msg, kind));
    setInitSeed(cfg.seed);
    this.G = makeGenerator(cfg.generator);
    this.D = cfg.phase2Steps > 0 ? new Discriminator({ ...cfg.discriminator, inputSize: cfg.crop }) : null;
    this.optG = new Adam(this.G.parameters(), { lr: cfg.lr1, beta1: cfg.beta1, beta2: cfg.beta2 });
    this.optD = this.D ? new Adam(this.D.parameters(), { lr: cfg.lr2, beta1: cfg.beta1, beta2: cfg.beta2 }) : null;
    if (cfg.ema > 0) {
      // built last, so that G and D draw the same initial weights with the average on or off
      this.Gema = makeGenerator(cfg.generator);
      this.ema = new Ema(this.G, this.Gema, cfg.ema);
    }
  }

  /** The generator whose outputs the user sees: the average when there is one. */
  get outputG(): AnyGenerator { return this.Gema ?? this.G; }

  /** Validation interval in steps (0 = none): validateEvery, or every 5 checkpoints when --val is given. */
  get validateEvery(): number {
    if (!this.opts.valDir) return 0;
    return this.cfg.validateEvery > 0 ? this.cfg.validateEvery : 5 * this.cfg.checkpointEvery;
  }

  get totalSteps(): number { return this.cfg.phase1Steps + this.cfg.phase2Steps; }
  phaseOf(step: number): 1 | 2 { return step < this.cfg.phase1Steps ? 1 : 2; }
  lrOf(step: number): number { return learningRate(this.cfg, step); }

  private say(msg: string, kind: 'info' | 'note' | 'warning' = 'info'): void {
    if (kind === 'info' && this.opts.quiet) return;
    if (this.opts.onMessage) this.opts.onMessage(msg, kind);
    else process.stderr.write(msg + '\n');
  }

  /**
   * Checks every input (data, --val, VGG weights, --init-generator, the checkpoint's presence)
   * before anything is written: a mistake leaves no run folder behind. Then takes the run
   * folder's lock, clears a crash's debris, and restores the checkpoint.
   */
  async init(): Promise<void> {
    const out = this.opts.outDir;
    // the run folder inside --data (previews, plots) is never read back as training data
    this.images = await loadImages(this.opts.dataDir, { minSize: this.cfg.crop, exclude: [out], warn: (m) => this.say(`warning: ${m}`, 'warning') });
    this.say(`data: ${this.images.length} images from ${this.opts.dataDir}`);
    if (this.opts.valDir) await this.checkValidationFolder(this.opts.valDir);
    if (this.cfg.phase2Steps > 0) {
      this.vgg = new VGG19Features(this.cfg.vggLayer);
      if (this.opts.vggPath) {
        await loadVgg19(this.vgg, this.opts.vggPath).catch((e: Error) => {
          throw new Error(`${e.message} (--vgg takes ${VGG_FORMATS})`);
        });
        this.say(`VGG19 (${this.cfg.vggLayer}) weights: ${this.opts.vggPath}`);
      } else if (this.opts.vggRandom) {
        this.say('WARNING: --vgg random: the content loss uses a RANDOMLY INITIALISED VGG19, not ImageNet weights. ' +
          'Results will not be SRGAN. Use this for experiments only.', 'warning');
      } else {
        throw new Error(`phase 2 (SRGAN) needs ImageNet VGG19 weights: pass --vgg PATH (${VGG_FORMATS}), or set phase2Steps to 0`);
      }
    }
    const ckpt = join(out, CHECKPOINT);
    const hasCkpt = Boolean(await stat(ckpt).catch(() => null));
    if (this.opts.resume && !hasCkpt) throw new Error(`${ckpt}: no checkpoint to resume from`);
    if (!this.opts.resume && hasCkpt) throw new Error(`${ckpt} exists: pass --resume to continue that run, or choose another --out`);
    if (!this.opts.resume && this.opts.initGenerator) {
      const path = this.opts.initGenerator;
      const { config, tensors } = await readGeneratorFile(path);
      const { tensors: use, fresh } = initialGeneratorTensors(config, tensors, this.cfg.generator, path);
      // the tensors kept are the network's own names outside the fresh layers: load just those
      loadTensors(this.G.stateEntries().filter(([n]) => use.has(n)), use, path);
      this.say(fresh.length
        ? `generator initialised from ${path}, all but ${fresh.join(', ')} (the file's upsampling is '${upsamplingOf(config)}', this run's '${upsamplingOf(this.cfg.generator)}'; those start random)`
        : `generator initialised from ${path}`);
    }
    await mkdir(out, { recursive: true }).catch((e: Error) => { throw new Error(`--out ${out}: cannot create the run folder (${e.message})`); });
    await this.folder.lock();
    try {
      await this.folder.removeStaleTemporaries();
      if (this.opts.resume) {
        await this.loadCheckpoint(ckpt);
        this.say(`resumed from ${ckpt} at step ${this.step}`);
      }
      if (this.ema && !this.emaLoaded) this.ema.reset();
      if (this.opts.resume) await this.matchGeneratorFile();
      await this.folder.trimLog(this.step);
    } catch (e) {
      this.folder.unlock();
      throw e;
    }
  }

  /**
   * generator.safetensors is written before the checkpoint, both carrying the step: after a crash
   * between the two it is one save ahead, so it is rewritten from the checkpoint's weights.
   */
  private async matchGeneratorFile(): Promise<void> {
    const path = join(this.opts.outDir, GENERATOR_FILE);
    const why = await readSafetensors(path).then(
      ({ metadata }) => (metadata.step === String(this.step) ? null : `it is from step ${metadata.step ?? '?'}`),
      (e: Error) => e.message.replace(`${path}: `, ''));
    if (why === null) return;
    this.say(`note: ${path} rewritten from the checkpoint (step ${this.step}): ${why}`, 'note');
    await saveModule(path, this.outputG, generatorMetadata(this.cfg, this.step));
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

  /**
   * Writes the generator alone (for upscaling), then the full training state, each atomically
   * and carrying the step and a checksum of its data: after a crash between the two, resume
   * sees the generator ahead of the checkpoint and rewrites it.
   */
  async saveCheckpoint(): Promise<void> {
    const tensors: Array<[string, StTensor]> = await stateTensors(this.checkpointEntries());
    const meta = {
      format: 'srgan-webgpu-checkpoint', step: String(this.step), phase: String(this.phaseOf(this.step)),
      lr: String(this.lrOf(this.step)), seed: String(this.cfg.seed), rng: `batch(seed=${this.cfg.seed}, step)`,
      adam_g_step: String(this.optG.step), adam_d_step: String(this.optD?.step ?? 0),
      config: JSON.stringify(this.cfg),
    };
    await saveModule(join(this.opts.outDir, GENERATOR_FILE), this.outputG, generatorMetadata(this.cfg, this.step));
    await writeAtomic(join(this.opts.outDir, CHECKPOINT), serializeChecked(tensors, meta));
  }

  private async loadCheckpoint(path: string): Promise<void> {
    const { tensors, metadata, checked } = await readSafetensors(path);
    const { saved, step, adamG, adamD } = checkpointMetadata(metadata, path);
    if (!checked) this.say(`note: ${path} has no checksum (written by an earlier version): its data are not verified`);
    const arch = (c: TrainConfig) => JSON.stringify([c.generator, c.phase2Steps > 0 ? c.discriminator : null, c.crop]);
    if (arch(saved) !== arch(this.cfg)) {
      throw new Error(`${path}: checkpoint of another model configuration (saved ${arch(saved)}, now ${arch(this.cfg)})`);
    }
    if (!this.opts.allowChanges) refuseRestrictedChanges(saved, this.cfg, path);
    const hasEma = [...tensors.keys()].some((k) => k.startsWith('ema.'));
    if (hasEma && !this.Gema) {
      for (const k of [...tensors.keys()]) if (k.startsWith('ema.')) tensors.delete(k);
      this.say(`${path}: the checkpoint has EMA weights but ema is 0: they are dropped, and generator.safetensors will hold the live weights`);
    }
    const entries = this.checkpointEntries().filter(([n]) => hasEma || !n.startsWith('ema.'));
    const names = new Set(entries.map(([n]) => n));
    for (const k of tensors.keys()) if (!names.has(k)) throw new Error(`${path}: unexpected tensor '${k}'`);
    loadTensors(entries, tensors, path);
    this.step = step;
    this.optG.step = adamG;
    if (this.optD) this.optD.step = adamD;
    this.emaLoaded = hasEma && this.Gema !== null;
    if (this.Gema && !hasEma) this.say(`${path}: no EMA weights in the checkpoint: the average (ema ${this.cfg.ema}) starts from the current weights`);
    await gpu().sync();
  }

  /** Stop after the current step, with a checkpoint (the CLI calls this on SIGINT/SIGTERM). */
  requestStop(): void { this.stopRequested = true; }
  get stopping(): boolean { return this.stopRequested; }

  private upload(b: Batch): { lr: Tensor; hr: Tensor } {
    const ls = b.crop / b.scale;
    return { lr: fromArray(b.lr, [b.n, ls, ls, 3]), hr: fromArray(b.hr, [b.n, b.crop, b.crop, 3]) };
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
    const { lr: lrT, hr: hrT } = this.upload(batch);
    const cfg = this.cfg;
    // the step's scalars (and D's logits) by name, read back together after the CPU's next batch
    const outs: Array<[string, Tensor]> = phase === 1
      ? [['loss', srresnetStep({ G: this.G, optG: this.optG, ema: this.ema, pixelLoss: cfg.pixelLoss }, lrT, hrT)[0]]]
      : Object.entries(srganStep({ G: this.G, D: this.D!, vgg: this.vgg!, optG: this.optG, optD: this.optD!, ema: this.ema,
        ...phase2Weights(cfg) }, lrT, hrT)) as Array<[string, Tensor]>;
    lrT.dispose(); hrT.dispose();
    gpu().flush();
    next?.(); // prepare the next batch on the CPU while the GPU works
    const v: Record<string, Float32Array> = Object.fromEntries(await Promise.all(outs.map(async ([k, t]) => [k, await t.data()] as const)));
    for (const [, t] of outs) t.dispose();
    const stepDone = this.step;
    this.step++;
    const sigmoidMean = (a: Float32Array) => a.reduce((s, z) => s + 1 / (1 + Math.exp(-z)), 0) / a.length;
    const rec: StepLog = { step: stepDone + 1, phase, lr, loss_g: (v.loss ?? v.lossG)[0], steps_per_s: 0, time: new Date().toISOString() };
    if (phase === 1) rec[this.cfg.pixelLoss] = v.loss[0];
    else {
      rec.content = v.content[0]; rec.adversarial = v.adversarial[0]; rec.loss_d = v.lossD[0];
      rec.d_hr = sigmoidMean(v.dReal); rec.d_sr = sigmoidMean(v.dFake);
      // the optional terms that have weights (src/srgan/losses.ts), each under its log name
      for (const t of PHASE2_TERMS) if (v[t.key]) (rec as unknown as Record<string, number>)[logName(t, this.cfg.pixelLoss)] = v[t.key][0];
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
    const logFile = join(out, LOG_FILE);
    this.lastSavedStep = this.step;
    this.startTime = performance.now();
    this.lastLogTime = this.startTime;
    this.lastLogStep = this.step;
    const previewBatch = cfg.previewEvery > 0 ? makeBatch(this.images, cfg.previewCount, cfg.crop, cfg.generator.scale, cfg.seed ^ 0x5eed, 0, cfg.degradation) : null;
    const startStep = this.step;
    // the paper's bicubic batches take milliseconds and are made here while the GPU runs; the
    // real-world degradations take a worker thread
    const source = new BatchSource(this.images, { n: cfg.batch, crop: cfg.crop, scale: cfg.generator.scale, seed: cfg.seed, degradation: cfg.degradation },
      { worker: cfg.degradation.kind !== 'bicubic' });
    this.batchSource = source;
    let lastWait = 0;
    try {
      let batch = await source.get(this.step, this.totalSteps);
      while (this.step < this.totalSteps && !this.stopRequested) {
        if (this.opts.maxTimeSec !== undefined && (performance.now() - this.startTime) / 1000 >= this.opts.maxTimeSec) {
          this.say(`\n--max-time reached after ${((performance.now() - this.startTime) / 1000).toFixed(0)} s`);
          break;
        }
        if (this.opts.stopAfter !== undefined && this.step - startStep >= this.opts.stopAfter) break;
        let nextBatch: Promise<Batch> | null = null;
        const rec = await this.trainStep(batch, () => {
          if (this.step + 1 < this.totalSteps) nextBatch = source.get(this.step + 1, this.totalSteps);
        });
        if (nextBatch) batch = await nextBatch;
        const now = performance.now();
        const sps = (this.step - this.lastLogStep) / Math.max(1e-9, (now - this.lastLogTime) / 1000);
        if (this.step % cfg.logEvery === 0 || this.step === this.totalSteps) {
          rec.steps_per_s = sps;
          if (source.threaded) { rec.data_wait_ms = (source.waitMs - lastWait) / Math.max(1, this.step - this.lastLogStep); lastWait = source.waitMs; }
          await appendFile(logFile, JSON.stringify(rec) + '\n');
          this.lastLogTime = now;
          this.lastLogStep = this.step;
          this.opts.onStep?.(rec, this.totalSteps);
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
    } finally {
      await source.close();
      this.batchSource = null;
    }
  }

  /** The running loop's batch source (for its wait and build times). */
  batchSource: BatchSource | null = null;

  private async save(): Promise<void> {
    await this.saveCheckpoint();
    this.lastSavedStep = this.step;
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
      // with the run's VGG19 (a run with a phase 2 has one: its content-loss layer), the feature distance to HR as well
      const res = await evaluateFolder(this.outputG, this.opts.valDir!, this.cfg.generator.scale, {}, this.vgg ?? undefined, this.valBicubic);
      // the same images from degraded inputs (validateDegraded), for runs that learn to undo them
      const degraded: Record<string, { model: Scores; bicubic: Scores }> = {};
      const tables = [formatEvalTable(res)];
      for (const c of this.cfg.validateDegraded ? this.cfg.validateDegraded.split(',') as EvalCase[] : []) {
        const r = await evaluateFolder(this.outputG, this.opts.valDir!, this.cfg.generator.scale, {}, this.vgg ?? undefined, undefined, { degrade: c });
        degraded[c] = { model: r.mean, bicubic: r.bicubicMean };
        tables.push(formatEvalTable(r));
      }
      await appendFile(logFile, JSON.stringify({
        step: this.step, validation: res.mean, bicubic: res.bicubicMean, images: res.rows.length, ...(res.vggLayer ? { vggLayer: res.vggLayer } : {}),
        ...(Object.keys(degraded).length ? { degraded } : {}),
      }) + '\n');
      this.say('\n' + tables.join('\n\n'));
    } finally {
      this.G.train();
    }
  }

  /** Redraws plot.png from log.jsonl. A plot is a convenience: failing to draw one stops nothing. */
  private async plot(logFile: string): Promise<void> {
    try {
      const text = await readFile(logFile, 'utf8').catch(() => '');
      const recs = text.split('\n').filter((l) => l.trim()).flatMap((l) => { try { return [JSON.parse(l) as LogRecord]; } catch { return []; } });
      if (!recs.length) return;
      await writeAtomic(join(this.opts.outDir, 'plot.png'), encodePng(renderPlot(recs)));
    } catch (e) {
      this.say(`\nwarning: plot.png not written: ${(e as Error).message}`, 'warning');
    }
  }

  /** Releases the run folder's lock (also done by dispose); for a process that must exit at once. */
  unlock(): void { this.folder.unlock(); }

  /** Frees the GPU state and releases the run folder's lock. */
  dispose(): void {
    this.folder.unlock();
    this.G.dispose(); this.Gema?.dispose(); this.D?.dispose(); this.vgg?.dispose(); this.optG.dispose(); this.optD?.dispose();
  }
}

