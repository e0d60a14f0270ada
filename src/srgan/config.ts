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
  lr2Final: number;         // ... then 1e-5
  beta1: number;            // 0.9
  beta2: number;            // 0.999
  contentScale: number;     // 1/12.75: VGG features are divided by this before the MSE
  advWeight: number;        // 1e-3
  vggLayer: VggLayer;       // 'vgg54'
  seed: number;
  checkpointEvery: number;  // steps
  previewEvery: number;     // steps (0 = never)
  previewCount: number;     // samples in a preview grid
  validateEvery: number;    // steps (0 = never; needs valData)
  logEvery: number;         // steps between log lines
}

export const DEFAULT_CONFIG: TrainConfig = {
  generator: { channels: 64, blocks: 16, scale: 4 },
  discriminator: { channels: 64, denseUnits: 1024 },
  batch: 16,
  crop: 96,
  phase1Steps: 1_000_000,
  phase2Steps: 200_000,
  lr1: 1e-4,
  lr2: 1e-4,
  lr2Final: 1e-5,
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
  return c;
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
