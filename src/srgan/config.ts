// Training configuration: every number is a flag or a JSON entry; defaults follow the paper.
import { NORMS, SKIPS, TRAINABLE_ARCHS, UPSAMPLINGS, generatorConfigError, type GeneratorConfig } from './generator.js';
import type { DiscriminatorConfig } from './discriminator.js';
import type { VggLayer } from './vgg19.js';
import { DEFAULT_DEGRADATION, EVAL_CASES, type DegradationConfig } from './degrade.js';
import { PHASE2_TERMS } from './losses.js';

export interface TrainConfig {
  generator: GeneratorConfig;
  discriminator: Omit<DiscriminatorConfig, 'inputSize'>;
  /**
   * How LR inputs are made from HR crops: kind 'bicubic' (the paper's protocol) or 'realesrgan'
   * (Real-ESRGAN's second-order blur, resize, noise and JPEG model; its ranges as the other entries)
   */
  degradation: DegradationConfig;
  batch: number;            // 16
  crop: number;             // 96 (HR crop size)
  phase1Steps: number;      // SRResNet (MSE) updates: 1e6 in the paper
  phase2Steps: number;      // SRGAN updates: 2e5 in the paper
  lr1: number;              // 1e-4
  lr2: number;              // 1e-4 for the first half of phase 2 ...
  lr2Final: number;         // ... then 1e-5 (also the end point of schedule2 'cosine')
  schedule1: 'constant' | 'cosine'; // 'constant' (the paper); 'cosine' anneals lr1 -> lr1Min over phase 1
  lr1Min: number;           // 0: where phase 1's cosine ends
  warmup1: number;          // 0: steps of linear warmup at the start of phase 1 (either schedule)
  schedule2: 'step' | 'cosine'; // 'step' (the paper: lr2, then lr2Final halfway); 'cosine' lr2 -> lr2Final
  pixelLoss: 'mse' | 'l1';  // phase 1's loss: 'mse' (the paper) or 'l1' (mean absolute error)
  ema: number;              // 0 (off): decay of an exponential moving average of the generator's
                            // weights (e.g. 0.999), used for validation, previews and generator.safetensors
  beta1: number;            // 0.9
  beta2: number;            // 0.999
  contentScale: number;     // 1/12.75: VGG features are divided by this before the MSE
  advWeight: number;        // 1e-3
  pixelWeight2: number;     // 0 (the paper): weight of a pixel loss (pixelLoss's kind) added to phase 2's
                            // generator loss, as ESRGAN does (1e-2 with L1) to keep colours anchored
  lowWeight2: number;       // 0: weight of an L1 loss between 4x4 box averages of SR and HR in phase 2's
                            // generator loss: holds colours and brightness, leaves detail free
  chromaWeight2: number;    // 0: weight of an L1 loss between the BT.601 chroma (Cb, Cr) of SR and HR, per
                            // pixel, in phase 2's generator loss: invented detail goes to Y, not colour speckle
  gridWeight2: number;      // 0: weight of an L1 loss between the 16 phase means (every 4 pixels) of SR's and
                            // HR's high-pass residual in phase 2's generator loss: no 4-pixel dot grid
  blockWeight2: number;     // 0: weight of an L1 loss between the 64 block-phase means (every 32 pixels) of
                            // SR's and HR's squared luma steps: no JPEG blocks redrawn at x4
  vggLayer: VggLayer;       // 'vgg54'
  vggActivation: 'after' | 'before'; // 'after' (the paper: the layer's ReLU output); 'before' (ESRGAN: the conv's output)
  ganLoss: 'vanilla' | 'ragan'; // 'vanilla' (the paper's BCE); 'ragan' (ESRGAN's relativistic average GAN)
  seed: number;
  checkpointEvery: number;  // steps
  previewEvery: number;     // steps (0 = never)
  previewCount: number;     // samples in a preview grid
  validateEvery: number;    // steps (needs --val; 0 = every 5 checkpoints when --val is given)
  validateDegraded: string; // '': validation on the paper's bicubic inputs only; else eval cases (jpeg75,realesrgan, ...) validated too
  logEvery: number;         // steps between log lines
}

