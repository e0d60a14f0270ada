// Loading a generator checkpoint written by train.js (generator.safetensors), or the shipped default.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readSafetensors } from '../nn/state.js';
import { loadTensors } from '../nn/state.js';
import { Generator, type GeneratorConfig } from './generator.js';

/** The default model shipped in the package: models/default.safetensors. */
export function defaultModelPath(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const p = join(dir, 'models', 'default.safetensors');
    if (existsSync(p)) return p;
    dir = dirname(dir);
  }
  throw new Error('the default model (models/default.safetensors) is missing from this installation; pass --model FILE');
}

export async function loadGenerator(path: string): Promise<Generator> {
  const { tensors, metadata } = await readSafetensors(path);
  let cfg: GeneratorConfig;
  if (metadata.generator) {
    try { cfg = JSON.parse(metadata.generator); } catch { throw new Error(`${path}: malformed 'generator' metadata`); }
  } else if (metadata.format === 'srgan-webgpu-checkpoint' && metadata.config) {
    throw new Error(`${path}: this is a full training checkpoint; pass the generator.safetensors beside it`);
  } else {
    throw new Error(`${path}: not a generator written by train.js (no 'generator' metadata)`);
  }
  if (!tensors.has('conv_in.weight')) throw new Error(`${path}: not a generator (no conv_in.weight)`);
  const g = new Generator(cfg);
  try {
    loadTensors(g.stateEntries(), tensors, path);
  } catch (e) {
    g.dispose();
    throw e;
  }
  return g.eval();
}
