// The library's upscaler: RGBA bytes in (ImageData-like), RGBA bytes out at the model's scale.
// Platform-neutral: the entry points (src/node/index.ts for Node, src/browser.ts for pages and
// bundlers) say how to open the GPU and how to turn a model name or URL into bytes.
import { gpu, GpuError, type Gpu } from '../gpu/gpu.js';
import { imresize } from '../image/resize.js';
import { foldedGeneratorFromBytes } from './model.js';
import { FoldedGenerator, planTiles, upscaleTiled } from './inference.js';

/** An image as the canvas API holds it: width x height RGBA, 8 bits per channel, rows top down. */
export interface ImageDataLike {
  width: number;
  height: number;
  data: Uint8ClampedArray | Uint8Array;
}

/** The result: an ImageData-like with a Uint8ClampedArray (`new ImageData(r.data, r.width)` in a page). */
export interface UpscaledImage {
  width: number;
  height: number;
  data: Uint8ClampedArray;
}

/**
 * A generator: a shipped name ('default'), a URL (string or URL object), or the bytes of a
 * safetensors / PyTorch .pth file. In Node a string may also be a file path.
 */
export type ModelSource = string | URL | Uint8Array | ArrayBuffer;

export interface UpscalerOptions {
  /** The generator (default: 'default', the shipped model). */
  model?: ModelSource;
  /** Largest tile side in LR pixels, context included (default: from the adapter's limits). */
  tile?: number;
}

export interface UpscaleOptions extends UpscalerOptions {
  /** Aborting rejects the promise with an AbortError (after the tile batch in flight) and frees GPU memory. */
  signal?: AbortSignal;
  /** Called after each batch of tiles: tiles done, tiles in all. */
  onProgress?: (done: number, total: number) => void;
}

/** How an entry point reaches the GPU and the model's bytes. */
export interface Platform {
  openGpu(): Promise<Gpu>;
  loadModel(source: ModelSource): Promise<{ bytes: Uint8Array; name: string }>;
}

function abortError(): Error {
  return new DOMException('The upscale was aborted', 'AbortError');
}

/** A model loaded and its pipelines compiled once, for any number of images. */
export interface Upscaler {
  /** LR to HR factor of the model (4 for the shipped one). */
  readonly scale: number;
  /** Upscales one image; calls on one upscaler run one after another. */
  upscale(image: ImageDataLike, options?: Omit<UpscaleOptions, 'model'>): Promise<UpscaledImage>;
  /** Frees the model's GPU memory (and the pool's idle buffers). */
  dispose(): void;
}

class TiledUpscaler implements Upscaler {
  readonly scale: number;
  private queue: Promise<unknown> = Promise.resolve();
  private disposed = false;

  constructor(private readonly G: FoldedGenerator, private readonly tile?: number) {
    this.scale = G.config.scale;
  }

