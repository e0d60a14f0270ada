// Batch norm 2d launchers: x NHWC viewed as [M = N*H*W, C], statistics per channel.
// partials over row chunks -> per-channel finalize -> one fused apply (shaders/batchnorm.wgsl);
// vec4 variants of the partial and apply passes when C is a multiple of 4.
import type { Gpu } from '../gpu/gpu.js';
import { kernelSpec, pipelineOf, struct, run as launch, grid, type BuffersOf, type EntrySpec } from './spec.js';

const WG = 64;
/** Rows per chunk at least, and the number of (chunk, channel) partials aimed at. */
const MIN_ROWS_PER_CHUNK = 32;
const TARGET_PARTIALS = 16384;
/** Rows per invocation in the apply passes. */
const APPLY_ROWS = 8;

interface Plan { R: number; P: number }

/** Row chunks for the partial pass: enough partials to fill the device, chunks not too short. */
function plan(M: number, C: number): Plan {
  const P0 = Math.max(1, Math.min(Math.floor(M / MIN_ROWS_PER_CHUNK), Math.ceil(TARGET_PARTIALS / C)));
  const R = Math.ceil(M / P0);
  return { R, P: Math.ceil(M / R) };
}

interface Shape { M: number; C: number; R: number; P: number; momentum?: number; eps?: number }

const PARAMS = struct('Params', { M: 'u32', C: 'u32', R: 'u32', P: 'u32', rowStride: 'u32', momentum: 'f32', eps: 'f32', rowsPerInv: 'u32' });
export const BATCHNORM = kernelSpec('batchnorm', {
  stats_partial: { params: PARAMS, buffers: { x: 'read', part: 'read_write' } },
  stats_partial4: { params: PARAMS, buffers: { x4: 'read', part4: 'read_write' } },
  backward_partial: { params: PARAMS, buffers: { xb: 'read', dyb: 'read', meanb: 'read', partb: 'read_write' } },
  backward_partial4: { params: PARAMS, buffers: { xb4: 'read', dyb4: 'read', meanb: 'read', partb4: 'read_write' } },
  train_finalize: {
    params: PARAMS,
    buffers: { partT: 'read', gammaT: 'read', betaT: 'read', saveMean: 'read_write', saveInvStd: 'read_write', runMean: 'read_write', runVar: 'read_write', coefT: 'read_write' },
  },
  infer_finalize: { params: PARAMS, buffers: { gammaI: 'read', betaI: 'read', runMeanI: 'read', runVarI: 'read', coefI: 'read_write' } },
  backward_finalize: {
    params: PARAMS,
    buffers: { partB: 'read', gammaB: 'read', meanB: 'read', invStdB: 'read', dgamma: 'read_write', dbeta: 'read_write', coefB: 'read_write' },
  },
  apply: { params: PARAMS, buffers: { xa: 'read', coefA: 'read', ya: 'read_write' } },
  apply4: { params: PARAMS, buffers: { xa4: 'read', coefA: 'read', ya4: 'read_write' } },
  apply_backward: { params: PARAMS, buffers: { xd: 'read', dyd: 'read', coefD: 'read', dxd: 'read_write' } },
  apply_backward4: { params: PARAMS, buffers: { xd4: 'read', dyd4: 'read', coefD: 'read', dxd4: 'read_write' } },
});
type Entry = keyof typeof BATCHNORM;

/** One pass of `invocations` invocations, buffers by binding name (see BATCHNORM). */
function run<E extends Entry>(g: Gpu, entry: E, s: Shape, buffers: BuffersOf<typeof BATCHNORM[E]>, invocations: number): void {
  const spec: EntrySpec = BATCHNORM[entry];
  const { wx, wy, stride } = grid(g, invocations, WG);
  launch(g, pipelineOf(g, spec, { WG }), spec,
    { M: s.M, C: s.C, R: s.R, P: s.P, rowStride: stride, momentum: s.momentum ?? 0, eps: s.eps ?? 0, rowsPerInv: APPLY_ROWS },
    buffers, [wx, wy]);
}

/** y = x * coef[c] + coef[C + c] (the fused apply of both forwards). */
function apply(g: Gpu, s: Shape, x: GPUBuffer, coef: GPUBuffer, y: GPUBuffer): void {
  const n = applyInvocations(s.M, s.C);
  if (s.C % 4 === 0) run(g, 'apply4', s, { xa4: x, coefA: coef, ya4: y }, n);
  else run(g, 'apply', s, { xa: x, coefA: coef, ya: y }, n);
}

