// Launchers of the conv2d kernel family (shaders/conv2d_*.wgsl): forward with a fused epilogue, and
// the input, weight and bias gradients. Activations NHWC, weights HWIO [K, K, Cin, Cout], zero 'same'
// padding (K-1)/2, stride S: PyTorch's Conv2d(padding=(K-1)/2, stride=S).
//
// The kernels want channel counts that are multiples of 4 (every load a vec4). When a count is not,
// the launcher first copies the tensor into a zero-padded temporary (conv2d_util.wgsl `pad`); that
// only happens for thin tensors (RGB images, the 3-channel output), so the copy is cheap.
// Each conv kernel is compiled behind a prelude that supplies its entry point: with subgroups, the
// operand shared by a whole workgroup (weights; dy for the weight gradient) is loaded once per
// subgroup and broadcast (2-3x faster on lavapipe); without, every invocation loads it.
import type { Gpu } from '../gpu/gpu.js';
import { GpuError } from '../gpu/gpu.js';
import { subgroupsCanShare } from './shader.js';
import { kernelSpec, pipelineOf, struct, run, fold, type EntrySpec } from './spec.js';
import { winogradForward, winogradBackwardInput, winogradBackwardWeight } from './winograd.js';
import { split9BackwardInput, split9BackwardWeight, split9Fits, split9Forward } from './split9.js';
import { actCode, EPILOGUE_ACTS, type EpilogueAct } from './activation.js';
import { variantOf, type Variant } from './variants.js';

export interface ConvShape { N: number; H: number; W: number; Cin: number; Cout: number; K: number; stride: number; }

export const CONV2D_FWD = kernelSpec('conv2d_fwd', {
  main: {
    params: struct('Params', {
      N: 'u32', H: 'u32', W: 'u32', Ci4: 'u32', Ho: 'u32', Wo: 'u32', Cout: 'u32', Co4: 'u32',
      K: 'u32', S: 'u32', pad: 'u32', M: 'u32', gx: 'u32', alpha: 'f32', act: 'u32', has_bias: 'u32', has_res: 'u32',
    }),
    buffers: { x: 'read', w: 'read', out: 'read_write', bias: 'read?', slope: 'read?', res: 'read?' },
  },
}, { prelude: true });
export const CONV2D_BWD_INPUT = kernelSpec('conv2d_bwd_input', {
  main: {
    params: struct('Params', { N: 'u32', H: 'u32', W: 'u32', Cin: 'u32', Ho: 'u32', Wo: 'u32', Ci4: 'u32', Co4: 'u32', K: 'u32', S: 'u32', pad: 'u32', gx: 'u32' }),
    buffers: { dy: 'read', w: 'read', dx: 'read_write' },
  },
}, { prelude: true });
export const CONV2D_BWD_WEIGHT = kernelSpec('conv2d_bwd_weight', {
  main: {
    params: struct('Params', { N: 'u32', H: 'u32', W: 'u32', Ci4: 'u32', Ho: 'u32', Wo: 'u32', Co4: 'u32', K: 'u32', S: 'u32', pad: 'u32', rows: 'u32', chunk: 'u32', R4: 'u32' }),
    buffers: { x: 'read', dy: 'read', part: 'read_write' },
  },
}, { prelude: true });
const IO = { src: 'read', dst: 'read_write' } as const;
export const CONV2D_UTIL = kernelSpec('conv2d_util', {
  pad: { params: struct('PadParams', { A: 'u32', B: 'u32', C: 'u32', Bp: 'u32', Cp: 'u32', total: 'u32', gx: 'u32' }), buffers: IO },
  reduce: { params: struct('ReduceParams', { A: 'u32', B: 'u32', C: 'u32', Bp: 'u32', Cp: 'u32', total: 'u32', gx: 'u32', S: 'u32', stride: 'u32' }), buffers: IO },
  bias_partial: { params: struct('BiasParams', { M: 'u32', C: 'u32', chunk: 'u32' }), buffers: IO },
});

/**
 * Tile sizes (WGSL override constants), tuned on lavapipe. TM: pixels per invocation, VN: vec4s of
 * channels per invocation, WG: invocations per workgroup, SPLIT: target number of workgroups for
 * the split-K reductions. Exposed so that benchmarks can try others. Measured on lavapipe (2 cores,
 * N=16 24x24 64->64 3x3): forward 17.7, input gradient 18.6, weight gradient 16.5 GFLOPS.
 */