export const DEFAULT_CONFIG: TrainConfig = {
  generator: { arch: 'srresnet', channels: 64, blocks: 16, growth: 32, scale: 4, upsample: 'shuffle', norm: 'batch', skip: 'none' },
  discriminator: { channels: 64, denseUnits: 1024, head: 'dense' },
  degradation: structuredClone(DEFAULT_DEGRADATION),
  batch: 16,
  crop: 96,
  phase1Steps: 1_000_000,
  phase2Steps: 200_000,
  lr1: 1e-4,
  lr2: 1e-4,
  lr2Final: 1e-5,
  schedule1: 'constant',
  lr1Min: 0,
  warmup1: 0,
  schedule2: 'step',
  pixelLoss: 'mse',
  ema: 0,
  beta1: 0.9,
  beta2: 0.999,
  contentScale: 1 / 12.75,
  advWeight: 1e-3,
  pixelWeight2: 0,
  lowWeight2: 0,
  chromaWeight2: 0,
  gridWeight2: 0,
  blockWeight2: 0,
  vggLayer: 'vgg54',
  vggActivation: 'after',
  ganLoss: 'vanilla',
  seed: 1,
  checkpointEvery: 500,
  previewEvery: 1000,
  previewCount: 4,
  validateEvery: 0,
  validateDegraded: '',
  logEvery: 10,
};

/** A check of one entry's value: null when fine, else what the value must be. */
type Rule = (v: unknown) => string | null;

const MAX_STEPS = 1e12;
const int = (lo: number, hi: number): Rule => (v) =>
  typeof v === 'number' && Number.isInteger(v) && v >= lo && v <= hi ? null : `an integer in ${lo}..${hi}`;
/** A finite number in a range; `open` excludes the ends so marked. */
const num = (lo: number, hi: number, open: { lo?: boolean; hi?: boolean } = {}): Rule => (v) =>
  typeof v === 'number' && Number.isFinite(v) && (open.lo ? v > lo : v >= lo) && (open.hi ? v < hi : v <= hi) ? null
    : `in ${open.lo ? '(' : '['}${lo}, ${hi}${open.hi ? ')' : ']'}`;
/** A [lo, hi] pair within [min, max] (`through`: lo <= through <= hi, for ranges drawn on both sides of it). */
const range = (min: number, max: number, opts: { loAbove?: boolean; through?: number } = {}): Rule => (v) => {
  const ok = Array.isArray(v) && v.length === 2 && v.every((x) => typeof x === 'number' && Number.isFinite(x)) &&
    (opts.loAbove ? v[0] > min : v[0] >= min) && v[0] <= v[1] && v[1] <= max &&
    (opts.through === undefined || (v[0] <= opts.through && opts.through <= v[1]));
  return ok ? null : `a range lo,hi with ${min} ${opts.loAbove ? '<' : '<='} lo <= hi <= ${max}${opts.through !== undefined ? ` and lo <= ${opts.through} <= hi` : ''}`;
};
/** n probabilities that sum to 1. */
const probs = (n: number): Rule => (v) =>
  Array.isArray(v) && v.length === n && v.every((x) => typeof x === 'number' && Number.isFinite(x) && x >= 0 && x <= 1) &&
  Math.abs((v as number[]).reduce((a, b) => a + b, 0) - 1) < 1e-6 ? null : `${n} probabilities (0..1, comma-separated) that sum to 1`;
const oneOf = (...allowed: Array<string | number>): Rule => (v) =>
  allowed.includes(v as string | number) ? null : allowed.map((a) => (typeof a === 'string' ? `'${a}'` : String(a))).join(' or ');

/**
 * Every config entry (dotted) and what its value must be. The bounds keep a typo from reaching
 * an allocation (a batch of 1.5 or a crop of 1e9 would fail deep inside with an internal message).
 */
