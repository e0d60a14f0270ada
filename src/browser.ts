// The package's entry point in a page or a bundler: the same API as in Node (src/node/index.ts),
// on navigator.gpu, with models fetched by URL.
import { openGpu, destroyGpu, GpuError } from './gpu/gpu.js';
import { shippedName } from './srgan/model.js';
import {
  cachedUpscale, createUpscalerOn, type ModelSource, type NcnnSource, type Platform, type Upscaler, type UpscalerOptions,
} from './srgan/upscaler.js';
import type { NcnnBytes } from './srgan/model.js';

export type { ImageDataLike, UpscaledImage, ModelSource, NcnnSource, UpscalerOptions, UpscaleOptions, Upscaler } from './srgan/upscaler.js';

/** Whether this browser offers WebGPU at all (an adapter may still be refused). */
export function hasWebGpu(): boolean {
  return typeof navigator !== 'undefined' && 'gpu' in navigator && Boolean(navigator.gpu);
}

async function loadModel(src: Exclude<ModelSource, NcnnSource>): Promise<{ bytes: Uint8Array; name: string } | { ncnn: NcnnBytes; name: string }> {
  if (src instanceof Uint8Array) return { bytes: src, name: 'model bytes' };
  if (src instanceof ArrayBuffer) return { bytes: new Uint8Array(src), name: 'model bytes' };
  const s = String(src);
  // a shipped name: the package's models/ folder, beside dist/ (bundlers that copy
  // `new URL(..., import.meta.url)` assets handle this; others pass a URL)
  const name = shippedName(s);
  const url = name !== null ? new URL(`../models/${name}.safetensors`, import.meta.url)
    : new URL(s, typeof document !== 'undefined' ? document.baseURI : import.meta.url);
  const get = async (u: URL) => {
    const r = await fetch(u);
    if (!r.ok) throw new Error(`${u}: HTTP ${r.status}`);
    return new Uint8Array(await r.arrayBuffer());
  };
  const file = url.pathname.split('/').pop() || String(url);
  // an ncnn model: NAME.param with its weights in NAME.bin beside it
  if (/\.param$/i.test(url.pathname)) {
    const bin = new URL(url); bin.pathname = url.pathname.replace(/\.param$/i, '.bin');
    return { ncnn: { param: await get(url), bin: await get(bin) }, name: file };
  }
  return { bytes: await get(url), name: file };
}

const web: Platform = {
  openGpu: () => {
    if (!hasWebGpu()) throw new GpuError('This browser has no WebGPU (navigator.gpu is missing)');
    return openGpu(navigator.gpu, { noAdapterHelp: 'The browser offers WebGPU but no adapter: it may be disabled or blocklisted for this GPU.' });
  },
  loadModel,
};

/** Loads a model and compiles its pipelines once; then `await u.upscale(image)` for each image. */
export function createUpscaler(options: UpscalerOptions = {}): Promise<Upscaler> {
  return createUpscalerOn(web, options);
}

/**
 * Upscales an RGBA image (ImageData-like) by the model's scale (4). Options: model, tile, signal,
 * onProgress. The model is loaded on first use and kept for later calls.
 */
export const upscale = cachedUpscale(web);

/** Releases the GPU device (every upscaler with it). */
export function close(): void {
  destroyGpu();
}