export const conv2dTiles = {
  /** Share weights through subgroups when the adapter allows (see shaders/prelude_share.wgsl). */
  subgroups: true,
  /**
   * 3x3 stride-1 convs with channel counts in multiples of 4 go through Winograd F(4x4, 3x3)
   * (src/kernels/winograd.ts): forward, input and weight gradients. false: the direct kernels below,
   * which stay the reference path (tests, benchmarks).
   */
  winograd: true,
  /**
   * 9x9 stride-1 convs with Cin a multiple of 4 and Cout <= 4 (the generator's conv_out) as one 3x3
   * conv to 9 x Cout channels through Winograd, plus a shift-sum (src/kernels/split9.ts). Needs
   * `winograd`; false: the direct kernel.
   */
  split9: true,
  fwd: { TM: 4, VN: 4, WG: 64 },
  bwdInput: { TM: 4, VN: 4, WG: 64 },
  bwdWeight: { VN: 4, WG: 16, SPLIT: 64 },
};

/** The direct forward and input-gradient tiles the tuner tries (src/kernels/variants.ts). */
export const CONV_CANDIDATES: Variant[] = [
  { TM: 4, VN: 4 }, { TM: 8, VN: 2 }, { TM: 4, VN: 2 }, { TM: 8, VN: 4 }, { TM: 2, VN: 4 },
];
/** With one vec4 of channels on the blocked side, only TM matters. */
export const CONV_THIN_CANDIDATES: Variant[] = [{ TM: 4, VN: 4 }, { TM: 8, VN: 4 }, { TM: 2, VN: 4 }, { TM: 6, VN: 4 }];

/**
 * Shape classes of the direct kernels (those Winograd does not take): 'thin' (one vec4 of channels
 * on the blocked side: Cout <= 4 forward, Cin <= 4 input gradient; the 9x9 RGB convs), 's2' (the
 * discriminator's stride-2 convs), 'wide' (other kernels larger than 3x3), 'k3' (the rest).
 */
export function convClass(s: ConvShape, blockedChannels: number): string {
  return blockedChannels <= 4 ? 'thin' : s.stride > 1 ? 's2' : s.K > 3 ? 'wide' : 'k3';
}

export function convOutSize(s: ConvShape): { Ho: number; Wo: number } {
  const pad = (s.K - 1) / 2;
  return {
    Ho: Math.floor((s.H + 2 * pad - s.K) / s.stride) + 1,
    Wo: Math.floor((s.W + 2 * pad - s.K) / s.stride) + 1,
  };
}

function checkShape(s: ConvShape): void {
  for (const k of ['N', 'H', 'W', 'Cin', 'Cout', 'K', 'stride'] as const) {
    if (!Number.isInteger(s[k]) || s[k] < 1) throw new GpuError(`conv2d: ${k} must be a positive integer, got ${s[k]}`);
  }
  if (s.K % 2 !== 1) throw new GpuError(`conv2d: kernel size must be odd ('same' padding), got ${s.K}`);
}

function checkSize(what: string, b: GPUBuffer, floats: number): void {
  if (b.size < floats * 4) throw new GpuError(`conv2d: ${what} holds ${b.size} bytes, needs ${floats * 4}`);
}

const ceilDiv = (a: number, b: number) => Math.ceil(a / b);

/** Whether the split-9x9 path (a 3x3 Winograd conv to 9 x Cout channels) takes this conv. */
export const usesSplit9 = (s: ConvShape): boolean => conv2dTiles.winograd && conv2dTiles.split9 && split9Fits(s);

/** Whether the Winograd path takes this conv. */
export const usesWinograd = (s: ConvShape): boolean =>
  conv2dTiles.winograd && s.K === 3 && s.stride === 1 && s.Cin % 4 === 0 && s.Cout % 4 === 0;

const canShare = (g: Gpu) => conv2dTiles.subgroups && subgroupsCanShare(g);

/** A conv kernel: its prelude (entry point, subgroup helpers), then shaders/<name>.wgsl. */
function kernel(g: Gpu, spec: EntrySpec, constants: Record<string, number>) {
  return pipelineOf(g, spec, constants, canShare(g));
}

const util = (g: Gpu, entry: 'pad' | 'reduce' | 'bias_partial') =>
  pipelineOf(g, CONV2D_UTIL[entry], { WG: 64 });

/**
 * `src` viewed as [A, B, C], as a zero-padded [A, Bp, Cp] temporary (pushed on `temps`); `src` itself
 * when no padding is needed.
 */
