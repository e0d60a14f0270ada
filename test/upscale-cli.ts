// Helpers for the tests that run node dist/upscale.js as a user would: a tiny model, tiny images,
// and a runner that returns the exit code and both streams.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { testGpu, rng } from './helpers.js';
import type { Image } from '../src/image/pixels.js';
import { Generator } from '../src/srgan/generator.js';
import { saveModule } from '../src/node/state.js';
import { setInitSeed } from '../src/nn/layers.js';

const exec = promisify(execFile);
export const CLI = fileURLToPath(new URL('../dist/upscale.js', import.meta.url));

/** A fresh temporary folder and a tiny generator (8 channels, 1 block) saved in it. */
export async function setup(prefix: string): Promise<{ dir: string; model: string }> {
  await testGpu();
  const dir = mkdtempSync(join(tmpdir(), prefix));
  setInitSeed(4);
  const G = new Generator({ channels: 8, blocks: 1, scale: 4 });
  const model = join(dir, 'tiny.safetensors');
  await saveModule(model, G.eval(), { format: 'srgan-webgpu-generator', generator: JSON.stringify(G.config) });
  G.dispose();
  return { dir, model };
}

/** A random image, values on the bit depth's grid. */
export function img(w: number, h: number, channels: Image['channels'], bitDepth: 8 | 16 = 8, seed = 1): Image {
  const r = rng(seed);
  const max = bitDepth === 16 ? 65535 : 255;
  const data = new Float32Array(w * h * channels);
  for (let i = 0; i < data.length; i++) data[i] = Math.round(r() * max) / max;
  return { width: w, height: h, channels, bitDepth, data };
}

export interface Result { code: number; stdout: string; stderr: string; errors: string[] }

/** Runs upscale.js with `args` (the model added); never throws. `errors`: the stderr lines starting 'error:'. */
export async function upscale(model: string, args: string[], opts: { cwd?: string; timeout?: number } = {}): Promise<Result> {
  let r: { code: number; stdout: string; stderr: string };
  try {
    const o = await exec('node', [CLI, '--model', model, ...args], { cwd: opts.cwd, timeout: opts.timeout ?? 60_000 });
    r = { code: 0, stdout: o.stdout, stderr: o.stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    r = { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
  return { ...r, errors: r.stderr.split('\n').filter((l) => l.startsWith('error:')) };
}