function check(name: string, M: number, C: number, buffers: GPUBuffer[]): void {
  if (!(Number.isInteger(M) && Number.isInteger(C) && M > 0 && C > 0)) throw new Error(`${name}: bad shape M=${M} C=${C}`);
  if (new Set(buffers).size !== buffers.length) throw new Error(`${name}: every buffer argument must be a different buffer`);
}

const applyInvocations = (M: number, C: number) => Math.ceil(C / 4) * Math.ceil(M / APPLY_ROWS);

/**
 * Training-mode forward. Normalises with the batch mean and biased variance; saveMean and
 * saveInvStd = 1/sqrt(var + eps) are kept for the backward; running statistics follow PyTorch:
 * running = (1 - momentum) * running + momentum * stat, with the unbiased variance for runVar.
 */
export function batchNormTrain(g: Gpu, x: GPUBuffer, y: GPUBuffer, gamma: GPUBuffer, beta: GPUBuffer,
  saveMean: GPUBuffer, saveInvStd: GPUBuffer, runMean: GPUBuffer, runVar: GPUBuffer, M: number, C: number,
  opts: { momentum?: number; eps?: number } = {}): void {
  check('batchNormTrain', M, C, [x, y, gamma, beta, saveMean, saveInvStd, runMean, runVar]);
  if (M < 2) throw new Error('batchNormTrain: need more than one value per channel');
  const { momentum = 0.1, eps = 1e-5 } = opts;
  const { R, P } = plan(M, C);
  const part = g.pool.acquire((2 * P + 1) * C * 4, 'batchnorm.partials');
  const coef = g.pool.acquire(3 * C * 4, 'batchnorm.coef');
  const w = { M, C, R, P, momentum, eps };
  const v4 = C % 4 === 0;
  if (v4) run(g, 'stats_partial4', w, { x4: x, part4: part }, P * C / 4);
  else run(g, 'stats_partial', w, { x, part }, P * C);
  run(g, 'train_finalize', w, { partT: part, gammaT: gamma, betaT: beta, saveMean, saveInvStd, runMean, runVar, coefT: coef }, C);
  apply(g, w, x, coef, y);
  g.pool.release(part);
  g.pool.release(coef);
}

/** Inference-mode forward with the running statistics. */
export function batchNormInfer(g: Gpu, x: GPUBuffer, y: GPUBuffer, gamma: GPUBuffer, beta: GPUBuffer,
  runMean: GPUBuffer, runVar: GPUBuffer, M: number, C: number, eps = 1e-5): void {
  check('batchNormInfer', M, C, [x, y, gamma, beta, runMean, runVar]);
  const coef = g.pool.acquire(3 * C * 4, 'batchnorm.coef');
  const w = { M, C, R: M, P: 1, eps };
  run(g, 'infer_finalize', w, { gammaI: gamma, betaI: beta, runMeanI: runMean, runVarI: runVar, coefI: coef }, C);
  apply(g, w, x, coef, y);
  g.pool.release(coef);
}

/** Backward of batchNormTrain; overwrites dx, dgamma, dbeta. */
export function batchNormBackward(g: Gpu, x: GPUBuffer, dy: GPUBuffer, gamma: GPUBuffer, saveMean: GPUBuffer,
  saveInvStd: GPUBuffer, dx: GPUBuffer, dgamma: GPUBuffer, dbeta: GPUBuffer, M: number, C: number): void {
  check('batchNormBackward', M, C, [x, dy, gamma, saveMean, saveInvStd, dx, dgamma, dbeta]);
  const { R, P } = plan(M, C);
  const part = g.pool.acquire(2 * P * C * 4, 'batchnorm.partials');
  const coef = g.pool.acquire(4 * C * 4, 'batchnorm.coef');
  const w = { M, C, R, P };
  const v4 = C % 4 === 0;
  if (v4) run(g, 'backward_partial4', w, { xb4: x, dyb4: dy, meanb: saveMean, partb4: part }, P * C / 4);
  else run(g, 'backward_partial', w, { xb: x, dyb: dy, meanb: saveMean, partb: part }, P * C);
  run(g, 'backward_finalize', w, { partB: part, gammaB: gamma, meanB: saveMean, invStdB: saveInvStd, dgamma, dbeta, coefB: coef }, C);
  const n = applyInvocations(M, C);
  if (v4) run(g, 'apply_backward4', w, { xd4: x, dyd4: dy, coefD: coef, dxd4: dx }, n);
  else run(g, 'apply_backward', w, { xd: x, dyd: dy, coefD: coef, dxd: dx }, n);
  g.pool.release(part);
  g.pool.release(coef);
}
