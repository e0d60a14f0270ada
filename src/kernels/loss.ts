// Mean losses (shaders/loss.wgsl): MSE and binary cross-entropy on logits with a constant target.
// Outputs and upstream gradients are 1-element GPU buffers, so a training step never reads back.
import type { Gpu } from '../gpu/gpu.js';
import { kernelSpec, pipelineOf, struct, run, grid, checkVec4 } from './spec.js';

const WG_PARTIAL = 64;
const WG = 256;

const PARAMS = struct('Params', { n: 'u32', stride: 'u32', chunk: 'u32', parts: 'u32', label: 'f32' });
export const LOSS = kernelSpec('loss', {
  mse_partial: { params: PARAMS, buffers: { a: 'read', b: 'read', mse_parts: 'read_write' } },
  bce_partial: { params: PARAMS, buffers: { a: 'read', bce_parts: 'read_write' } },
  finalize: { params: PARAMS, buffers: { partialIn: 'read', result: 'read_write' } },
  mse_backward: { params: PARAMS, buffers: { a: 'read', b: 'read', mse_dout: 'read', mse_grad: 'read_write' } },
  bce_backward: { params: PARAMS, buffers: { a: 'read', bce_dout: 'read', bce_grad: 'read_write' } },
});

function pipe(g: Gpu, entry: keyof typeof LOSS) {
  return pipelineOf(g, LOSS[entry]);
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

function meanOf(g: Gpu, op: string, inputs: [GPUBuffer] | [GPUBuffer, GPUBuffer], out: GPUBuffer, n: number, target: number): void {
  if (!(n >= 1)) throw new Error(`${op}: needs at least one element, got ${n}`);
  checkVec4(op, n, ...inputs);
  if (inputs.includes(out)) throw new Error(`${op}: the output buffer is also an input (no in-place use)`);
  const { chunk, parts } = lossSplit(n);
  const partial = g.pool.acquire(parts * 4, `${op} partial sums`);
  const { wx, wy, stride } = grid(g, parts, WG_PARTIAL);
  const params = { n, stride, chunk, parts, label: target };
  if (inputs.length === 2) run(g, pipe(g, 'mse_partial'), LOSS.mse_partial, params, { a: inputs[0], b: inputs[1], mse_parts: partial }, [wx, wy]);
  else run(g, pipe(g, 'bce_partial'), LOSS.bce_partial, params, { a: inputs[0], bce_parts: partial }, [wx, wy]);
  run(g, pipe(g, 'finalize'), LOSS.finalize, params, { partialIn: partial, result: out }, [1]);
  g.pool.release(partial);
}

/** out[0] = mean((a - b)^2) */
export function mseLoss(g: Gpu, a: GPUBuffer, b: GPUBuffer, out: GPUBuffer, n: number): void {
  meanOf(g, 'mseLoss', [a, b], out, n, 0);
}

/** da = dOut[0] * 2 (a - b) / n */
export function mseLossBackward(g: Gpu, a: GPUBuffer, b: GPUBuffer, dOut: GPUBuffer, da: GPUBuffer, n: number): void {
  checkVec4('mseLossBackward', n, a, b, da);
  const { wx, wy, stride } = grid(g, Math.ceil(n / 4), WG);
  run(g, pipe(g, 'mse_backward'), LOSS.mse_backward, { n, stride, chunk: 0, parts: 0, label: 0 }, { a, b, mse_dout: dOut, mse_grad: da }, [wx, wy]);
}

/** out[0] = mean over n of max(z,0) - z*t + log(1 + exp(-|z|)), t the constant target label. */
export function bceWithLogits(g: Gpu, logits: GPUBuffer, target: number, out: GPUBuffer, n: number): void {
  meanOf(g, 'bceWithLogits', [logits], out, n, target);
}

/** dz = dOut[0] * (sigmoid(z) - t) / n */
export function bceWithLogitsBackward(g: Gpu, logits: GPUBuffer, target: number, dOut: GPUBuffer, dz: GPUBuffer, n: number): void {
  checkVec4('bceWithLogitsBackward', n, logits, dz);
  const { wx, wy, stride } = grid(g, Math.ceil(n / 4), WG);
  run(g, pipe(g, 'bce_backward'), LOSS.bce_backward, { n, stride, chunk: 0, parts: 0, label: target }, { a: logits, bce_dout: dOut, bce_grad: dz }, [wx, wy]);
}
