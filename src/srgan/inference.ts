// Inference: the generator with every BatchNorm folded into the conv before it, run through the
// conv kernel's fused epilogues (bias + PReLU/tanh + residual add), and a tiler whose stitched
// output equals the whole-image output.
//
// Edges are PyTorch's: every conv zero-pads its own input ('same' padding), as in training. A tile
// window never leaves the image, so a window at the image edge pads exactly where the whole-image
// forward pads; inside the image each window carries `radius` pixels of real context.
import { gpu } from '../gpu/gpu.js';
import { toFloat32 } from '../nn/safetensors.js';
import { stateTensors } from '../nn/state.js';
import { Tensor, empty, fromArray, noGrad, tidy } from '../nn/tensor.js';
import { generatorMacsPerLrPixel, makeGenerator, type AnyGenerator, type GeneratorConfig } from './generator.js';

/**
 * The generator for inference: the same Generator graph built from a file's tensors, BN folded away on the CPU (every
 * conv's epilogue fused), run in tiles and with the upsampling tail in strips. Its receptive field
 * is read off that graph's convs.
 */
export class FoldedGenerator {
  private constructor(readonly net: AnyGenerator) {}

  get config(): GeneratorConfig { return this.net.config; }

  /** From a training-graph generator: its tensors read back from the GPU, then folded like a file's. */
  static async fromGenerator(g: AnyGenerator): Promise<FoldedGenerator> {
    if (g.folded) throw new Error('FoldedGenerator.fromGenerator: the generator is folded already');
    const tensors = new Map(await stateTensors(g.stateEntries()));
    return FoldedGenerator.fromTensors(g.config, (name) => toFloat32(tensors.get(name)!, name));
  }

  /**
   * Straight from a generator file's tensors (PyTorch layout and names, as `get` returns them,
   * already checked against the configuration): BN folded on the CPU, each weight uploaded once.
   */
  static fromTensors(config: GeneratorConfig, get: (name: string) => Float32Array): FoldedGenerator {
    const net = makeGenerator(config, get).eval();
    net.setRequiresGrad(false);
    return new FoldedGenerator(net);
  }

  /**
   * LR NHWC in [0,1] -> SR NHWC in [-1,1]. The upsampling tail (the upsampling steps and conv_out)
   * holds the largest activations, scale^2 * C floats per LR pixel against C in the body: it runs
   * in horizontal strips of `tailRows` LR rows, each with its own context rows, so that no tensor
   * passes the storage binding limit and a tile as large as the body allows can be used. Default:
   * the largest strips that fit; a tile whose tail fits whole runs it whole.
   */
  forward(x: Tensor, tailRows?: number): Tensor {
    return noGrad(() => tidy(() => this.net.addSkip(x, this.runTail(this.net.body(x), tailRows))));
  }

  /** Body rows of context a tail strip needs on each side (LR rows but for a pixel-unshuffled body). */
  get tailContext(): number {
    const [lo, hi] = this.net.tiling.tailCone;
    return Math.max(-lo, hi);
  }

  /** The tail on the body's output h [N, H, W, C]: whole, or in strips of body rows. */
  private runTail(h: Tensor, rows?: number): Tensor {
    const g = gpu();
    const [N, H, W, C] = h.shape;
    // output pixels per body pixel: the scale, times the stride of a pixel-unshuffled body
    const s = this.config.scale * this.net.tiling.stride, ctx = this.tailContext;
    // largest tail tensor per body row, its padded HR columns and rows included
    const { tailBytesPerBodyPixel, padHr } = this.net.tiling;
    const rowBytes = N * (W + 2 * padHr / s) * tailBytesPerBodyPixel;
    rows ??= Math.floor(Number(g.limits.maxStorageBufferBindingSize) / rowBytes) - 2 * ctx - Math.ceil(2 * padHr / s);
    if (rows >= H) return this.net.tail(h);
    if (rows < 1) throw new Error(`a ${W}-pixel-wide tile is too wide for the adapter's storage binding limit; use a smaller tile`);
    const strips = Math.ceil(H / rows), step = Math.ceil(H / strips);
    const out = empty([N, s * H, s * W, 3]);
    const inRow = W * C * 4, outRow = s * W * 3 * 4;
    for (let a = 0; a < H; a += step) {
      const b = Math.min(a + step, H);
      const s0 = Math.max(0, a - ctx), s1 = Math.min(H, b + ctx);
      tidy(() => {
        const strip = empty([N, s1 - s0, W, C]);
        for (let n = 0; n < N; n++) g.copy(h.buffer, (n * H + s0) * inRow, strip.buffer, n * (s1 - s0) * inRow, (s1 - s0) * inRow);
        const y = this.net.tail(strip);
        for (let n = 0; n < N; n++) {
          g.copy(y.buffer, (n * (s1 - s0) + (a - s0)) * s * outRow, out.buffer, (n * H + a) * s * outRow, (b - a) * s * outRow);
        }
      });
    }
    return out;
  }