export const CONFIG_RULES: Record<string, Rule> = {
  'generator.arch': oneOf(...TRAINABLE_ARCHS),
  'generator.channels': int(1, 1024),
  'generator.growth': int(1, 1024),
  'generator.blocks': int(0, 256),
  'generator.scale': oneOf(2, 4),
  'generator.upsample': oneOf(...UPSAMPLINGS),
  'generator.norm': oneOf(...NORMS),
  'generator.skip': oneOf(...SKIPS),
  'discriminator.channels': int(1, 1024),
  'discriminator.denseUnits': int(1, 65536),
  'discriminator.head': oneOf('dense', 'pool'),
  'degradation.kind': oneOf('bicubic', 'realesrgan'),
  'degradation.cleanProb': num(0, 1),
  'degradation.webProb': num(0, 1),
  'degradation.webJpeg': range(1, 100),
  'degradation.usm': num(0, 4),
  ...Object.fromEntries(([1, 2] as const).flatMap((n) => [
    [`degradation.blur${n}`, num(0, 1)],
    [`degradation.blur${n}Kernel`, probs(6)],
    [`degradation.blur${n}Sinc`, num(0, 1)],
    [`degradation.blur${n}Sigma`, range(0, 50, { loAbove: true })],
    [`degradation.blur${n}BetaG`, range(0, 16, { loAbove: true, through: 1 })],
    [`degradation.blur${n}BetaP`, range(0, 16, { loAbove: true, through: 1 })],
    [`degradation.resize${n}Probs`, probs(3)],
    [`degradation.resize${n}Range`, range(0.01, 8, { through: 1 })],
    [`degradation.gaussian${n}`, num(0, 1)],
    [`degradation.noise${n}Sigma`, range(0, 255)],
    [`degradation.poisson${n}Scale`, range(0, 100)],
    [`degradation.grayNoise${n}`, num(0, 1)],
    [`degradation.jpeg${n}`, range(1, 100)],
  ])),
  'degradation.finalSinc': num(0, 1),
  batch: int(1, 1024),
  crop: (v) => (int(16, 2048)(v) === null && (v as number) % 16 === 0 ? null : 'a multiple of 16 in 16..2048'),
  phase1Steps: int(0, MAX_STEPS),
  phase2Steps: int(0, MAX_STEPS),
  lr1: num(0, 1, { lo: true }),
  lr2: num(0, 1, { lo: true }),
  lr2Final: num(0, 1),
  schedule1: oneOf('constant', 'cosine'),
  lr1Min: num(0, 1),
  warmup1: int(0, MAX_STEPS),
  schedule2: oneOf('step', 'cosine'),
  pixelLoss: oneOf('mse', 'l1'),
  ema: num(0, 1, { hi: true }),
  beta1: num(0, 1, { hi: true }),
  beta2: num(0, 1, { hi: true }),
  contentScale: num(0, 1e6, { lo: true }),
  advWeight: num(0, 1e6),
  ...Object.fromEntries(PHASE2_TERMS.map((t) => [t.setting, num(0, 1e6)])),
  vggLayer: oneOf('vgg54', 'vgg34', 'vgg22'),
  vggActivation: oneOf('after', 'before'),
  ganLoss: oneOf('vanilla', 'ragan'),
  seed: int(0, 2 ** 32 - 1),
  checkpointEvery: int(1, MAX_STEPS),
  previewEvery: int(0, MAX_STEPS),
  previewCount: int(1, 64),
  validateEvery: int(0, MAX_STEPS),
  validateDegraded: (v) => typeof v === 'string' && (v === '' || v.split(',').every((c) => c !== 'bicubic' && (EVAL_CASES as readonly string[]).includes(c)))
    ? null : `'' or a comma-separated list of ${EVAL_CASES.filter((c) => c !== 'bicubic').join(', ')}`,
  logEvery: int(1, MAX_STEPS),
};

/** The default value of a dotted entry, or undefined when there is no such leaf entry. */
function defaultOf(key: string): unknown {
  let o: unknown = DEFAULT_CONFIG;
  for (const k of key.split('.')) {
    if (!o || typeof o !== 'object' || Array.isArray(o) || !Object.hasOwn(o, k)) return undefined;
    o = (o as Record<string, unknown>)[k];
  }
  return o;
}

