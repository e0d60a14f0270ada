// The checkpoint format's metadata: what a generator file and a training checkpoint say of the
// run that wrote them, read back and checked (a crafted or damaged one is refused in one line),
// and the configuration a resumed run continues with.
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { readSafetensorsHeader } from '../node/state.js';
import { normalGenerator } from '../srgan/generator.js';
import { configChanges, resolveConfig, restrictedChanges, type TrainConfig } from '../srgan/config.js';
import { CHECKPOINT } from './run-folder.js';

/** What a generator.safetensors says of itself: the format, the network, the step and how it was trained. */
export function generatorMetadata(cfg: TrainConfig, step: number): Record<string, string> {
  return {
    format: 'srgan-webgpu-generator',
    generator: JSON.stringify(normalGenerator(cfg.generator)),
    step: String(step),
    trained_with: JSON.stringify({ batch: cfg.batch, crop: cfg.crop, phase1Steps: cfg.phase1Steps, phase2Steps: cfg.phase2Steps,
      ...(cfg.ema > 0 ? { ema: cfg.ema } : {}),
      // the inputs it learnt from: the paper's bicubic, or the real-world model (its settings are in the checkpoint)
      ...(cfg.degradation.kind !== 'bicubic' ? { degradation: cfg.degradation.kind } : {}) }),
  };
}

/** A checkpoint's metadata, checked: a crafted or damaged one is refused with a clear line. */
export function checkpointMetadata(meta: Record<string, string>, path: string): { saved: TrainConfig; step: number; adamG: number; adamD: number } {
  if (meta.format !== 'srgan-webgpu-checkpoint' || !meta.config) throw new Error(`${path}: not a training checkpoint of srgan-webgpu`);
  const count = (key: string): number => {
    const v = meta[key];
    if (typeof v !== 'string' || !/^\d{1,15}$/.test(v)) throw new Error(`${path}: metadata '${key}' is ${JSON.stringify(v) ?? 'missing'}, expected a whole number of steps`);
    return Number(v);
  };
  const step = count('step'), adamG = count('adam_g_step'), adamD = count('adam_d_step');
  let json: unknown;
  try { json = JSON.parse(meta.config); } catch { throw new Error(`${path}: metadata 'config' is not valid JSON`); }
  // over today's defaults: entries added since the checkpoint was written take their defaults
  const saved = resolveConfig(json as Record<string, unknown>, undefined, `${path}: saved configuration`);
  if (step > saved.phase1Steps + saved.phase2Steps) throw new Error(`${path}: metadata step ${step} is past the end of its run (${saved.phase1Steps + saved.phase2Steps} steps)`);
  return { saved, step, adamG, adamD };
}

/** Resuming with settings that change the run's meaning is refused, naming each (see FREE_ON_RESUME). */
export function refuseRestrictedChanges(saved: TrainConfig, cfg: TrainConfig, path: string): void {
  const bad = restrictedChanges(saved, cfg);
  if (bad.length) {
    throw new Error(`${path}: resuming would change the run's settings (${bad.join(', ')}); pass --allow-changes to resume with them anyway, or start a new run`);
  }
}

/**
 * The configuration to resume the run in `outDir` with: the one saved in its checkpoint, with
 * `partial` (from --config / --set) applied on top, and the entries that changed, for the user.
 * Read from the checkpoint's header alone; changes beyond FREE_ON_RESUME need `allowChanges`.
 */
export async function resumeConfig(outDir: string, partial: Record<string, unknown>, allowChanges = false): Promise<{ cfg: TrainConfig; changes: string[] }> {
  const path = join(outDir, CHECKPOINT);
  if (!(await stat(path).catch(() => null))) throw new Error(`${path}: no checkpoint to resume from`);
  const { saved } = checkpointMetadata((await readSafetensorsHeader(path)).metadata, path);
  const cfg = resolveConfig(partial, saved);
  if (!allowChanges) refuseRestrictedChanges(saved, cfg, path);
  return { cfg, changes: configChanges(saved, cfg) };
}
