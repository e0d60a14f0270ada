// A 9x9 stride-1 conv with at most 4 output channels (the generator's conv_out) as a 3x3 conv to
// 9 x Cout channels on the input padded by 3, run by Winograd F(4x4, 3x3), then a shift-sum
// (shaders/split9.wgsl explains the identity). Forward, input gradient and weight gradient: each is
// the matching Winograd call between the layout maps and their adjoints. The padding is never
// stored: Winograd's transforms read the input as the interior of the padded grid (and the input
// gradient writes only that interior). conv2d.ts routes these
// convs here (conv2dTiles.split9) and keeps the direct kernel as the reference path.
//
// Why: the direct kernel computes one vec4 of output channels per pixel (3 of them used) and runs
// at 6.5 GFLOPS on lavapipe; as one 3x3 conv its 81 taps become a GEMM 9 x Cout wide, with 36/16
// multiplies per tap. Measured at 1x512x512 32->3: 590 ms direct, 269 ms for the 3x3 32->28 conv.
import type { Gpu } from '../gpu/gpu.js';
import { GpuError } from '../gpu/gpu.js';
import { kernelSpec, pipelineOf, struct, run, fold } from './spec.js';
import { winogradBackwardInput, winogradBackwardWeight, winogradForward, type WinogradEpilogue } from './winograd.js';
import { actCode, EPILOGUE_ACTS } from './activation.js';

const WG = 64;
const ceilDiv = (a: number, b: number) => Math.ceil(a / b);

const W_PARAMS = struct('WParams', { Cin: 'u32', Cout: 'u32', Cz: 'u32', total: 'u32', gx: 'u32' });
const G_PARAMS = struct('GParams', {
  N: 'u32', H: 'u32', W: 'u32', Cout: 'u32', Cz: 'u32', total: 'u32', gx: 'u32', act: 'u32', has_bias: 'u32', has_res: 'u32', alpha: 'f32',
});
const IO = { src: 'read', dst: 'read_write' } as const;
export const SPLIT9 = kernelSpec('split9', {
  weights: { params: W_PARAMS, buffers: IO },
  weights_grad: { params: W_PARAMS, buffers: IO },
  gather: { params: G_PARAMS, buffers: { src: 'read', dst: 'read_write', bias: 'read?', slope: 'read?', res: 'read?' } },
  spread: { params: G_PARAMS, buffers: IO },
});
type Entry = keyof typeof SPLIT9;
const pipe = (g: Gpu, entry: Entry) => pipelineOf(g, SPLIT9[entry], { WG });

/** Image, channels of the 9x9 conv (Cin a multiple of 4, Cout <= 4). */
export interface Split9Shape { N: number; H: number; W: number; Cin: number; Cout: number }

/** Whether a conv shape can take this path. */
export const split9Fits = (s: { K: number; stride: number; Cin: number; Cout: number }): boolean =>
  s.K === 9 && s.stride === 1 && s.Cin % 4 === 0 && s.Cout <= 4;

/** The stacked 3x3 conv's output channels: 9 x Cout, rounded up to a multiple of 4 (its temporary holds that many floats per padded pixel). */
export const czOf = (Cout: number) => ceilDiv(9 * Cout, 4) * 4;
/** The 3x3 conv on the padded grid. */
const inner = (s: Split9Shape) => ({ N: s.N, H: s.H + 6, W: s.W + 6, Cin: s.Cin, Cout: czOf(s.Cout) });

function check(s: Split9Shape): void {
  if (!split9Fits({ K: 9, stride: 1, Cin: s.Cin, Cout: s.Cout })) throw new GpuError(`split9: ${s.Cin}->${s.Cout} is not a 9x9 conv with Cin % 4 == 0 and Cout <= 4`);
}

function mapWeights(g: Gpu, s: Split9Shape, src: GPUBuffer, dst: GPUBuffer, grad: boolean): void {
  const Cz = czOf(s.Cout);
  const total = grad ? 81 * s.Cin * s.Cout : 9 * s.Cin * Cz;
  const [gx, gy] = fold(g, ceilDiv(total, WG));
  const entry = grad ? 'weights_grad' : 'weights';
  run(g, pipe(g, entry), SPLIT9[entry], { Cin: s.Cin, Cout: s.Cout, Cz, total, gx }, { src, dst }, [gx, gy]);
}