/** One entry's value checked and converted (numbers may come as strings, from --set or JSON). */
function checkEntry(key: string, given: unknown, where: string): unknown {
  const d = defaultOf(key);
  let v = typeof d === 'number' && typeof given === 'string' && given.trim() !== '' ? Number(given) : given;
  // a list of numbers (a range, probabilities) comes from --set as '1,30'
  if (Array.isArray(d) && typeof given === 'string') v = given.split(',').map((x) => (x.trim() === '' ? NaN : Number(x)));
  const want = CONFIG_RULES[key]?.(v);
  const shown = typeof v === 'number' && !Number.isNaN(v) ? String(v) : typeof given === 'string' ? JSON.stringify(given) : JSON.stringify(given) ?? String(given);
  if (want) throw new Error(`${where}: ${key} must be ${want}, got ${shown}`);
  return v;
}

/**
 * Merges a partial config (from JSON or flags) over the defaults (or `base`), checking every value;
 * `where` starts the messages ('config', a file name, a checkpoint).
 */
export function resolveConfig(partial: Record<string, unknown>, base: TrainConfig = DEFAULT_CONFIG, where = 'config'): TrainConfig {
  if (!partial || typeof partial !== 'object' || Array.isArray(partial)) throw new Error(`${where}: expected a JSON object of entries`);
  const cfg = structuredClone(base) as unknown as Record<string, unknown>;
  const merge = (dst: Record<string, unknown>, src: Record<string, unknown>, path: string): void => {
    for (const [k, v] of Object.entries(src)) {
      if (!Object.hasOwn(dst, k)) throw new Error(`${where}: unknown entry '${path}${k}' (see --help for the entries)`);
      const d = dst[k];
      if (d && typeof d === 'object' && !Array.isArray(d)) {
        if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error(`${where}: '${path}${k}' must be an object`);
        merge(d as Record<string, unknown>, v as Record<string, unknown>, `${path}${k}.`);
      } else {
        dst[k] = checkEntry(`${path}${k}`, v, where);
      }
    }
  };
  merge(cfg, partial, '');
  // the base too: a saved configuration is as untrusted as a flag
  for (const key of Object.keys(CONFIG_RULES)) checkEntry(key, get(cfg, key), where);
  // the entries together: options that do not apply to the architecture, a tail that needs scale 4
  const bad = generatorConfigError((cfg as unknown as TrainConfig).generator);
  if (bad) throw new Error(`${where}: ${bad}`);
  const deg = (cfg as unknown as TrainConfig).degradation;
  const c = cfg as unknown as TrainConfig;
  if (c.blockWeight2 > 0 && c.crop % 32) throw new Error(`${where}: blockWeight2 needs a crop that is a multiple of 32 (the JPEG block at x4), got ${c.crop}`);
  if (deg.cleanProb + deg.webProb > 1) throw new Error(`${where}: degradation.cleanProb + degradation.webProb must be at most 1, got ${deg.cleanProb} + ${deg.webProb}`);
  return cfg as unknown as TrainConfig;
}

function get(o: Record<string, unknown>, key: string): unknown {
  let v: unknown = o;
  for (const k of key.split('.')) v = (v as Record<string, unknown>)?.[k];
  return v;
}

/**
 * Applies one --set KEY=VALUE to `partial` (nested by the dots), checking the key and the value
 * at once so that a typo is a one-line error naming the flag.
 */
export function applySet(partial: Record<string, unknown>, kv: string): void {
  const eq = kv.indexOf('=');
  if (eq < 0) throw new Error(`--set ${kv}: expected KEY=VALUE`);
  const key = kv.slice(0, eq).trim(), raw = kv.slice(eq + 1);
  const d = defaultOf(key);
  if (d === undefined) throw new Error(`--set ${kv}: unknown key '${key}' (see --help for the entries)`);
  if (typeof d === 'object' && !Array.isArray(d)) throw new Error(`--set ${kv}: '${key}' is a group; set its entries, e.g. ${key}.${Object.keys(d as object)[0]}=...`);
  const v = checkEntry(key, raw, `--set ${kv}`);
  const keys = key.split('.');
  let o = partial;
  for (const k of keys.slice(0, -1)) {
    const next = Object.hasOwn(o, k) ? o[k] : undefined;
    o = (next && typeof next === 'object' ? next : (o[k] = {})) as Record<string, unknown>;
  }
  o[keys[keys.length - 1]] = v;
}

