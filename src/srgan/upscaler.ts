// The library's upscaler: RGBA bytes in (ImageData-like), RGBA bytes out at the model's scale.
// Platform-neutral: the entry points (src/node/index.ts for Node, src/browser.ts for pages and
// bundlers) say how to open the GPU and how to turn a model name or URL into bytes.
import { gpu, GpuError, type Gpu } from '../gpu/gpu.js';
import { imresize } from '../image/resize.js';
import { clamp01, toRGB } from '../image/pixels.js';
import { foldedGeneratorFromBytes, foldedGeneratorFromNcnn, type NcnnBytes } from './model.js';
import { FoldedGenerator, planTiles, tileSizeProblem, upscaleTiled, type TileOptions } from './inference.js';

/**
 * An image as the engine takes it: `channels` floats in [0, 1] per pixel (1 grey, 2 grey + alpha,
 * 3 RGB, 4 RGBA), rows top down. What the CLI decodes files to and the library makes of RGBA bytes.
 */
export interface FloatImage { width: number; height: number; channels: 1 | 2 | 3 | 4; data: Float32Array }

/**
 * Upscales any image by the generator's scale, the one path of the CLI and the library: the RGB
 * (grey repeated) through the tiled network; the result refused if the GPU returned NaN or an
 * all-black frame for a non-black input (device lost); grey in gives grey out (the mean of the
 * network's RGB); alpha upscaled by bicubic. The output has the input's channels, values in [0, 1]
 * before clamping (encoders clamp). `where` names the image in errors.
 */
export async function upscaleImage(G: FoldedGenerator, img: FloatImage, opts: TileOptions = {}, where = 'upscale'): Promise<FloatImage> {
  const { width: w, height: h, channels: ch } = img;
  if (!(ch >= 1 && ch <= 4) || img.data.length !== w * h * ch) throw new Error(`${where}: ${img.data.length} values for a ${w}x${h} image of ${ch} channels`);
  const { rgb, alpha } = toRGB(img);
  const sr = await upscaleTiled(G, rgb, w, h, opts);
  checkResult(sr, rgb, where);
  const s = G.config.scale, W = w * s, H = h * s;
  // RGB out: map sr to [0,1] in place (an 8000x8000 result is 768 MB of floats; no second copy)
  const data = ch === 3 ? sr : new Float32Array(W * H * ch);
  const alphaUp = alpha ? imresize(alpha, w, h, 1, W, H) : null;
  for (let i = 0; i < W * H; i++) {
    const r = (sr[i * 3] + 1) / 2, g = (sr[i * 3 + 1] + 1) / 2, b = (sr[i * 3 + 2] + 1) / 2;
    if (ch <= 2) data[i * ch] = (r + g + b) / 3; // grey in -> grey out
    else { data[i * ch] = r; data[i * ch + 1] = g; data[i * ch + 2] = b; }
    if (alphaUp) data[i * ch + ch - 1] = Math.min(1, Math.max(0, alphaUp[i]));
  }
  return { width: W, height: H, channels: ch, data };
}

/** A lost device or broken kernel shows up as NaN or a black frame: refuse it. */
function checkResult(sr: Float32Array, rgb: Float32Array, where: string): void {
  let maxOut = -1;
  for (let i = 0; i < sr.length; i++) {
    const v = sr[i];
    if (!Number.isFinite(v)) throw new GpuError(`${where}: the GPU returned NaN values (device lost or kernel failure); no output written`);
    if (v > maxOut) maxOut = v;
  }
  let maxIn = 0;
  for (let i = 0; i < rgb.length; i++) maxIn = Math.max(maxIn, rgb[i]);
  if (maxOut <= -1 && maxIn > 0.02) throw new GpuError(`${where}: the GPU returned an all-black image for a non-black input (device lost?); no output written`);
}

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
export type ModelSource = string | URL | Uint8Array | ArrayBuffer | NcnnSource;
/** An ncnn model (Upscayl's and realesrgan-ncnn-vulkan's format): its .param and .bin, as bytes. */
export interface NcnnSource { param: Uint8Array | ArrayBuffer; bin: Uint8Array | ArrayBuffer; name?: string }

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
  loadModel(source: Exclude<ModelSource, NcnnSource>): Promise<{ bytes: Uint8Array; name: string } | { ncnn: NcnnBytes; name: string }>;
}

