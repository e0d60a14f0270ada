// Activations (shaders/activation.wgsl): relu, leaky relu, tanh, sigmoid and per-channel PReLU,
// forward and backward, over flat NHWC float32 tensors.
import type { Gpu } from '../gpu/gpu.js';
import { kernelSpec, pipelineOf, struct, run, grid, checkVec4 } from './spec.js';

/**
 * Every activation a kernel applies, and its code in the WGSL `switch` statements: the pointwise
 * kernels (shaders/activation.wgsl) and the conv epilogues (conv2d_fwd.wgsl, winograd.wgsl). One
 * table, so that a code means the same thing in every shader.
 */
export type Act = 'none' | 'relu' | 'lrelu' | 'prelu' | 'tanh' | 'sigmoid';
export const ACT_CODE: Readonly<Record<Act, number>> = { none: 0, relu: 1, lrelu: 2, prelu: 3, tanh: 4, sigmoid: 5 };
/** What the pointwise kernels below compute (PReLU has its own kernels: it needs slopes). */
export const POINTWISE_ACTS = ['relu', 'lrelu', 'tanh', 'sigmoid'] as const satisfies readonly Act[];
export type PointwiseAct = (typeof POINTWISE_ACTS)[number];
/** What the conv epilogues compute (conv2d.ts, winograd.ts). */
export const EPILOGUE_ACTS = ['none', 'relu', 'lrelu', 'prelu', 'tanh'] as const satisfies readonly Act[];
export type EpilogueAct = (typeof EPILOGUE_ACTS)[number];

/** The code of `act`, refused unless `allowed` lists it (callers in plain JS pass any string). */
export function actCode(op: string, act: string, allowed: readonly Act[]): number {
  if (!(allowed as readonly string[]).includes(act)) throw new Error(`${op}: unknown kind of activation '${act}'`);
  return ACT_CODE[act as Act];
}

const WG = 256;
const WG_PRELU_BWD = 64;
/** The uniform fields only PReLU's kernels read. */
const NO_PRELU = { kind: 0, alpha: 0, C: 0, rows: 0, block: 0, blocks: 0 };

const PARAMS = struct('Params', { n: 'u32', stride: 'u32', kind: 'u32', alpha: 'f32', C: 'u32', rows: 'u32', block: 'u32', blocks: 'u32' });
export const ACTIVATION = kernelSpec('activation', {
  forward: { params: PARAMS, buffers: { x4: 'read', y4: 'read_write' } },
  backward: { params: PARAMS, buffers: { x4: 'read', grad: 'read', grad_in: 'read_write' } },
  prelu_forward: { params: PARAMS, buffers: { x4: 'read', slope: 'read', prelu_y: 'read_write' } },
  prelu_backward: { params: PARAMS, buffers: { xs: 'read', slope: 'read', dys: 'read', dxs: 'read_write', partial: 'read_write' } },
  prelu_backward4: { params: PARAMS, buffers: { x4: 'read', slope: 'read', dy4: 'read', dx4: 'read_write', partial: 'read_write' } },
  prelu_slope: { params: PARAMS, buffers: { partialIn: 'read', dslope: 'read_write' } },
});

function pipe(g: Gpu, entry: keyof typeof ACTIVATION) {
  return pipelineOf(g, ACTIVATION[entry]);
}

/** y = f(x); alpha is leaky relu's negative slope (default 0.2). */
export function activation(g: Gpu, kind: PointwiseAct, x: GPUBuffer, y: GPUBuffer, n: number, alpha = 0.2): void {
  const k = actCode('activation', kind, POINTWISE_ACTS);
  checkVec4('activation', n, x, y);
  const { wx, wy, stride } = grid(g, Math.ceil(n / 4), WG);
  run(g, pipe(g, 'forward'), ACTIVATION.forward, { ...NO_PRELU, n, stride, kind: k, alpha }, { x4: x, y4: y }, [wx, wy]);
}