/** Dotted names of the entries whose values differ between two configs, with both values. */
export function configChanges(from: TrainConfig, to: TrainConfig): string[] {
  const out: string[] = [];
  const walk = (a: Record<string, unknown>, b: Record<string, unknown>, path: string): void => {
    for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
      const x = a[k], y = b[k];
      if (x && y && typeof x === 'object' && typeof y === 'object' && !Array.isArray(x) && !Array.isArray(y)) walk(x as Record<string, unknown>, y as Record<string, unknown>, `${path}${k}.`);
      else if (JSON.stringify(x) !== JSON.stringify(y)) out.push(`${path}${k} ${JSON.stringify(x)} -> ${JSON.stringify(y)}`);
    }
  };
  walk(from as unknown as Record<string, unknown>, to as unknown as Record<string, unknown>, '');
  return out;
}

/**
 * Entries a resumed run may change freely: how long it runs, its learning rates and the
 * schedules' end points, how often it logs, saves, previews and validates, and the weights' moving
 * average (which the checkpoint carries or starts afresh, saying so). Any other change (batch,
 * crop, seed, the networks, the losses, the schedules' shapes, Adam's betas) makes the resumed
 * run something other than the one that was started, so it needs --allow-changes.
 */
export const FREE_ON_RESUME = new Set([
  'phase1Steps', 'phase2Steps', 'lr1', 'lr2', 'lr2Final', 'lr1Min',
  'checkpointEvery', 'validateEvery', 'validateDegraded', 'previewEvery', 'previewCount', 'logEvery', 'ema',
]);

/** The changes (as configChanges lists them) that FREE_ON_RESUME does not cover. */
export function restrictedChanges(from: TrainConfig, to: TrainConfig): string[] {
  return configChanges(from, to).filter((c) => !FREE_ON_RESUME.has(c.slice(0, c.indexOf(' '))));
}

/**
 * The learning rate of update `step` (0-based, over both phases). Phase 1: `warmup1` steps rising
 * linearly to lr1 (the first already above 0, so no update is wasted), then constant, or a
 * half-cosine from lr1 to lr1Min that would reach lr1Min at step phase1Steps. Phase 2: the paper's
 * step (lr2, then lr2Final from the halfway point) or a half-cosine from lr2 to lr2Final.
 */
export function learningRate(cfg: TrainConfig, step: number): number {
  const cosine = (hi: number, lo: number, t: number, T: number) => lo + (hi - lo) * 0.5 * (1 + Math.cos(Math.PI * Math.min(1, t / Math.max(1, T))));
  if (step < cfg.phase1Steps) {
    const W = cfg.warmup1;
    if (step < W) return cfg.lr1 * (step + 1) / W;
    return cfg.schedule1 === 'cosine' ? cosine(cfg.lr1, cfg.lr1Min, step - W, cfg.phase1Steps - W) : cfg.lr1;
  }
  const s = step - cfg.phase1Steps;
  if (cfg.schedule2 === 'cosine') return cosine(cfg.lr2, cfg.lr2Final, s, cfg.phase2Steps);
  return s < cfg.phase2Steps / 2 ? cfg.lr2 : cfg.lr2Final;
}

/** Parses '8h', '30m', '90s', '1h30m' or a number of seconds (> 0: a zero budget would do nothing). */
export function parseDuration(s: string): number {
  const bad = () => new Error(`--max-time ${JSON.stringify(s)}: expected a duration above zero such as 8h, 45m, 90s, 1h30m or a number of seconds`);
  let total = 0;
  if (/^\d+(\.\d+)?$/.test(s)) total = Number(s);
  else {
    const re = /(\d+(?:\.\d+)?)([hms])/g;
    let m: RegExpExecArray | null, matched = '';
    while ((m = re.exec(s))) { total += Number(m[1]) * { h: 3600, m: 60, s: 1 }[m[2] as 'h' | 'm' | 's']; matched += m[0]; }
    if (matched !== s || !matched) throw bad();
  }
  if (!(total > 0 && Number.isFinite(total))) throw bad();
  return total;
}