function isNcnnSource(s: ModelSource): s is NcnnSource {
  return typeof s === 'object' && s !== null && !(s instanceof URL) && !(s instanceof Uint8Array) && !(s instanceof ArrayBuffer) && 'param' in s && 'bin' in s;
}

function abortError(): Error {
  return new DOMException('The upscale was aborted', 'AbortError');
}

/** p, or an AbortError as soon as the signal aborts (p itself goes on: a model still loads for later calls). */
function untilAborted<T>(p: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (!signal) return p;
  if (signal.aborted) return Promise.reject(abortError());
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(abortError());
    signal.addEventListener('abort', onAbort, { once: true });
    p.then((v) => { signal.removeEventListener('abort', onAbort); resolve(v); },
      (e) => { signal.removeEventListener('abort', onAbort); reject(e); });
  });
}

/**
 * The image checked as the library takes it: whole positive sizes and RGBA bytes. Typed arrays of
 * other kinds are refused by name: 16-bit samples or 0..1 floats read as bytes would give a white or
 * black picture without a word.
 */
function checkImage(image: ImageDataLike): void {
  if (!image || typeof image !== 'object') throw new TypeError('upscale: image must be an ImageData-like object { width, height, data }');
  const { width: w, height: h, data } = image;
  if (!(Number.isSafeInteger(w) && Number.isSafeInteger(h) && w > 0 && h > 0)) throw new TypeError(`upscale: image.width and image.height must be positive integers, got ${String(w)}x${String(h)}`);
  if (!(data instanceof Uint8ClampedArray || data instanceof Uint8Array)) {
    const kind = data === null ? 'null' : typeof data === 'object' ? (data as object).constructor?.name ?? 'an object' : typeof data;
    throw new TypeError(`upscale: image.data must be a Uint8ClampedArray or Uint8Array of RGBA bytes (as ImageData holds), got ${kind}`);
  }
  if (data.length !== w * h * 4) throw new TypeError(`upscale: image.data has ${data.length} bytes, a ${w}x${h} RGBA image has ${w * h * 4}`);
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
    checkImage(image);
    const { width: w, height: h, data } = image;
    if (o.signal?.aborted) throw abortError();
    // opaque images go in as RGB: no alpha to upscale
    let opaque = true;
    for (let i = 0; i < w * h && opaque; i++) if (data[i * 4 + 3] !== 255) opaque = false;
    const ch = opaque ? 3 : 4;
    const src = new Float32Array(w * h * ch);
    for (let i = 0; i < w * h; i++) for (let c = 0; c < ch; c++) src[i * ch + c] = data[i * 4 + c] / 255;
    const tile = o.tile ?? this.tile;
    const total = planTiles(w, h, this.G.tileNet, { tile }, Number(gpu().limits.maxStorageBufferBindingSize)).windows.length;
    o.onProgress?.(0, total);
    let up: FloatImage;
    try {
      up = await upscaleImage(this.G, { width: w, height: h, channels: ch, data: src }, {
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
    const { width: W, height: H } = up;
    const out = new Uint8ClampedArray(W * H * 4);
    for (let i = 0; i < W * H; i++) {
      // [0, 1] -> bytes, rounded as the PNG encoder rounds
      for (let c = 0; c < ch; c++) out[i * 4 + c] = Math.round(clamp01(up.data[i * ch + c]) * 255);
      if (ch === 3) out[i * 4 + 3] = 255;
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
  const src = options.model ?? 'default';
  const loaded = isNcnnSource(src)
    ? { ncnn: { param: new Uint8Array(src.param), bin: new Uint8Array(src.bin) }, name: src.name ?? 'ncnn model' }
    : await platform.loadModel(src);
  const G = 'ncnn' in loaded ? foldedGeneratorFromNcnn(loaded.ncnn, loaded.name) : foldedGeneratorFromBytes(loaded.bytes, loaded.name);
  try {
    const small = options.tile === undefined ? undefined : tileSizeProblem(options.tile, G.radius);
    if (small) throw new Error(small);
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
    checkImage(image); // before any model is fetched
    if (options.signal?.aborted) throw abortError();
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
    // the signal is honoured while the model loads (a stalled URL must not hold the caller)
    const u = await untilAborted(up, options.signal);
    try {
      return await u.upscale(image, options);
    } finally {
      if (key === null) u.dispose();
    }
  };
}
