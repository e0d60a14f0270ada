// Inference: the generator with every BatchNorm folded into the conv before it, run through the
// conv kernel's fused epilogues (bias + PReLU/tanh + residual add), and a tiler whose stitched
// output equals the whole-image output.
import { gpu } from '../gpu/gpu.js';
import { conv2dForward, convOutSize, type Act, type ConvShape } from '../kernels/conv2d.js';
import { pixelShuffle } from '../kernels/pixel_shuffle.js';
import { Tensor, empty, fromArray, noGrad, tidy } from '../nn/tensor.js';
import type { Conv2d, BatchNorm2d, PReLU } from '../nn/layers.js';
import type { Generator, GeneratorConfig } from './generator.js';

interface FoldedConv {
  K: number; cin: number; cout: number;
  w: Tensor; b: Tensor;
  act: Act; slope: Tensor | null;
}

/** w' = w * gamma/sqrt(var+eps) per output channel; b' = (b - mean) * gamma/sqrt(var+eps) + beta. */
export function foldBatchNorm(w: Float32Array, b: Float32Array | null, cout: number,
  gamma: Float32Array, beta: Float32Array, mean: Float32Array, variance: Float32Array, eps: number): { w: Float32Array; b: Float32Array } {
  const s = new Float64Array(cout);
  for (let c = 0; c < cout; c++) s[c] = gamma[c] / Math.sqrt(variance[c] + eps);
  const w2 = new Float32Array(w.length);
  for (let i = 0; i < w.length; i++) w2[i] = w[i] * s[i % cout]; // HWIO: Cout innermost
  const b2 = new Float32Array(cout);
  for (let c = 0; c < cout; c++) b2[c] = ((b ? b[c] : 0) - mean[c]) * s[c] + beta[c];
  return { w: w2, b: b2 };
}

async function fold(conv: Conv2d, bn: BatchNorm2d | null, act: Act, prelu: PReLU | null, slopeRepeat = 1): Promise<FoldedConv> {
  let w = await conv.weight.data();
  let b = conv.bias ? await conv.bias.data() : new Float32Array(conv.cout);
  if (bn) {
    const f = foldBatchNorm(w, conv.bias ? b : null, conv.cout, await bn.weight.data(), await bn.bias.data(),
      await bn.runningMean.data(), await bn.runningVar.data(), bn.eps);
    w = f.w; b = f.b;
  }
  let slope: Tensor | null = null;
  if (prelu) {
    const s = await prelu.weight.data();
    const e = new Float32Array(s.length * slopeRepeat);
    for (let i = 0; i < e.length; i++) e[i] = s[Math.floor(i / slopeRepeat)];
    slope = fromArray(e, [e.length]).keep();
  }
  return {
    K: conv.k, cin: conv.cin, cout: conv.cout,
    w: fromArray(w, conv.weight.shape).keep(), b: fromArray(b, [conv.cout]).keep(), act, slope,
  };
}

function runConv(x: Tensor, f: FoldedConv, residual?: Tensor): Tensor {
  const [N, H, W] = x.shape;
  const s: ConvShape = { N, H, W, Cin: f.cin, Cout: f.cout, K: f.K, stride: 1 };
  const { Ho, Wo } = convOutSize(s);
  const y = empty([N, Ho, Wo, f.cout]);
  conv2dForward(gpu(), s, x.buffer, f.w.buffer, y.buffer, {
    bias: f.b.buffer, act: f.act, slope: f.slope?.buffer, residual: residual?.buffer,
  });
  return y;
}

/** The generator for inference: BN folded, epilogues fused. */
export class FoldedGenerator {
  private constructor(
    readonly config: GeneratorConfig,
    private head: FoldedConv,
    private blocks: Array<[FoldedConv, FoldedConv]>,
    private mid: FoldedConv,
    private ups: FoldedConv[],
    private tail: FoldedConv,
  ) {}

