// Loading a generator checkpoint written by train.js (generator.safetensors), or the shipped default.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readSafetensors, loadTensors } from '../nn/state.js';
import { toFloat32, type StTensor } from '../nn/safetensors.js';
import { Generator, type GeneratorConfig } from './generator.js';
import { FoldedGenerator } from './inference.js';

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

/** Every tensor of a generator file, name -> shape in PyTorch's layout (conv OIHW): the file format. */
export function generatorTensorShapes(cfg: GeneratorConfig): Map<string, number[]> {
  const c = cfg.channels;
  const m = new Map<string, number[]>();
  const conv = (n: string, cin: number, cout: number, k: number, bias: boolean) => {
    m.set(`${n}.weight`, [cout, cin, k, k]);
    if (bias) m.set(`${n}.bias`, [cout]);
  };
  const bn = (n: string) => { for (const p of ['weight', 'bias', 'running_mean', 'running_var']) m.set(`${n}.${p}`, [c]); };
  conv('conv_in', 3, c, 9, true); m.set('act_in.weight', [c]);
  for (let i = 0; i < cfg.blocks; i++) {
    conv(`blocks.${i}.conv1`, c, c, 3, false); bn(`blocks.${i}.bn1`); m.set(`blocks.${i}.act.weight`, [c]);
    conv(`blocks.${i}.conv2`, c, c, 3, false); bn(`blocks.${i}.bn2`);
  }
  conv('conv_mid', c, c, 3, false); bn('bn_mid');
  for (let i = 0; i < Math.log2(cfg.scale); i++) { conv(`ups.${i}.conv`, c, 4 * c, 3, true); m.set(`ups.${i}.act.weight`, [c]); }
  conv('conv_out', c, 3, 9, true);
  return m;
}

/**
 * Checks a file's tensors against the configuration (names, shapes, dtypes, nothing extra), with
 * loadTensors' messages; returns a reader of each tensor as float32 in the file's layout.
 */
export function checkGeneratorTensors(config: GeneratorConfig, tensors: Map<string, StTensor>, file: string): (name: string) => Float32Array {
  const { channels, blocks, scale } = config;
  if (!(Number.isInteger(channels) && channels > 0 && Number.isInteger(blocks) && blocks >= 0 && (scale === 2 || scale === 4))) {
    throw new Error(`${file}: unsupported generator configuration ${JSON.stringify(config)}`);
  }
  const want = generatorTensorShapes(config);
  for (const [key, shape] of want) {
    const st = tensors.get(key);
    if (!st) throw new Error(`${file}: tensor '${key}' is missing (is this a checkpoint of the same model configuration?)`);
    if (st.shape.length !== shape.length || st.shape.some((d, i) => d !== shape[i])) {
      throw new Error(`${file}: tensor '${key}' has shape [${st.shape}], the model expects [${shape}]`);
    }
    if (st.dtype !== 'F32' && st.dtype !== 'F16' && st.dtype !== 'BF16') {
      throw new Error(`${file}: tensor '${key}' has dtype ${st.dtype}, expected F32 or F16`);
    }
  }
  const extra = [...tensors.keys()].filter((k) => !want.has(k));
  if (extra.length) throw new Error(`${file}: unexpected tensor '${extra[0]}'${extra.length > 1 ? ` (and ${extra.length - 1} more)` : ''} not in the model`);
  return (name) => toFloat32(tensors.get(name)!, name);
}

/**
 * The generator ready for inference, straight from a file: BN folded on the CPU from the file's
 * tensors and each folded weight uploaded once (no training-graph generator on the GPU).
 */
export async function loadFoldedGenerator(path: string): Promise<FoldedGenerator> {
  const { config, tensors } = await readGeneratorFile(path);
  return FoldedGenerator.fromTensors(config, checkGeneratorTensors(config, tensors, path));
}