  /** Compiles every pipeline the forward uses (the smallest image, 1x1 or one 2x2 block, through the whole network). */
  async warmup(): Promise<void> {
    const a = this.net.tiling.stride;
    const t = tidy(() => this.forward(fromArray(new Float32Array(3 * a * a), [1, a, a, 3])));
    await t.data();
    t.dispose();
  }

  /**
   * Receptive-field radius in LR pixels: the context a tile needs so that its core matches the
   * whole image: the tail's cone, then the body's, as the network's own `tiling` gives them.
   */
  get radius(): number {
    const { stride, bodyRadius } = this.net.tiling;
    return stride * (this.tailContext + bodyRadius);
  }

  /**
   * Bytes per LR pixel of the largest activation bound whole: the body's (the tail runs in strips).
   */
  get bytesPerLrPixel(): number {
    return this.net.tiling.bodyBytesPerLrPixel;
  }

  /** The network as the tile planner sees it. */
  get tileNet(): TileNet {
    return { radius: this.radius, bytesPerLrPixel: this.bytesPerLrPixel, tail: this.tailInfo, align: this.net.tiling.stride };
  }

  private get tailInfo(): NonNullable<TileNet['tail']> {
    const { body, tail } = generatorMacsPerLrPixel(this.config);
    const { stride, tailBytesPerBodyPixel } = this.net.tiling;
    return { bytesPerLrPixel: tailBytesPerBodyPixel / stride ** 2, context: stride * this.tailContext, share: tail / (body + tail) };
  }

  dispose(): void {
    this.net.dispose();
  }
}

/** What the tile planner needs to know of a network. */
export interface TileNet {
  /** LR pixels of context a tile needs on each side. */
  radius: number;
  /**
   * Windows and cores start and end on multiples of this (2 for a pixel-unshuffled body, 1 or
   * absent otherwise); the image itself must be a multiple of it (upscaleTiled pads it).
   */
  align?: number;
  /** Bytes per LR pixel of the largest activation bound whole. */
  bytesPerLrPixel: number;
  /**
   * The part run in strips of LR rows: bytes per LR pixel of its largest tensor, rows of context
   * per strip side, and its share of the work per pixel (strips recompute their context rows).
   */
  tail?: { bytesPerLrPixel: number; context: number; share: number };
}

export interface TileOptions {
  /** Largest tile window side in LR pixels (including context); default from the adapter's limits. */
  tile?: number;
  /** Tiles per GPU batch (default as many as the memory budget allows). */
  batch?: number;
  /** Memory budget for one batch's largest activation, bytes. */
  budgetBytes?: number;
  /** Rows per tail strip (see FoldedGenerator.forward); default from the binding limit. */
  tailRows?: number;
  onTile?: (done: number, total: number) => void;
}

export interface TilePlan {
  /** Tiles per row and per column. */
  nx: number; ny: number;
  batch: number; radius: number;
  /** Window size in LR pixels: every window has it, so that windows batch. */
  tw: number; th: number;
  /** Window origin (x, y) and the core it contributes, [cx0, cx1) x [cy0, cy1), image coordinates. */
  windows: Array<{ x: number; y: number; cx0: number; cy0: number; cx1: number; cy1: number }>;
}

