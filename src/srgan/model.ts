// Loading a generator checkpoint written by train.js (generator.safetensors), or the shipped default.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readSafetensors, loadTensors } from '../nn/state.js';
import type { StTensor } from '../nn/safetensors.js';
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

/** A generator file's configuration (from its metadata) and tensors, checked to be a generator. */
export async function readGeneratorFile(path: string): Promise<{ config: GeneratorConfig; tensors: Map<string, StTensor> }> {
  const { tensors, metadata } = await readSafetensors(path);
  let config: GeneratorConfig;
  if (metadata.generator) {
    try { config = JSON.parse(metadata.generator); } catch { throw new Error(`${path}: malformed 'generator' metadata`); }
  } else if (metadata.format === 'srgan-webgpu-checkpoint' && metadata.config) {
    throw new Error(`${path}: this is a full training checkpoint; pass the generator.safetensors beside it`);
  } else {
    throw new Error(`${path}: not a generator written by train.js (no 'generator' metadata)`);
  }
  if (!tensors.has('conv_in.weight')) throw new Error(`${path}: not a generator (no conv_in.weight)`);
  return { config, tensors };
}

export async function loadGenerator(path: string): Promise<Generator> {
  const { config, tensors } = await readGeneratorFile(path);
  const g = new Generator(config);
  try {
    loadTensors(g.stateEntries(), tensors, path);
  } catch (e) {
    g.dispose();
    throw e;
  }
  return g.eval();
}
