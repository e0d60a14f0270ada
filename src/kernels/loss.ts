// Mean losses (shaders/loss.wgsl): MSE and binary cross-entropy on logits with a constant target.
// Outputs and upstream gradients are 1-element GPU buffers, so a training step never reads back.
import type { Gpu } from '../gpu/gpu.js';
import { shaderSource, uniforms } from './shader.js';
import { grid, checkVec4, checkNoAlias } from './elementwise.js';

const WG_PARTIAL = 64;
const WG = 256;

function pipe(g: Gpu, entry: string) {
  return g.pipeline(`loss.${entry}`, shaderSource('loss'), {}, entry);
}

/**
 * How the sum of n elements is split: `parts` runs of `chunk` vec4s, about sqrt(n/4) each, so
 * both passes are short. It depends on n only, which fixes the summation order (and the bits).
 */
export function lossSplit(n: number): { chunk: number; parts: number } {
  const n4 = Math.ceil(n / 4);
  const chunk = Math.max(16, Math.ceil(Math.sqrt(n4)));
  return { chunk, parts: Math.ceil(n4 / chunk) };
}

function meanOf(g: Gpu, op: string, entry: string, inputs: GPUBuffer[], out: GPUBuffer, n: number, target: number): void {
  if (!(n >= 1)) throw new Error(`${op}: needs at least one element, got ${n}`);
  checkVec4(op, n, ...inputs);
  checkNoAlias(op, [out], inputs);
  const { chunk, parts } = lossSplit(n);
  const partial = g.pool.acquire(parts * 4, `${op} partial sums`);
  const { wx, wy, stride } = grid(parts, WG_PARTIAL);
  const u = uniforms([n, stride, chunk, parts, { f: target }]);
  g.dispatch(pipe(g, entry), u, [...inputs, partial], [wx, wy]);
  g.dispatch(pipe(g, 'finalize'), u, [partial, out], [1]);
  g.pool.release(partial);
}

/** out[0] = mean((a - b)^2) */
export function mseLoss(g: Gpu, a: GPUBuffer, b: GPUBuffer, out: GPUBuffer, n: number): void {
  meanOf(g, 'mseLoss', 'mse_partial', [a, b], out, n, 0);
}

/** da = dOut[0] * 2 (a - b) / n */
export function mseLossBackward(g: Gpu, a: GPUBuffer, b: GPUBuffer, dOut: GPUBuffer, da: GPUBuffer, n: number): void {
  checkVec4('mseLossBackward', n, a, b, da);
  checkNoAlias('mseLossBackward', [da], [a, b, dOut]);
  const { wx, wy, stride } = grid(Math.ceil(n / 4), WG);
  g.dispatch(pipe(g, 'mse_backward'), uniforms([n, stride, 0, 0, { f: 0 }]), [a, b, dOut, da], [wx, wy]);
}

/** out[0] = mean over n of max(z,0) - z*t + log(1 + exp(-|z|)), t the constant target label. */
export function bceWithLogits(g: Gpu, logits: GPUBuffer, target: number, out: GPUBuffer, n: number): void {
  meanOf(g, 'bceWithLogits', 'bce_partial', [logits], out, n, target);
}

/** dz = dOut[0] * (sigmoid(z) - t) / n */
export function bceWithLogitsBackward(g: Gpu, logits: GPUBuffer, target: number, dOut: GPUBuffer, dz: GPUBuffer, n: number): void {
  checkVec4('bceWithLogitsBackward', n, logits, dz);
  checkNoAlias('bceWithLogitsBackward', [dz], [logits, dOut]);
  const { wx, wy, stride } = grid(Math.ceil(n / 4), WG);
  g.dispatch(pipe(g, 'bce_backward'), uniforms([n, stride, 0, 0, { f: target }]), [logits, dOut, dz], [wx, wy]);
}