/** LR rows per tail strip that fit the binding limit for n tiles of width tw (context excluded). */
function tailRowsFit(net: TileNet, tw: number, n: number, maxBinding: number): number {
  if (!net.tail) return Infinity;
  return Math.floor(maxBinding / (n * tw * net.tail.bytesPerLrPixel)) - 2 * net.tail.context;
}

/**
 * Plans tiles over a w x h LR image: the number of tiles per axis first, then even cores, each
 * window its core plus `radius` of context, slid inside the image at the edges (where the zero
 * padding of every conv then matches the whole-image forward). Of all tile counts whose windows fit
 * the memory budget and the binding limit, the one with the least work: the total window area,
 * its tail share weighted by the context rows its strips recompute.
 */
/**
 * The one tile-size rule, in words that read the same for the command line (`--tile`) and the
 * library (`tile`): a tile must be wider than its context on both sides. Undefined when `tile` is fine.
 */
export function tileSizeProblem(tile: number, radius: number): string | undefined {
  return tile <= 2 * radius
    ? `tile ${tile} is too small: each tile carries ${radius} LR pixels of context on every side, so it must exceed ${2 * radius}`
    : undefined;
}

export function planTiles(w: number, h: number, net: TileNet, o: TileOptions, maxBinding: number): TilePlan {
  const r = net.radius, a = net.align ?? 1;
  if (r % a) throw new Error(`planTiles: a context of ${r} is not on the network's grid of ${a}`);
  // the image as upscaleTiled pads it to the grid
  w = Math.ceil(w / a) * a; h = Math.ceil(h / a) * a;
  const down = (v: number) => Math.floor(v / a) * a;
  const budget = Math.min(o.budgetBytes ?? 512 * 2 ** 20, maxBinding);
  const maxPixels = Math.floor(budget / net.bytesPerLrPixel);
  const maxSide = o.tile === undefined ? Infinity : down(o.tile);
  const small = o.tile === undefined ? undefined : tileSizeProblem(o.tile, r);
  if (small && (w > o.tile! || h > o.tile!)) throw new Error(small);
  const work = (tw: number, th: number) => {
    if (!net.tail) return tw * th;
    const rows = o.tailRows ?? tailRowsFit(net, tw, 1, maxBinding);
    const strips = Math.ceil(th / rows);
    const tailRows = th + 2 * net.tail.context * (strips - 1);
    return tw * (th * (1 - net.tail.share) + tailRows * net.tail.share);
  };
  // window span of n tiles over `full` pixels: the whole axis, or an even core plus context
  const span = (full: number, n: number) => (n === 1 ? full : Math.ceil(Math.ceil(full / n) / a) * a + 2 * r);
  let best: { nx: number; ny: number; tw: number; th: number; cost: number } | null = null;
  for (let nx = 1; nx <= w; nx++) {
    const tw = span(w, nx);
    if (nx > 1 && tw >= w) continue; // as wide as the image: one tile does it
    if (tw > maxSide || tailRowsFit(net, tw, 1, maxBinding) < 1) continue;
    const thMax = down(Math.min(maxSide, Math.floor(maxPixels / tw)));
    // fewest rows of tiles whose windows fit, and a few more (thinner tiles, wider tail strips)
    const ny0 = h <= thMax ? 1 : thMax > 2 * r ? Math.ceil(h / (thMax - 2 * r)) : 0;
    if (!ny0) continue;
    for (let ny = ny0; ny <= Math.min(h, ny0 + 3); ny++) {
      const th = span(h, ny);
      if (ny > 1 && th >= h) break;
      const cost = nx * ny * work(tw, th);
      if (!best || cost < best.cost || (cost === best.cost && nx * ny < best.nx * best.ny)) best = { nx, ny, tw, th, cost };
    }
    if (best && nx * span(w, nx) * h > 1.5 * best.cost) break; // more columns only add context
  }
  if (!best) throw new Error(`no tile plan fits a ${w}x${h} image in ${budget} bytes per batch (context radius ${r}); use a larger tile`);
  const { nx, ny, tw, th } = best;
  const windows: TilePlan['windows'] = [];
  for (let j = 0; j < ny; j++) {
    const cy0 = a * Math.floor((j * h) / a / ny), cy1 = a * Math.floor(((j + 1) * h) / a / ny);
    const y = Math.max(0, Math.min(cy0 - r, h - th));
    for (let i = 0; i < nx; i++) {
      const cx0 = a * Math.floor((i * w) / a / nx), cx1 = a * Math.floor(((i + 1) * w) / a / nx);
      const x = Math.max(0, Math.min(cx0 - r, w - tw));
      windows.push({ x, y, cx0, cy0, cx1, cy1 });
    }
  }
  let batch = o.batch ?? Math.max(1, Math.min(windows.length, Math.floor(budget / (tw * th * net.bytesPerLrPixel))));
  // a batch must not make the tail's strips thinner than the single tile's
  while (o.batch === undefined && batch > 1 && tailRowsFit(net, tw, batch, maxBinding) < Math.min(th, tailRowsFit(net, tw, 1, maxBinding))) batch--;
  return { nx, ny, batch, radius: r, tw, th, windows };
}

