// Batch norm 2d launchers: x NHWC viewed as [M = N*H*W, C], statistics per channel.
// partials over row chunks -> per-channel finalize -> one fused apply (shaders/batchnorm.wgsl);
// vec4 variants of the partial and apply passes when C is a multiple of 4.
import type { Gpu } from '../gpu/gpu.js';
import { shaderSource, uniforms, groups } from './shader.js';

const WG = 64;
const MAX_WG = 65535;
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

function run(g: Gpu, entry: string, s: Shape, buffers: GPUBuffer[], invocations: number): void {
  const total = groups(invocations, WG);
  const gx = Math.min(total, MAX_WG);
  const gy = Math.ceil(total / gx);
  g.dispatch(g.pipeline('batchnorm', shaderSource('batchnorm'), { WG }, entry),
    uniforms([s.M, s.C, s.R, s.P, gx * WG, { f: s.momentum ?? 0 }, { f: s.eps ?? 0 }, APPLY_ROWS]), buffers, [gx, gy]);
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
  run(g, v4 ? 'stats_partial4' : 'stats_partial', w, [x, part], P * (v4 ? C / 4 : C));
  run(g, 'train_finalize', w, [part, gamma, beta, saveMean, saveInvStd, runMean, runVar, coef], C);
  run(g, v4 ? 'apply4' : 'apply', w, [x, coef, y], applyInvocations(M, C));
  g.pool.release(part);
  g.pool.release(coef);
}

/** Inference-mode forward with the running statistics. */
export function batchNormInfer(g: Gpu, x: GPUBuffer, y: GPUBuffer, gamma: GPUBuffer, beta: GPUBuffer,
  runMean: GPUBuffer, runVar: GPUBuffer, M: number, C: number, eps = 1e-5): void {
  check('batchNormInfer', M, C, [x, y, gamma, beta, runMean, runVar]);
  const coef = g.pool.acquire(3 * C * 4, 'batchnorm.coef');
  const w = { M, C, R: M, P: 1, eps };
  run(g, 'infer_finalize', w, [gamma, beta, runMean, runVar, coef], C);
  run(g, C % 4 === 0 ? 'apply4' : 'apply', w, [x, coef, y], applyInvocations(M, C));
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
  run(g, v4 ? 'backward_partial4' : 'backward_partial', w, [x, dy, saveMean, part], P * (v4 ? C / 4 : C));
  run(g, 'backward_finalize', w, [part, gamma, saveMean, saveInvStd, dgamma, dbeta, coef], C);
  run(g, v4 ? 'apply_backward4' : 'apply_backward', w, [x, dy, coef, dx], applyInvocations(M, C));
  g.pool.release(part);
  g.pool.release(coef);
}