/** out [N, H, W, Cout] = the 9x9 conv of x [N, H, W, Cin] with w [9, 9, Cin, Cout], then the epilogue. */
export function split9Forward(g: Gpu, s: Split9Shape, x: GPUBuffer, w: GPUBuffer, out: GPUBuffer, e: WinogradEpilogue = {}, maxRows?: number): void {
  check(s);
  const t = inner(s);
  const w3 = g.pool.acquire(9 * t.Cin * t.Cout * 4, 'split9 w3');
  const z = g.pool.acquire(t.N * t.H * t.W * t.Cout * 4, 'split9 z');
  mapWeights(g, s, w, w3, false);
  winogradForward(g, t, x, w3, z, {}, maxRows, { input: 3 });
  const act = e.act ?? 'none';
  if (act === 'prelu' && !e.slope) throw new GpuError('split9: prelu needs a slope buffer');
  const total = s.N * s.H * s.W * s.Cout;
  const [gx, gy] = fold(g, ceilDiv(total, WG));
  run(g, pipe(g, 'gather'), SPLIT9.gather, {
    N: s.N, H: s.H, W: s.W, Cout: s.Cout, Cz: t.Cout, total, gx,
    act: actCode('split9', act, EPILOGUE_ACTS), has_bias: e.bias ? 1 : 0, has_res: e.residual ? 1 : 0, alpha: e.alpha ?? 0.2,
  }, { src: z, dst: out, bias: e.bias, slope: act === 'prelu' ? e.slope : undefined, res: e.residual }, [gx, gy]);
  for (const b of [w3, z]) g.pool.release(b);
}

/** dy [N, H, W, Cout] -> dz [N, H+6, W+6, Cz]: the adjoint of the shift-sum (a new buffer). */
function spread(g: Gpu, s: Split9Shape, dy: GPUBuffer): GPUBuffer {
  const t = inner(s);
  const dz = g.pool.acquire(t.N * t.H * t.W * t.Cout * 4, 'split9 dz');
  const total = t.N * t.H * t.W * t.Cout;
  const [gx, gy] = fold(g, ceilDiv(total, WG));
  run(g, pipe(g, 'spread'), SPLIT9.spread, {
    N: s.N, H: s.H, W: s.W, Cout: s.Cout, Cz: t.Cout, total, gx, act: 0, has_bias: 0, has_res: 0, alpha: 0,
  }, { src: dy, dst: dz }, [gx, gy]);
  return dz;
}

/** dx [N, H, W, Cin] = the input gradient of the 9x9 conv. */
export function split9BackwardInput(g: Gpu, s: Split9Shape, dy: GPUBuffer, w: GPUBuffer, dx: GPUBuffer, maxRows?: number): void {
  check(s);
  const t = inner(s);
  const w3 = g.pool.acquire(9 * t.Cin * t.Cout * 4, 'split9 w3');
  mapWeights(g, s, w, w3, false);
  const dz = spread(g, s, dy);
  winogradBackwardInput(g, t, dz, w3, dx, maxRows, { input: 3 });
  for (const b of [w3, dz]) g.pool.release(b);
}

/** dw [9, 9, Cin, Cout] = the weight gradient of the 9x9 conv (deterministic: Winograd's fixed order). */
export function split9BackwardWeight(g: Gpu, s: Split9Shape, x: GPUBuffer, dy: GPUBuffer, dw: GPUBuffer, maxRows?: number): void {
  check(s);
  const t = inner(s);
  const dz = spread(g, s, dy);
  const dw3 = g.pool.acquire(9 * t.Cin * t.Cout * 4, 'split9 dw3');
  winogradBackwardWeight(g, t, x, dz, dw3, maxRows, { input: 3 });
  mapWeights(g, s, dw3, dw, true);
  for (const b of [dz, dw3]) g.pool.release(b);
}
