// Activations (shaders/activation.wgsl): relu, leaky relu, tanh, sigmoid and per-channel PReLU,
// forward and backward, over flat NHWC float32 tensors.
import type { Gpu } from '../gpu/gpu.js';
import { shaderSource, uniforms } from './shader.js';
import { grid, checkVec4, checkNoAlias } from './elementwise.js';

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

function pipe(g: Gpu, entry: string) {
  return g.pipeline(`activation.${entry}`, shaderSource('activation'), {}, entry);
}

/** y = f(x); alpha is leaky relu's negative slope (default 0.2). */
export function activation(g: Gpu, kind: PointwiseAct, x: GPUBuffer, y: GPUBuffer, n: number, alpha = 0.2): void {
  const k = actCode('activation', kind, POINTWISE_ACTS);
  checkVec4('activation', n, x, y);
  checkNoAlias('activation', [y], [x]);
  const { wx, wy, stride } = grid(Math.ceil(n / 4), WG);
  g.dispatch(pipe(g, 'forward'), uniforms([n, stride, k, { f: alpha }]), [x, y], [wx, wy]);
}

/** dx = dy * f'(.): from x for relu / lrelu (gradient where x > 0), from y for tanh / sigmoid. */
export function activationBackward(g: Gpu, kind: PointwiseAct, x: GPUBuffer, y: GPUBuffer, dy: GPUBuffer,
  dx: GPUBuffer, n: number, alpha = 0.2): void {
  const k = actCode('activationBackward', kind, POINTWISE_ACTS);
  const src = kind === 'relu' || kind === 'lrelu' ? x : y;
  checkVec4('activationBackward', n, src, dy, dx);
  checkNoAlias('activationBackward', [dx], [src, dy]);
  const { wx, wy, stride } = grid(Math.ceil(n / 4), WG);
  g.dispatch(pipe(g, 'backward'), uniforms([n, stride, k, { f: alpha }]), [src, dy, dx], [wx, wy]);
}

function checkChannels(op: string, n: number, C: number): void {
  if (!Number.isInteger(C) || C < 1 || n % C !== 0) throw new Error(`${op}: ${n} elements are not rows of ${C} channels`);
}

/** y = x > 0 ? x : slope[c] * x, with c = index % C. */
export function prelu(g: Gpu, x: GPUBuffer, slope: GPUBuffer, y: GPUBuffer, n: number, C: number): void {
  checkChannels('prelu', n, C);
  checkVec4('prelu', n, x, y);
  if (slope.size < C * 4) throw new Error(`prelu: slope buffer too small for ${C} channels`);
  checkNoAlias('prelu', [y], [x, slope]);
  const { wx, wy, stride } = grid(Math.ceil(n / 4), WG);
  g.dispatch(pipe(g, 'prelu_forward'), uniforms([n, stride, 0, { f: 0 }, C]), [x, slope, y], [wx, wy]);
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
  checkNoAlias('preluBackward', [dx, dslope], [x, slope, dy]);
  const rows = n / C;
  const block = preluBlock(rows);
  const blocks = Math.ceil(rows / block);
  const partial = g.pool.acquire(blocks * C * 4, 'prelu partial sums');
  // Four channels per invocation when C allows (vec4 loads along channels); same sums either way.
  const vec = C % 4 === 0;
  const { wx, wy, stride } = grid(blocks * (vec ? C / 4 : C), WG_PRELU_BWD);
  const params = [n, stride, 0, { f: 0 }, C, rows, block, blocks];
  g.dispatch(pipe(g, vec ? 'prelu_backward4' : 'prelu_backward'), uniforms(params), [x, slope, dy, dx, partial], [wx, wy]);
  g.dispatch(pipe(g, 'prelu_slope'), uniforms(params), [partial, dslope], [Math.ceil(C / 64)]);
  g.pool.release(partial);
}