  static async fromGenerator(g: Generator): Promise<FoldedGenerator> {
    const head = await fold(g.convIn, null, 'prelu', g.actIn);
    const blocks: Array<[FoldedConv, FoldedConv]> = [];
    for (const b of g.blocks) blocks.push([await fold(b.conv1, b.bn1, 'prelu', b.act), await fold(b.conv2, b.bn2, 'none', null)]);
    const mid = await fold(g.convMid, g.bnMid, 'none', null);
    // PReLU after the pixel shuffle acts on output channel c = conv channel 4c+k: repeat slopes x4
    const ups: FoldedConv[] = [];
    for (const u of g.ups) ups.push(await fold(u.conv, null, 'prelu', u.act, 4));
    const tail = await fold(g.convOut, null, 'tanh', null);
    return new FoldedGenerator(g.config, head, blocks, mid, ups, tail);
  }

  /** LR NHWC in [0,1] -> SR NHWC in [-1,1]. */
  forward(x: Tensor): Tensor {
    return noGrad(() => tidy(() => {
      const head = runConv(x, this.head);
      let h = head;
      for (const [c1, c2] of this.blocks) h = runConv(runConv(h, c1), c2, h);
      h = runConv(h, this.mid, head);
      for (const u of this.ups) {
        const y = runConv(h, u);
        const [N, H, W, C] = y.shape;
        const z = empty([N, H * 2, W * 2, C / 4]);
        pixelShuffle(gpu(), y.buffer, z.buffer, N, H, W, C, 2);
        h = z;
      }
      return runConv(h, this.tail);
    }));
  }

  /** Receptive-field radius in LR pixels: context a tile needs so its centre matches the whole image. */
  get radius(): number {
    let r = 4 + 2 * this.config.blocks + 1; // conv_in 9x9, two 3x3 per block, conv_mid
    let s = 1;
    for (let i = 0; i < this.ups.length; i++) { r += 1 / s; s *= 2; } // 3x3 conv at each resolution
    r += 4 / s; // conv_out 9x9 at full resolution
    return Math.ceil(r) + 1;
  }

  /** Bytes of the largest activation per LR pixel (after the last pixel shuffle: scale^2 * C floats). */
  get bytesPerLrPixel(): number {
    return this.config.scale * this.config.scale * this.config.channels * 4;
  }

  dispose(): void {
    const all = [this.head, ...this.blocks.flat(), this.mid, ...this.ups, this.tail];
    for (const f of all) { f.w.dispose(); f.b.dispose(); f.slope?.dispose(); }
  }
}

/** Mirror index into [0, n) (symmetric reflection without repeating the edge, like numpy 'reflect'). */
export function reflectIndex(i: number, n: number): number {
  if (n === 1) return 0;
  const p = 2 * (n - 1);
  let k = ((i % p) + p) % p;
  if (k >= n) k = p - k;
  return k;
}

export interface TileOptions {
  /** Tile window size in LR pixels (including context); default from the adapter's limits. */
  tile?: number;
  /** LR pixels of reflected border added around the image so edge pixels get real context. */
  border?: number;
  /** Tiles per GPU batch (default as many as the memory budget allows). */
  batch?: number;
  /** Memory budget for one batch's largest activation, bytes. */
  budgetBytes?: number;
  onTile?: (done: number, total: number) => void;
}

export interface TilePlan {
  tile: number; batch: number; radius: number; border: number;
  windows: Array<{ x: number; y: number; cx0: number; cy0: number; cx1: number; cy1: number }>;
  tw: number; th: number; // window size
}

