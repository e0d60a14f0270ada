// Generator files in Node: the shipped default's path, and files read header first (a crafted
// header costs nothing) before the data. The checks themselves are the engine's (src/srgan/model.ts).
import { existsSync } from 'node:fs';
import { open, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isZip } from '../nn/pth.js';
import { loadTensors } from '../nn/state.js';
import type { StTensor } from '../nn/safetensors.js';
import { makeGenerator, type AnyGenerator, type GeneratorConfig } from '../srgan/generator.js';
import { FoldedGenerator } from '../srgan/inference.js';
import {
  DEFAULT_MODEL, SHIPPED_MODELS, shippedName, MAX_PTH_BYTES, checkFinite, checkGeneratorShapes, checkGeneratorTensors, generatorConfigOf, inferGeneratorConfig,
  isBatchCounter, parsePthGenerator, parseNcnnGenerator, MAX_NCNN_BYTES,
} from '../srgan/model.js';
import { readSafetensors, readSafetensorsHeader } from './state.js';


/** The package's models/ folder (found from this file: sources, dist/ and installed layouts). */
function modelsDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'models', `${DEFAULT_MODEL}.safetensors`))) return join(dir, 'models');
    dir = dirname(dir);
  }
  throw new Error(`the shipped models (models/${DEFAULT_MODEL}.safetensors) are missing from this installation; pass --model FILE`);
}

/** The shipped models present in this installation, name -> description. */
export function shippedModels(): Array<[string, string]> {
  const dir = modelsDir();
  return Object.entries(SHIPPED_MODELS).filter(([n]) => existsSync(join(dir, `${n}.safetensors`)));
}

/** The shipped models as --help lines, indented by `indent` spaces. */
export function shippedModelList(indent: number): string {
  try {
    return shippedModels().map(([n, d]) => `${' '.repeat(indent)}${n.padEnd(10)} ${d}`).join('\n');
  } catch (e) {
    return `${' '.repeat(indent)}(${(e as Error).message})`;
  }
}

/** The file a --model value means: a shipped name ('default' included) or a path, unchanged. */
export function modelPath(src = 'default'): string {
  const name = shippedName(src);
  if (name === null) return src;
  if (!(name in SHIPPED_MODELS)) {
    throw new Error(`model '${src}': no such shipped model (shipped: ${shippedModels().map(([n]) => n).join(', ')}, or 'default'); a file of that name is ./${src}`);
  }
  return join(modelsDir(), `${name}.safetensors`);
}

/** The default model's file (models/<DEFAULT_MODEL>.safetensors). */
export const defaultModelPath = (): string => modelPath('default');

/** Whether a file is a zip archive (torch.save's .pth) rather than safetensors, by its first bytes. */
async function isPthFile(path: string): Promise<boolean> {
  const f = await open(path, 'r').catch(() => null);
  if (!f) return false; // the safetensors reader reports the error
  try {
    const b = new Uint8Array(4);
    await f.read(b, 0, 4, 0);
    return isZip(b);
  } finally { await f.close(); }
}

/** A .pth state_dict's tensors, BatchNorm counters dropped; the size checked before reading. */
async function readPth(path: string): Promise<Map<string, StTensor>> {
  const f = await open(path, 'r');
  const size = (await f.stat()).size;
  await f.close();
  if (size > MAX_PTH_BYTES) throw new Error(`${path}: a ${(size / 2 ** 20).toFixed(0)} MB .pth is too large for a generator (limit ${MAX_PTH_BYTES / 2 ** 20} MB)`);
  return parsePthGenerator(new Uint8Array(await readFile(path)), path);
}

/** An ncnn model is named by its .param; its weights are the .bin beside it. */
const isNcnn = (path: string) => /\.param$/i.test(path);

/** An ncnn model's tensors under the engine's names: both files' sizes checked before reading. */
async function readNcnn(path: string): Promise<Map<string, StTensor>> {
  const binPath = path.replace(/\.param$/i, '.bin');
  const size = async (p: string) => {
    const f = await open(p, 'r').catch((e: NodeJS.ErrnoException) => { throw new Error(`${p}: ${e.code === 'ENOENT' ? 'no such file' : e.message}${p === binPath ? ` (an ncnn model's weights, beside ${path})` : ''}`); });
    try { return (await f.stat()).size; } finally { await f.close(); }
  };
  const total = (await size(path)) + (await size(binPath));
  if (total > MAX_NCNN_BYTES) throw new Error(`${path}: ${(total / 2 ** 20).toFixed(0)} MB of ncnn model is too large for a generator (limit ${MAX_NCNN_BYTES / 2 ** 20} MB)`);
  return parseNcnnGenerator(await readFile(path, 'utf8'), new Uint8Array(await readFile(binPath)), path);
}

/**
 * A generator file's configuration and shapes, from its header alone: written by train.js (the
 * 'generator' metadata) or a plain PyTorch state_dict with the generator's tensor names.
 */
export async function readGeneratorHeader(path: string): Promise<{ config: GeneratorConfig; metadata: Record<string, string> }> {
  if (isNcnn(path)) {
    const tensors = await readNcnn(path);
    const config = inferGeneratorConfig(tensors, path);
    checkGeneratorShapes(config, tensors, path);
    return { config, metadata: {} };
  }
  if (await isPthFile(path)) {
    const tensors = await readPth(path);
    const config = inferGeneratorConfig(tensors, path);
    checkGeneratorShapes(config, tensors, path);
    return { config, metadata: {} };
  }
  const { metadata, entries } = await readSafetensorsHeader(path);
  return { config: generatorConfigOf(metadata, entries, path), metadata };
}

/**
 * A generator file's configuration and tensors: the header checked before the data are read
 * (a crafted header costs nothing), the data checksum verified where the file has one, and
 * every weight finite (a NaN model would only produce garbage).
 */
export async function readGeneratorFile(path: string): Promise<{ config: GeneratorConfig; tensors: Map<string, StTensor>; metadata: Record<string, string> }> {
  const { config } = await readGeneratorHeader(path);
  const { tensors, metadata } = isNcnn(path) ? { tensors: await readNcnn(path), metadata: {} }
    : (await isPthFile(path)) ? { tensors: await readPth(path), metadata: {} } : await readSafetensors(path);
  for (const k of [...tensors.keys()]) if (isBatchCounter(k)) tensors.delete(k);
  checkGeneratorShapes(config, tensors, path); // the file may have changed since its header was read
  checkFinite(tensors, path);
  return { config, tensors, metadata };
}

export async function loadGenerator(path: string): Promise<AnyGenerator> {
  const { config, tensors } = await readGeneratorFile(path);
  const g = makeGenerator(config);
  try {
    loadTensors(g.stateEntries(), tensors, path);
  } catch (e) {
    g.dispose();
    throw e;
  }
  return g.eval();
}

/**
 * The generator ready for inference, straight from a file: BN folded on the CPU from the file's
 * tensors and each folded weight uploaded once (no training-graph generator on the GPU).
 */
export async function loadFoldedGenerator(path: string): Promise<FoldedGenerator> {
  const { config, tensors } = await readGeneratorFile(path);
  return FoldedGenerator.fromTensors(config, checkGeneratorTensors(config, tensors, path));
}