function padded(g: Gpu, src: GPUBuffer, A: number, B: number, C: number, Bp: number, Cp: number, temps: GPUBuffer[]): GPUBuffer {
  if (B === Bp && C === Cp) return src;
  const total = A * Bp * Cp;
  const dst = g.pool.acquire(total * 4, 'conv2d pad');
  temps.push(dst);
  const [gx, gy] = fold(g, ceilDiv(total, 64));
  run(g, util(g, 'pad'), CONV2D_UTIL.pad, { A, B, C, Bp, Cp, total, gx }, { src, dst }, [gx, gy]);
  return dst;
}

/** Sums `S` partial slices (each [A, Bp, Cp], `stride` floats apart) into dst [A, B, C], in slice order. */
function reduceSlices(g: Gpu, part: GPUBuffer, dst: GPUBuffer, S: number, stride: number,
  A: number, B: number, C: number, Bp: number, Cp: number): void {
  const total = A * B * C;
  const [gx, gy] = fold(g, ceilDiv(total, 64));
  run(g, util(g, 'reduce'), CONV2D_UTIL.reduce, { A, B, C, Bp, Cp, total, gx, S, stride }, { src: part, dst }, [gx, gy]);
}

export function conv2dForward(g: Gpu, s: ConvShape, x: GPUBuffer, w: GPUBuffer, out: GPUBuffer, opts: {
  bias?: GPUBuffer; act?: EpilogueAct; slope?: GPUBuffer; alpha?: number; residual?: GPUBuffer;
} = {}): void {
  checkShape(s);
  const { N, H, W, Cin, Cout, K, stride } = s;
  const { Ho, Wo } = convOutSize(s);
  const M = N * Ho * Wo;
  const act = opts.act ?? 'none';
  const code = actCode('conv2d', act, EPILOGUE_ACTS);
  if (act === 'prelu' && !opts.slope) throw new GpuError('conv2d: prelu needs a slope buffer');
  checkSize('x', x, N * H * W * Cin); checkSize('w', w, K * K * Cin * Cout); checkSize('out', out, M * Cout);
  if (opts.bias) checkSize('bias', opts.bias, Cout);
  if (opts.slope) checkSize('slope', opts.slope, Cout);
  if (opts.residual) checkSize('residual', opts.residual, M * Cout);
  if (usesWinograd(s)) { winogradForward(g, s, x, w, out, { ...opts, act }); return; }
  if (usesSplit9(s)) { split9Forward(g, s, x, w, out, { ...opts, act }); return; }

  const Ci4 = ceilDiv(Cin, 4), Co4 = ceilDiv(Cout, 4);
  const temps: GPUBuffer[] = [];
  const xp = padded(g, x, N * H * W, 1, Cin, 1, Ci4 * 4, temps);
  const wp = padded(g, w, K * K, Cin, Cout, Ci4 * 4, Co4 * 4, temps);
  const { WG } = conv2dTiles.fwd;
  const t = variantOf(g, 'conv2d_fwd', convClass(s, Cout), conv2dTiles.fwd);
  const TM = t.TM, VN = Math.min(t.VN, Co4);
  const [gx, gz] = fold(g, ceilDiv(M, TM * WG));
  const pipe = kernel(g, CONV2D_FWD.main, { TM, VN, WG });
  run(g, pipe, CONV2D_FWD.main, {
    N, H, W, Ci4, Ho, Wo, Cout, Co4, K, S: stride, pad: (K - 1) / 2, M, gx, alpha: opts.alpha ?? 0.2,
    act: code, has_bias: opts.bias ? 1 : 0, has_res: opts.residual ? 1 : 0,
  }, { x: xp, w: wp, out, bias: opts.bias, slope: act === 'prelu' ? opts.slope : undefined, res: opts.residual }, [gx, ceilDiv(Co4, VN), gz]);
  for (const b of temps) g.pool.release(b);
}