/** Plans tiles over the reflect-padded image of w x h LR pixels. */
export function planTiles(w: number, h: number, radius: number, bytesPerLrPixel: number, o: TileOptions, maxBinding: number): TilePlan {
  const border = o.border ?? Math.min(radius, 16);
  const W = w + 2 * border, H = h + 2 * border;
  const budget = Math.min(o.budgetBytes ?? 512 * 2 ** 20, maxBinding);
  const maxPixels = Math.floor(budget / bytesPerLrPixel);
  let tile = o.tile ?? Math.floor(Math.sqrt(maxPixels));
  if (tile <= 2 * radius) {
    if (o.tile !== undefined) throw new Error(`--tile ${tile} is too small: it must exceed twice the generator's context radius (${2 * radius} LR pixels)`);
    tile = 2 * radius + 8;
  }
  const tw = Math.min(tile, W), th = Math.min(tile, H);
  if (tw * th * bytesPerLrPixel > maxBinding) throw new Error(`tile ${tw}x${th} exceeds the adapter's storage binding limit (${maxBinding} bytes)`);
  const core = (t: number, full: number) => (t >= full ? full : t - 2 * radius);
  const cw = core(tw, W), ch = core(th, H);
  const windows: TilePlan['windows'] = [];
  for (let cy0 = 0; cy0 < H; cy0 += ch) {
    for (let cx0 = 0; cx0 < W; cx0 += cw) {
      const cx1 = Math.min(cx0 + cw, W), cy1 = Math.min(cy0 + ch, H);
      const x = Math.max(0, Math.min(cx0 - radius, W - tw));
      const y = Math.max(0, Math.min(cy0 - radius, H - th));
      windows.push({ x, y, cx0, cy0, cx1, cy1 });
    }
  }
  const batch = Math.max(1, o.batch ?? Math.min(windows.length, Math.floor(maxPixels / (tw * th)) || 1));
  return { tile, batch, radius, border, windows, tw, th };
}

/**
 * Upscales an RGB float image (interleaved HWC in [0,1]) with tiles; returns the SR image as
 * interleaved RGB in [-1,1] of size (w*scale) x (h*scale).
 */
export async function upscaleTiled(G: FoldedGenerator, rgb: Float32Array, w: number, h: number, o: TileOptions = {}): Promise<Float32Array> {
  const g = gpu();
  const scale = G.config.scale;
  const plan = planTiles(w, h, G.radius, G.bytesPerLrPixel, o, Number(g.limits.maxStorageBufferBindingSize));
  const { border, tw, th, windows } = plan;
  const out = new Float32Array(w * scale * h * scale * 3);
  const tile = new Float32Array(tw * th * 3);
  let done = 0;
  for (let i0 = 0; i0 < windows.length; i0 += plan.batch) {
    const group = windows.slice(i0, i0 + plan.batch);
    const input = new Float32Array(group.length * tw * th * 3);
    group.forEach((win, k) => {
      for (let y = 0; y < th; y++) {
        const sy = reflectIndex(win.y + y - border, h);
        for (let x = 0; x < tw; x++) {
          const sx = reflectIndex(win.x + x - border, w);
          const s = (sy * w + sx) * 3, d = (y * tw + x) * 3;
          tile[d] = rgb[s]; tile[d + 1] = rgb[s + 1]; tile[d + 2] = rgb[s + 2];
        }
      }
      input.set(tile, k * tile.length);
    });
    const t = tidy(() => G.forward(fromArray(input, [group.length, th, tw, 3])));
    const result = await t.data();
    t.dispose();
    const TW = tw * scale, TH = th * scale, OW = w * scale;
    group.forEach((win, k) => {
      // copy the core, minus the reflected border, into the output
      const x0 = Math.max(win.cx0, border), x1 = Math.min(win.cx1, border + w);
      const y0 = Math.max(win.cy0, border), y1 = Math.min(win.cy1, border + h);
      if (x1 <= x0 || y1 <= y0) return; // a core made only of reflected border
      for (let y = y0 * scale; y < y1 * scale; y++) {
        const ty = y - win.y * scale;
        const src = (k * TH * TW + ty * TW + (x0 * scale - win.x * scale)) * 3;
        const dst = ((y - border * scale) * OW + (x0 - border) * scale) * 3;
        out.set(result.subarray(src, src + (x1 - x0) * scale * 3), dst);
      }
    });
    done += group.length;
    o.onTile?.(done, windows.length);
  }
  return out;
}
