// Launchers of the Winograd F(4x4, 3x3) conv (shaders/winograd.wgsl): forward with the conv
// family's fused epilogue, input gradient (the same conv of dy with the rotated kernel) and weight
// gradient. For 3x3 stride-1 convs whose channel counts are multiples of 4; conv2d.ts routes those
// here and keeps its direct kernels as the reference path (conv2dTiles.winograd = false).
//
// The transformed tensors are 36 x tiles x channels: 2.25x the activation's size. Past the
// adapter's storage-binding limit the tiles go in chunks, each transformed, multiplied and
// transformed back on its own (the weight gradient sums the chunks' products in chunk order).
import type { Gpu } from '../gpu/gpu.js';
import { GpuError } from '../gpu/gpu.js';
import { kernelSpec, pipelineOf, struct, run, fold } from './spec.js';
import { matmulBatched } from './matmul.js';
import { actCode, EPILOGUE_ACTS, type EpilogueAct } from './activation.js';

const WG = 64;
const ceilDiv = (a: number, b: number) => Math.ceil(a / b);

const TILE_PARAMS = struct('Params', {
  N: 'u32', H: 'u32', W: 'u32', C4: 'u32', TH: 'u32', TW: 'u32', t0: 'u32', rows: 'u32', T: 'u32', gx: 'u32',
  act: 'u32', has_bias: 'u32', has_res: 'u32', alpha: 'f32', SH: 'u32', SW: 'u32', off: 'u32', dC4: 'u32', dOff: 'u32',
});
const WEIGHT_PARAMS = struct('WParams', { Cin: 'u32', Cout: 'u32', R: 'u32', C4: 'u32', flip: 'u32', gx: 'u32' });
export const WINOGRAD = kernelSpec('winograd', {
  input_tf: { params: TILE_PARAMS, buffers: { src: 'read', dst: 'read_write' } },
  grad_tf: { params: TILE_PARAMS, buffers: { src: 'read', dst: 'read_write' } },
  output_tf: { params: TILE_PARAMS, buffers: { src: 'read', dst: 'read_write', bias: 'read?', slope: 'read?', res: 'read?' } },
  weight_tf: { params: WEIGHT_PARAMS, buffers: { wsrc: 'read', wdst: 'read_write' } },
  weight_grad_tf: { params: WEIGHT_PARAMS, buffers: { wsrc: 'read', wdst: 'read_write' } },
});
type Entry = keyof typeof WINOGRAD;
const pipe = (g: Gpu, entry: Entry) => pipelineOf(g, WINOGRAD[entry], { WG });

const grid = (g: Gpu, items: number): [number, number] => fold(g, ceilDiv(items, WG));

/** Image size, channels (multiples of 4) of the conv; the output has the input's H x W. */
export interface WinogradShape { N: number; H: number; W: number; Cin: number; Cout: number }

/** Tiles of 4x4 output pixels, and how many go in one chunk (rows of the GEMMs, a multiple of 4). */
function plan(g: Gpu, s: WinogradShape, maxRows?: number) {
  const TH = ceilDiv(s.H, 4), TW = ceilDiv(s.W, 4);
  const T = s.N * TH * TW;
  const limit = Number(g.limits.maxStorageBufferBindingSize);
  const fit = Math.floor(limit / (36 * 4 * Math.max(s.Cin, s.Cout)) / 4) * 4;
  if (fit < 4) throw new GpuError(`winograd: ${Math.max(s.Cin, s.Cout)} channels are too many for the binding limit`);
  const rows = Math.min(ceilDiv(T, 4) * 4, fit, maxRows ?? Infinity);
  return { TH, TW, T, rows };
}

/** Chunk of tiles [t0, t0 + rows) (rows a multiple of 4), for each chunk of the plan. */
function* chunks(T: number, rows: number): Generator<{ t0: number; rows: number }> {
  for (let t0 = 0; t0 < T; t0 += rows) yield { t0, rows: Math.min(rows, ceilDiv(T - t0, 4) * 4) };
}

/**
 * Tile-transform parameters (struct Params) for a chunk; C4 of the tensor read or written, which
 * holds the conv's grid shifted by `off` pixels (0: the grid itself; see WinogradOffsets).
 */
function tileParams(s: WinogradShape, p: ReturnType<typeof plan>, c: { t0: number; rows: number }, C4: number,
  gx: number, e: { act?: EpilogueAct; alpha?: number; bias?: boolean; res?: boolean } = {}, off = 0) {
  return {
    N: s.N, H: s.H, W: s.W, C4, TH: p.TH, TW: p.TW, t0: c.t0, rows: c.rows, T: p.T, gx,
    act: actCode('winograd', e.act ?? 'none', EPILOGUE_ACTS), has_bias: e.bias ? 1 : 0, has_res: e.res ? 1 : 0, alpha: e.alpha ?? 0.2,
    SH: s.H - 2 * off, SW: s.W - 2 * off, off, dC4: C4, dOff: 0,
  };
}