  upscale(image: ImageDataLike, options: Omit<UpscaleOptions, 'model'> = {}): Promise<UpscaledImage> {
    const run = this.queue.then(() => this.run(image, options));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async run(image: ImageDataLike, o: Omit<UpscaleOptions, 'model'>): Promise<UpscaledImage> {
    if (this.disposed) throw new Error('upscale: this upscaler was disposed');
    const { width: w, height: h, data } = image;
    if (!(Number.isInteger(w) && Number.isInteger(h) && w > 0 && h > 0)) throw new Error(`upscale: bad image size ${w}x${h}`);
    if (!data || data.length !== w * h * 4) throw new Error(`upscale: data has ${data?.length} bytes, a ${w}x${h} RGBA image has ${w * h * 4}`);
    if (o.signal?.aborted) throw abortError();
    const rgb = new Float32Array(w * h * 3);
    let opaque = true;
    for (let i = 0; i < w * h; i++) {
      for (let c = 0; c < 3; c++) rgb[i * 3 + c] = data[i * 4 + c] / 255;
      if (data[i * 4 + 3] !== 255) opaque = false;
    }
    const tile = o.tile ?? this.tile;
    const total = planTiles(w, h, this.G.tileNet, { tile }, Number(gpu().limits.maxStorageBufferBindingSize)).windows.length;
    o.onProgress?.(0, total);
    let sr: Float32Array;
    try {
      sr = await upscaleTiled(this.G, rgb, w, h, {
        tile,
        // one tile per batch when someone watches: progress moves and an abort lands within a tile
        batch: o.signal || o.onProgress ? 1 : undefined,
        // thrown between batches: upscaleTiled has disposed the batch's tensors by then
        onTile: (done, all) => { if (o.signal?.aborted) throw abortError(); o.onProgress?.(done, all); },
      });
    } catch (e) {
      // the pool keeps released buffers for reuse: give them back to the driver
      if ((e as Error).name === 'AbortError') gpu().pool.trim();
      throw e;
    }
    const s = this.scale, W = w * s, H = h * s;
    // alpha: bicubic from the input, as the CLI does; opaque images skip the work
    let alpha: Float32Array | null = null;
    if (!opaque) {
      const a = new Float32Array(w * h);
      for (let i = 0; i < w * h; i++) a[i] = data[i * 4 + 3] / 255;
      alpha = imresize(a, w, h, 1, W, H);
    }
    const out = new Uint8ClampedArray(W * H * 4);
    for (let i = 0; i < W * H; i++) {
      for (let c = 0; c < 3; c++) {
        const v = sr[i * 3 + c];
        if (!Number.isFinite(v)) throw new GpuError('upscale: the GPU returned NaN values (device lost or kernel failure)');
        // [-1, 1] -> bytes, rounded as the PNG encoder rounds
        out[i * 4 + c] = Math.round(Math.min(1, Math.max(0, (v + 1) / 2)) * 255);
      }
      out[i * 4 + 3] = alpha ? Math.round(Math.min(1, Math.max(0, alpha[i])) * 255) : 255;
    }
    return { width: W, height: H, data: out };
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.G.dispose();
    gpu().pool.trim();
  }
}

/** Opens the GPU, loads and checks the model, compiles its pipelines (a 1x1 warm-up). */
export async function createUpscalerOn(platform: Platform, options: UpscalerOptions = {}): Promise<Upscaler> {
  await platform.openGpu();
  const { bytes, name } = await platform.loadModel(options.model ?? 'default');
  const G = foldedGeneratorFromBytes(bytes, name);
  try {
    if (options.tile !== undefined && options.tile <= 2 * G.radius) {
      throw new Error(`tile ${options.tile} is too small: it must exceed twice the generator's context radius (${2 * G.radius} LR pixels)`);
    }
    await G.warmup();
  } catch (e) {
    G.dispose();
    throw e;
  }
  return new TiledUpscaler(G, options.tile);
}

/**
 * One-shot upscale: an upscaler per model source, kept for later calls (loading and compiling
 * cost more than a small image). Pass an ArrayBuffer/Uint8Array and it is loaded each time.
 */
export function cachedUpscale(platform: Platform): (image: ImageDataLike, options?: UpscaleOptions) => Promise<UpscaledImage> {
  const cache = new Map<string, Promise<Upscaler>>();
  return async (image: ImageDataLike, options: UpscaleOptions = {}): Promise<UpscaledImage> => {
    const src = options.model ?? 'default';
    const key = typeof src === 'string' || src instanceof URL ? String(src) : null;
    let up = key !== null ? cache.get(key) : undefined;
    if (!up) {
      up = createUpscalerOn(platform, { model: src });
      if (key !== null) {
        cache.set(key, up);
        up.catch(() => cache.delete(key));
      }
    }
    const u = await up;
    try {
      return await u.upscale(image, options);
    } finally {
      if (key === null) u.dispose();
    }
  };
}
