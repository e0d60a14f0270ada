// The package's entry point in Node: `import { upscale, createUpscaler } from 'srgan-webgpu'`.
// The GPU is Dawn's (src/node/gpu.ts); models are shipped names, file paths, URLs or bytes.
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { destroyGpu, getGpu } from './gpu.js';
import { modelPath } from './model.js';
import { shippedName } from '../srgan/model.js';
import {
  cachedUpscale, createUpscalerOn, type ModelSource, type Platform, type Upscaler, type UpscalerOptions,
} from '../srgan/upscaler.js';

export type { ImageDataLike, UpscaledImage, ModelSource, NcnnSource, UpscalerOptions, UpscaleOptions, Upscaler } from '../srgan/upscaler.js';
import type { NcnnSource } from '../srgan/upscaler.js';
import type { NcnnBytes } from '../srgan/model.js';

async function loadModel(src: Exclude<ModelSource, NcnnSource>): Promise<{ bytes: Uint8Array; name: string } | { ncnn: NcnnBytes; name: string }> {
  if (src instanceof Uint8Array) return { bytes: src, name: 'model bytes' };
  if (src instanceof ArrayBuffer) return { bytes: new Uint8Array(src), name: 'model bytes' };
  const s = String(src);
  let path: string;
  if (src instanceof URL || /^[a-z][a-z0-9+.-]+:/i.test(s)) {
    if (!s.startsWith('file:')) {
      const r = await fetch(s);
      if (!r.ok) throw new Error(`${s}: HTTP ${r.status}`);
      return { bytes: new Uint8Array(await r.arrayBuffer()), name: s };
    }
    path = fileURLToPath(s);
  } else path = shippedName(s) !== null ? modelPath(s) : s; // a shipped name: models/<name>.safetensors
  const read = (p: string) => readFile(p).catch((e: NodeJS.ErrnoException) => {
    throw new Error(`${p}: ${e.code === 'ENOENT' ? 'no such model file' : e.message}`);
  });
  // an ncnn model: NAME.param with its weights in NAME.bin beside it
  if (/\.param$/i.test(path)) {
    return { ncnn: { param: new Uint8Array(await read(path)), bin: new Uint8Array(await read(path.replace(/\.param$/i, '.bin'))) }, name: path };
  }
  const bytes = await read(path);
  return { bytes: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), name: path };
}

const node: Platform = { openGpu: () => getGpu({ verbose: false }), loadModel };

/** Loads a model and compiles its pipelines once; then `await u.upscale(image)` for each image. */
export function createUpscaler(options: UpscalerOptions = {}): Promise<Upscaler> {
  return createUpscalerOn(node, options);
}

/**
 * Upscales an RGBA image (ImageData-like) by the model's scale (4). Options: model, tile, signal,
 * onProgress. The model is loaded on first use and kept for later calls.
 */
export const upscale = cachedUpscale(node);

/** Releases the GPU (every upscaler with it), so that the process can exit by itself. */
export function close(): void {
  destroyGpu();
}