/**
 * Where the conv's input and output tensors sit on its H x W grid: `input` > 0 reads an input of
 * (H - 2 input) x (W - 2 input) as the grid's interior, zeros around (a conv over a zero-padded
 * tensor without the padded copy); `output` > 0 writes only the interior, to an output that size
 * (the crop that undoes such padding). Both 0 for a plain conv. The split 9x9 conv uses 3.
 */
export interface WinogradOffsets { input?: number; output?: number }

/** U = G g G^T for every channel pair: [36, Cin, Cout], or flipped (input gradient) [36, Cout, Cin]. */
function weightTransform(g: Gpu, w: GPUBuffer, Cin: number, Cout: number, flip: boolean): GPUBuffer {
  const R = flip ? Cout : Cin, C = flip ? Cin : Cout;
  const u = g.pool.acquire(36 * R * C * 4, 'winograd U');
  const [gx, gy] = grid(g, R * C / 4);
  run(g, pipe(g, 'weight_tf'), WINOGRAD.weight_tf, { Cin, Cout, R, C4: C / 4, flip: flip ? 1 : 0, gx }, { wsrc: w, wdst: u }, [gx, gy]);
  return u;
}

export interface WinogradEpilogue { bias?: GPUBuffer; act?: EpilogueAct; slope?: GPUBuffer; alpha?: number; residual?: GPUBuffer }

/**
 * One chunk of a conv s.Cin -> s.Cout from its transformed input: the 36 GEMMs O = V . U (V's rows
 * `ldv` floats apart: s.Cin, or the width of a concatenation whose first s.Cin channels the conv
 * reads) and the output transform with the epilogue into out (placed as `off` says).
 */
function multiplyAndStore(g: Gpu, s: WinogradShape, p: ReturnType<typeof plan>, c: { t0: number; rows: number }, v: GPUBuffer, u: GPUBuffer,
  out: GPUBuffer, e: WinogradEpilogue, ldv = s.Cin, off = 0): void {
  const o = g.pool.acquire(36 * c.rows * s.Cout * 4, 'winograd O');
  matmulBatched(g, v, u, o, c.rows, s.Cout, s.Cin, { count: 36, a: c.rows * ldv, b: s.Cin * s.Cout, c: c.rows * s.Cout, lda: ldv });
  const [ox, oy] = grid(g, c.rows * s.Cout / 4);
  run(g, pipe(g, 'output_tf'), WINOGRAD.output_tf, tileParams(s, p, c, s.Cout / 4, ox, { act: e.act, alpha: e.alpha, bias: !!e.bias, res: !!e.residual }, off),
    { src: o, dst: out, bias: e.bias, slope: e.act === 'prelu' ? e.slope : undefined, res: e.residual }, [ox, oy]);
  g.pool.release(o);
}

/** The conv with transformed weights U [36, Cin, Cout]: x [N,H,W,Cin] -> out [N,H,W,Cout] (as `at` places them). */
function convWithU(g: Gpu, s: WinogradShape, x: GPUBuffer, u: GPUBuffer, out: GPUBuffer, e: WinogradEpilogue, maxRows?: number, at: WinogradOffsets = {}): void {
  const p = plan(g, s, maxRows);
  const v = g.pool.acquire(36 * p.rows * s.Cin * 4, 'winograd V');
  for (const c of chunks(p.T, p.rows)) {
    const [ix, iy] = grid(g, c.rows * s.Cin / 4);
    run(g, pipe(g, 'input_tf'), WINOGRAD.input_tf, tileParams(s, p, c, s.Cin / 4, ix, {}, at.input), { src: x, dst: v }, [ix, iy]);
    multiplyAndStore(g, s, p, c, v, u, out, e, s.Cin, at.output);
  }
  g.pool.release(v);
}

/** out = conv3x3(x, w) + epilogue; w HWIO [3, 3, Cin, Cout]. `maxRows` forces small chunks (tests). */
export function winogradForward(g: Gpu, s: WinogradShape, x: GPUBuffer, w: GPUBuffer, out: GPUBuffer,
  e: WinogradEpilogue = {}, maxRows?: number, at: WinogradOffsets = {}): void {
  if (e.act === 'prelu' && !e.slope) throw new GpuError('winograd: prelu needs a slope buffer');
  const u = weightTransform(g, w, s.Cin, s.Cout, false);
  convWithU(g, s, x, u, out, e, maxRows, at);
  g.pool.release(u);
}

/** dx = conv3x3(dy, rot180(w) with Cin and Cout swapped): the input gradient of a 3x3 stride-1 conv. */
export function winogradBackwardInput(g: Gpu, s: WinogradShape, dy: GPUBuffer, w: GPUBuffer, dx: GPUBuffer, maxRows?: number,
  at: WinogradOffsets = {}): void {
  const u = weightTransform(g, w, s.Cin, s.Cout, true);
  // dy lies on the grid as the forward's output did, dx as its input did
  convWithU(g, { ...s, Cin: s.Cout, Cout: s.Cin }, dy, u, dx, {}, maxRows, { input: at.output, output: at.input });
  g.pool.release(u);
}