/**
 * Upscales an RGB float image (interleaved HWC in [0,1]) with tiles; returns the SR image as
 * interleaved RGB in [-1,1] of size (w*scale) x (h*scale), equal to the whole-image forward.
 */
export async function upscaleTiled(G: FoldedGenerator, rgb: Float32Array, w: number, h: number, o: TileOptions = {}): Promise<Float32Array> {
  const a = G.tileNet.align ?? 1;
  if (w % a || h % a) {
    // a pixel-unshuffled body needs whole a x a blocks: pad by reflection (as Real-ESRGAN's
    // inference pads an x2 RRDBNet's input), upscale, and crop the padding's output away
    const W = Math.ceil(w / a) * a, H = Math.ceil(h / a) * a, s = G.config.scale;
    const reflect = (i: number, n: number) => (i < n ? i : Math.max(0, 2 * n - 2 - i));
    const padded = new Float32Array(W * H * 3);
    for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) {
      const src = (reflect(y, h) * w + reflect(x, w)) * 3;
      padded.set(rgb.subarray(src, src + 3), (y * W + x) * 3);
    }
    const up = await upscaleTiled(G, padded, W, H, o);
    const out = new Float32Array(w * s * h * s * 3);
    for (let y = 0; y < h * s; y++) out.set(up.subarray(y * W * s * 3, (y * W * s + w * s) * 3), y * w * s * 3);
    return out;
  }
  const g = gpu();
  const scale = G.config.scale;
  const plan = planTiles(w, h, G.tileNet, o, Number(g.limits.maxStorageBufferBindingSize));
  const { tw, th, windows } = plan;
  const out = new Float32Array(w * scale * h * scale * 3);
  let done = 0;
  for (let i0 = 0; i0 < windows.length; i0 += plan.batch) {
    const group = windows.slice(i0, i0 + plan.batch);
    const input = new Float32Array(group.length * tw * th * 3);
    group.forEach((win, k) => {
      for (let y = 0; y < th; y++) {
        const s = ((win.y + y) * w + win.x) * 3;
        input.set(rgb.subarray(s, s + tw * 3), (k * th + y) * tw * 3);
      }
    });
    const t = tidy(() => G.forward(fromArray(input, [group.length, th, tw, 3]), o.tailRows));
    const result = await t.data();
    t.dispose();
    const TW = tw * scale, TH = th * scale, OW = w * scale;
    group.forEach((win, k) => {
      // copy the core into the output
      const n = (win.cx1 - win.cx0) * scale * 3;
      for (let y = win.cy0 * scale; y < win.cy1 * scale; y++) {
        const src = (k * TH * TW + (y - win.y * scale) * TW + (win.cx0 - win.x) * scale) * 3;
        out.set(result.subarray(src, src + n), (y * OW + win.cx0 * scale) * 3);
      }
    });
    done += group.length;
    o.onTile?.(done, windows.length);
  }
  return out;
}