export function conv2dBackwardInput(g: Gpu, s: ConvShape, dy: GPUBuffer, w: GPUBuffer, dx: GPUBuffer): void {
  checkShape(s);
  const { N, H, W, Cin, Cout, K, stride } = s;
  const { Ho, Wo } = convOutSize(s);
  checkSize('dy', dy, N * Ho * Wo * Cout); checkSize('w', w, K * K * Cin * Cout); checkSize('dx', dx, N * H * W * Cin);
  if (usesWinograd(s)) { winogradBackwardInput(g, s, dy, w, dx); return; }
  if (usesSplit9(s)) { split9BackwardInput(g, s, dy, w, dx); return; }
  const Ci4 = ceilDiv(Cin, 4), Co4 = ceilDiv(Cout, 4);
  const temps: GPUBuffer[] = [];
  const dyp = padded(g, dy, N * Ho * Wo, 1, Cout, 1, Co4 * 4, temps);
  const wp = padded(g, w, K * K, Cin, Cout, Ci4 * 4, Co4 * 4, temps);

  const { WG } = conv2dTiles.bwdInput;
  const t = variantOf(g, 'conv2d_bwd_input', convClass(s, Cin), conv2dTiles.bwdInput);
  const TM = t.TM, VN = Math.min(t.VN, Ci4);
  const classes = stride * stride;
  // The largest phase class (hi % S == 0, wi % S == 0) sets the grid; smaller classes mask the rest.
  const Mc = N * ceilDiv(H, stride) * ceilDiv(W, stride);
  const [gx, gf] = fold(g, ceilDiv(Mc, TM * WG));
  if (gf * classes > g.limits.maxComputeWorkgroupsPerDimension) throw new GpuError('conv2d: backward-input grid too large');
  const pipe = kernel(g, CONV2D_BWD_INPUT.main, { TM, VN, WG });
  run(g, pipe, CONV2D_BWD_INPUT.main, { N, H, W, Cin, Ho, Wo, Ci4, Co4, K, S: stride, pad: (K - 1) / 2, gx },
    { dy: dyp, w: wp, dx }, [gx, ceilDiv(Ci4, VN), gf * classes]);
  for (const b of temps) g.pool.release(b);
}

export function conv2dBackwardWeight(g: Gpu, s: ConvShape, x: GPUBuffer, dy: GPUBuffer, dw: GPUBuffer): void {
  checkShape(s);
  const { N, H, W, Cin, Cout, K, stride } = s;
  const { Ho, Wo } = convOutSize(s);
  checkSize('x', x, N * H * W * Cin); checkSize('dy', dy, N * Ho * Wo * Cout); checkSize('dw', dw, K * K * Cin * Cout);
  if (usesWinograd(s)) { winogradBackwardWeight(g, s, x, dy, dw); return; }
  if (usesSplit9(s)) { split9BackwardWeight(g, s, x, dy, dw); return; }
  const Ci4 = ceilDiv(Cin, 4), Co4 = ceilDiv(Cout, 4);
  const temps: GPUBuffer[] = [];
  const xp = padded(g, x, N * H * W, 1, Cin, 1, Ci4 * 4, temps);
  const dyp = padded(g, dy, N * Ho * Wo, 1, Cout, 1, Co4 * 4, temps);

  const { WG, SPLIT } = conv2dTiles.bwdWeight;
  const VN = Math.min(conv2dTiles.bwdWeight.VN, Co4);
  const R4 = K * K * Ci4;
  const gx = ceilDiv(R4, WG), gy = ceilDiv(Co4, VN);
  // Split the N*Ho output rows into enough chunks to keep every core busy; each chunk's partial
  // sum is a slice of `part`, added up in slice order by the reduce pass.
  const rows = N * Ho;
  const chunk = ceilDiv(rows, Math.max(1, Math.min(rows, ceilDiv(SPLIT, gx * gy))));
  const S = ceilDiv(rows, chunk);
  const slice = R4 * 4 * Co4 * 4;
  const part = g.pool.acquire(S * slice * 4, 'conv2d dw partials');
  temps.push(part);
  const pipe = kernel(g, CONV2D_BWD_WEIGHT.main, { VN, WG });
  run(g, pipe, CONV2D_BWD_WEIGHT.main, { N, H, W, Ci4, Ho, Wo, Co4, K, S: stride, pad: (K - 1) / 2, rows, chunk, R4 },
    { x: xp, dy: dyp, part }, [gx, gy, S]);
  reduceSlices(g, part, dw, S, slice, K * K, Cin, Cout, Ci4 * 4, Co4 * 4);
  for (const b of temps) g.pool.release(b);
}

export function conv2dBackwardBias(g: Gpu, s: ConvShape, dy: GPUBuffer, db: GPUBuffer): void {
  checkShape(s);
  const { Ho, Wo } = convOutSize(s);
  const M = s.N * Ho * Wo, C = s.Cout;
  checkSize('dy', dy, M * C); checkSize('db', db, C);
  const S = Math.min(M, 32);
  const chunk = ceilDiv(M, S);
  const part = g.pool.acquire(S * C * 4, 'conv2d db partials');
  run(g, util(g, 'bias_partial'), CONV2D_UTIL.bias_partial, { M, C, chunk }, { src: dy, dst: part }, [ceilDiv(C, 64), S]);
  reduceSlices(g, part, db, S, C, 1, 1, C, 1, C);
  g.pool.release(part);
}