/** dw [3, 3, Cin, Cout] = the weight gradient, summed over tiles in a fixed order (deterministic). */
export function winogradBackwardWeight(g: Gpu, s: WinogradShape, x: GPUBuffer, dy: GPUBuffer, dw: GPUBuffer, maxRows?: number,
  at: WinogradOffsets = {}): void {
  const p = plan(g, s, maxRows);
  const Ci4 = s.Cin / 4, Co4 = s.Cout / 4;
  const v = g.pool.acquire(36 * p.rows * s.Cin * 4, 'winograd V');
  const d = g.pool.acquire(36 * p.rows * s.Cout * 4, 'winograd dO');
  const du = g.pool.acquire(36 * s.Cin * s.Cout * 4, 'winograd dU');
  for (const c of chunks(p.T, p.rows)) {
    const [ix, iy] = grid(g, c.rows * Ci4);
    run(g, pipe(g, 'input_tf'), WINOGRAD.input_tf, tileParams(s, p, c, Ci4, ix, {}, at.input), { src: x, dst: v }, [ix, iy]);
    const [ox, oy] = grid(g, c.rows * Co4);
    run(g, pipe(g, 'grad_tf'), WINOGRAD.grad_tf, tileParams(s, p, c, Co4, ox, {}, at.output), { src: dy, dst: d }, [ox, oy]);
    matmulBatched(g, v, d, du, s.Cin, s.Cout, c.rows, { count: 36, a: c.rows * s.Cin, b: c.rows * s.Cout, c: s.Cin * s.Cout },
      { transA: true, accumulate: c.t0 > 0 });
  }
  const [gx, gy] = grid(g, s.Cin * Co4);
  run(g, pipe(g, 'weight_grad_tf'), WINOGRAD.weight_grad_tf, { Cin: s.Cin, Cout: s.Cout, R: s.Cin, C4: Co4, flip: 0, gx }, { wsrc: du, wdst: dw }, [gx, gy]);
  for (const b of [v, d, du]) g.pool.release(b);
}

/**
 * Inference: 3x3 convs over a channel concatenation that grows piece by piece, as in ESRGAN's dense
 * blocks (conv k reads the block's input and every earlier conv's output). The input transform is
 * per channel, so the transform of a concatenation is its pieces' transforms side by side: each
 * piece is transformed once, into its channel slice of V [36, rows, channels], and each conv is one
 * GEMM over V's first K channels (rows `channels` apart) and one output transform. Built as a sum of
 * one conv per piece instead, conv k would transform every earlier piece again and run k GEMMs and
 * k output transforms. No gradient: training builds the concatenation (ops.concatChannels).
 * `s.Cin` is the concatenation's full width, `s.Cout` the widest conv output; all multiples of 4.
 */
export class WinogradConcat {
  private readonly p: ReturnType<typeof plan>;
  /** One V per chunk of tiles: [36, rows, channels]. */
  private readonly vs: GPUBuffer[] = [];
  private readonly parts: Array<{ t0: number; rows: number }>;
  private filled = 0;

  constructor(private readonly g: Gpu, private readonly s: WinogradShape, maxRows?: number) {
    if (s.Cin % 4 || s.Cout % 4) throw new GpuError(`winograd: ${s.Cin} -> ${s.Cout} channels are not multiples of 4`);
    this.p = plan(g, s, maxRows);
    this.parts = [...chunks(this.p.T, this.p.rows)];
    for (const c of this.parts) this.vs.push(g.pool.acquire(36 * c.rows * s.Cin * 4, 'winograd V (concatenation)'));
  }

  /** Channels transformed so far. */
  get channels(): number { return this.filled; }

  /** Transforms x [N, H, W, C] into the next C channels. */
  add(x: GPUBuffer, C: number): void {
    const { g, s, p } = this;
    if (C % 4 || this.filled + C > s.Cin) throw new GpuError(`winograd: ${C} more channels do not fit the concatenation (${this.filled} of ${s.Cin} filled)`);
    this.parts.forEach((c, j) => {
      const [ix, iy] = grid(g, c.rows * C / 4);
      run(g, pipe(g, 'input_tf'), WINOGRAD.input_tf, { ...tileParams(s, p, c, C / 4, ix), dC4: s.Cin / 4, dOff: this.filled / 4 },
        { src: x, dst: this.vs[j] }, [ix, iy]);
    });
    this.filled += C;
  }

  /** out [N, H, W, Cout] = conv3x3(the concatenation so far, w) + epilogue; w HWIO [3, 3, channels, Cout]. */
  conv(w: GPUBuffer, Cout: number, out: GPUBuffer, e: WinogradEpilogue = {}): void {
    const { g, s, p } = this;
    const K = this.filled;
    if (!K || Cout % 4 || Cout > s.Cout) throw new GpuError(`winograd: a conv of ${K} -> ${Cout} channels does not fit this concatenation`);
    if (e.act === 'prelu' && !e.slope) throw new GpuError('winograd: prelu needs a slope buffer');
    const u = weightTransform(g, w, K, Cout, false);
    this.parts.forEach((c, j) => multiplyAndStore(g, { ...s, Cin: K, Cout }, p, c, this.vs[j], u, out, e, s.Cin));
    g.pool.release(u);
  }

  release(): void {
    for (const v of this.vs.splice(0)) this.g.pool.release(v);
  }
}
