// Training configuration: every number is a flag or a JSON entry; defaults follow the paper.
import type { GeneratorConfig } from './generator.js';
import type { DiscriminatorConfig } from './discriminator.js';
import type { VggLayer } from './vgg19.js';

export interface TrainConfig {
  generator: GeneratorConfig;
  discriminator: Omit<DiscriminatorConfig, 'inputSize'>;
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
  vggLayer: VggLayer;       // 'vgg54'
  seed: number;
  checkpointEvery: number;  // steps
  previewEvery: number;     // steps (0 = never)
  previewCount: number;     // samples in a preview grid
  validateEvery: number;    // steps (needs --val; 0 = every 5 checkpoints when --val is given)
  logEvery: number;         // steps between log lines
}

export const DEFAULT_CONFIG: TrainConfig = {
  generator: { channels: 64, blocks: 16, scale: 4 },
  discriminator: { channels: 64, denseUnits: 1024, head: 'dense' },
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
  vggLayer: 'vgg54',
  seed: 1,
  checkpointEvery: 500,
  previewEvery: 1000,
  previewCount: 4,
  validateEvery: 0,
  logEvery: 10,
};

/** Merges a partial config (from JSON or flags) over the defaults, checking every value. */
export function resolveConfig(partial: Record<string, unknown>, base: TrainConfig = DEFAULT_CONFIG): TrainConfig {
  const cfg = structuredClone(base) as unknown as Record<string, unknown>;
  const merge = (dst: Record<string, unknown>, src: Record<string, unknown>, path: string): void => {
    for (const [k, v] of Object.entries(src)) {
      if (!(k in dst)) throw new Error(`config: unknown entry '${path}${k}'`);
      const d = dst[k];
      if (d && typeof d === 'object') {
        if (!v || typeof v !== 'object') throw new Error(`config: '${path}${k}' must be an object`);
        merge(d as Record<string, unknown>, v as Record<string, unknown>, `${path}${k}.`);
      } else if (typeof d === 'number') {
        const n = typeof v === 'string' ? Number(v) : v;
        if (typeof n !== 'number' || !Number.isFinite(n)) throw new Error(`config: '${path}${k}' must be a number, got ${JSON.stringify(v)}`);
        dst[k] = n;
      } else {
        if (typeof v !== typeof d) throw new Error(`config: '${path}${k}' must be a ${typeof d}`);
        dst[k] = v;
      }
    }
  };
  merge(cfg, partial, '');
  const c = cfg as unknown as TrainConfig;
  const s = c.generator.scale;
  if (s !== 2 && s !== 4) throw new Error('config: generator.scale must be 2 or 4');
  if (c.crop % s || c.crop % 16) throw new Error(`config: crop ${c.crop} must be a multiple of 16 (and of the scale)`);
  if (c.vggLayer !== 'vgg54' && c.vggLayer !== 'vgg22') throw new Error("config: vggLayer must be 'vgg54' or 'vgg22'");
  for (const k of ['batch', 'crop', 'logEvery', 'checkpointEvery'] as const) if (!(c[k] >= 1)) throw new Error(`config: ${k} must be >= 1`);
  const oneOf = (name: string, v: string, allowed: string[]) => {
    if (!allowed.includes(v)) throw new Error(`config: ${name} must be ${allowed.map((a) => `'${a}'`).join(' or ')}, got '${v}'`);
  };
  oneOf('schedule1', c.schedule1, ['constant', 'cosine']);
  oneOf('schedule2', c.schedule2, ['step', 'cosine']);
  oneOf('pixelLoss', c.pixelLoss, ['mse', 'l1']);
  oneOf('discriminator.head', c.discriminator.head ?? 'dense', ['dense', 'pool']);
  if (!(c.ema >= 0 && c.ema < 1)) throw new Error(`config: ema must be in [0, 1) (0 = off), got ${c.ema}`);
  if (!(c.warmup1 >= 0) || !Number.isInteger(c.warmup1)) throw new Error(`config: warmup1 must be a whole number of steps >= 0`);
  return c;
}

/** Dotted names of the entries whose values differ between two configs, with both values. */
export function configChanges(from: TrainConfig, to: TrainConfig): string[] {
  const out: string[] = [];
  const walk = (a: Record<string, unknown>, b: Record<string, unknown>, path: string): void => {
    for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
      const x = a[k], y = b[k];
      if (x && y && typeof x === 'object' && typeof y === 'object') walk(x as Record<string, unknown>, y as Record<string, unknown>, `${path}${k}.`);
      else if (JSON.stringify(x) !== JSON.stringify(y)) out.push(`${path}${k} ${JSON.stringify(x)} -> ${JSON.stringify(y)}`);
    }
  };
  walk(from as unknown as Record<string, unknown>, to as unknown as Record<string, unknown>, '');
  return out;
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

/** Parses '8h', '30m', '90s', '1h30m' or a number of seconds. */
export function parseDuration(s: string): number {
  if (/^\d+(\.\d+)?$/.test(s)) return Number(s);
  const re = /(\d+(?:\.\d+)?)([hms])/g;
  let total = 0, m: RegExpExecArray | null, matched = '';
  while ((m = re.exec(s))) { total += Number(m[1]) * { h: 3600, m: 60, s: 1 }[m[2] as 'h' | 'm' | 's']; matched += m[0]; }
  if (matched !== s || !matched) throw new Error(`--max-time: cannot read '${s}' (use e.g. 8h, 45m, 90s)`);
  return total;
}