/** dx = dy * f'(.): from x for relu / lrelu (gradient where x > 0), from y for tanh / sigmoid. */
export function activationBackward(g: Gpu, kind: PointwiseAct, x: GPUBuffer, y: GPUBuffer, dy: GPUBuffer,
  dx: GPUBuffer, n: number, alpha = 0.2): void {
  const k = actCode('activationBackward', kind, POINTWISE_ACTS);
  const src = kind === 'relu' || kind === 'lrelu' ? x : y;
  checkVec4('activationBackward', n, src, dy, dx);
  const { wx, wy, stride } = grid(g, Math.ceil(n / 4), WG);
  run(g, pipe(g, 'backward'), ACTIVATION.backward, { ...NO_PRELU, n, stride, kind: k, alpha }, { x4: src, grad: dy, grad_in: dx }, [wx, wy]);
}

function checkChannels(op: string, n: number, C: number): void {
  if (!Number.isInteger(C) || C < 1 || n % C !== 0) throw new Error(`${op}: ${n} elements are not rows of ${C} channels`);
}

/** y = x > 0 ? x : slope[c] * x, with c = index % C. */
export function prelu(g: Gpu, x: GPUBuffer, slope: GPUBuffer, y: GPUBuffer, n: number, C: number): void {
  checkChannels('prelu', n, C);
  checkVec4('prelu', n, x, y);
  if (slope.size < C * 4) throw new Error(`prelu: slope buffer too small for ${C} channels`);
  const { wx, wy, stride } = grid(g, Math.ceil(n / 4), WG);
  run(g, pipe(g, 'prelu_forward'), ACTIVATION.prelu_forward, { ...NO_PRELU, n, stride, C }, { x4: x, slope, prelu_y: y }, [wx, wy]);
}

/**
 * Rows per partial sum of the slope gradient: about sqrt(rows), so that both passes are short.
 * It depends on the shape only, which keeps the summation order (and the bits) fixed.
 */
export function preluBlock(rows: number): number {
  return Math.max(32, Math.ceil(Math.sqrt(rows)));
}

/**
 * dx = x > 0 ? dy : slope[c] * dy, and dslope[c] = sum of dy * x over the elements of channel c
 * with x <= 0 (overwritten). Two passes, fixed order: per-block partial sums, then one sum per channel.
 */
export function preluBackward(g: Gpu, x: GPUBuffer, slope: GPUBuffer, dy: GPUBuffer, dx: GPUBuffer,
  dslope: GPUBuffer, n: number, C: number): void {
  checkChannels('preluBackward', n, C);
  checkVec4('preluBackward', n, x, dy, dx);
  if (slope.size < C * 4 || dslope.size < C * 4) throw new Error(`preluBackward: slope buffers too small for ${C} channels`);
  if (dx === dslope || [x, slope, dy].some((b) => b === dx || b === dslope)) throw new Error('preluBackward: dx and dslope must be buffers of their own (no in-place use)');
  const rows = n / C;
  const block = preluBlock(rows);
  const blocks = Math.ceil(rows / block);
  const partial = g.pool.acquire(blocks * C * 4, 'prelu partial sums');
  // Four channels per invocation when C allows (vec4 loads along channels); same sums either way.
  const vec = C % 4 === 0;
  const { wx, wy, stride } = grid(g, blocks * (vec ? C / 4 : C), WG_PRELU_BWD);
  const params = { n, stride, kind: 0, alpha: 0, C, rows, block, blocks };
  if (vec) run(g, pipe(g, 'prelu_backward4'), ACTIVATION.prelu_backward4, params, { x4: x, slope, dy4: dy, dx4: dx, partial }, [wx, wy]);
  else run(g, pipe(g, 'prelu_backward'), ACTIVATION.prelu_backward, params, { xs: x, slope, dys: dy, dxs: dx, partial }, [wx, wy]);
  run(g, pipe(g, 'prelu_slope'), ACTIVATION.prelu_slope, params, { partialIn: partial, dslope }, [Math.ceil(C / 64)]);
  g.pool.release(partial);
}
