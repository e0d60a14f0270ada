// Fused Adam update (shaders/adam.wgsl), PyTorch semantics: bias-corrected, no weight decay.
import type { Gpu } from '../gpu/gpu.js';
import { kernelSpec, pipelineOf, struct, run, grid, checkVec4 } from './spec.js';

const WG = 256;

export const ADAM = kernelSpec('adam', {
  main: {
    params: struct('Params', { n: 'u32', stride: 'u32', oneMinusBeta1: 'f32', beta2: 'f32', oneMinusBeta2: 'f32', stepSize: 'f32', sqrtBc2: 'f32', eps: 'f32' }),
    buffers: { param: 'read_write', grad: 'read', m: 'read_write', v: 'read_write' },
  },
});

export interface AdamStepOptions { lr: number; beta1: number; beta2: number; eps: number; step: number /* 1-based */ }

/** One Adam step in place on param, m and v (n elements each), from grad. */
export function adamStep(g: Gpu, param: GPUBuffer, grad: GPUBuffer, m: GPUBuffer, v: GPUBuffer, n: number,
  opts: AdamStepOptions): void {
  const { lr, beta1, beta2, eps, step } = opts;
  if (!Number.isInteger(step) || step < 1) throw new Error(`adamStep: step must be a 1-based integer, got ${step}`);
  if (new Set([param, grad, m, v]).size !== 4) throw new Error('adamStep: param, grad, m and v must be four different buffers');
  checkVec4('adamStep', n, param, grad, m, v);
  // The bias corrections in float64 on the host: 1 - 0.999^t loses digits in float32 at small t.
  const bc1 = 1 - beta1 ** step;
  const bc2 = 1 - beta2 ** step;
  const { wx, wy, stride } = grid(g, Math.ceil(n / 4), WG);
  run(g, pipelineOf(g, ADAM.main), ADAM.main,
    { n, stride, oneMinusBeta1: 1 - beta1, beta2, oneMinusBeta2: 1 - beta2, stepSize: lr / bc1, sqrtBc2: Math.sqrt(bc2), eps },
    { param, grad, m, v }, [wx, wy]);
}
