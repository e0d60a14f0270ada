// Sums in a fixed order (deterministic: no atomics), as two passes of one column-sum kernel:
// partial sums over chunks of rows, then the partials summed in order. See shaders/reduce.wgsl.
import type { Gpu } from '../gpu/gpu.js';
import { kernelSpec, pipelineOf, struct, run, grid } from './spec.js';

const WG = 64;

export const REDUCE = kernelSpec('reduce', {
  column_sums: { params: struct('Params', { n: 'u32', C: 'u32', R: 'u32', outs: 'u32', rowStride: 'u32', scale: 'f32' }), buffers: { x: 'read', out: 'read_write' } },
});
/** sumAll: inputs up to this size are summed by one invocation in one pass. */
const SINGLE_PASS_ALL = 4096;
/** sumAll: number of strided partials (pass 1) at most. */
const MAX_PARTIALS = 4096;
/** columnSums: rows per chunk at least, and a target number of partial sums. */
const MIN_ROWS_PER_CHUNK = 64;
const TARGET_PARTIALS = 16384;

/** out[p*C + c] = scale * sum_{m in [p*R, (p+1)*R), m*C+c < n} x[m*C + c], for p*C + c < outs. */
function columnSumsPass(g: Gpu, x: GPUBuffer, out: GPUBuffer, n: number, C: number, R: number, outs: number, scale = 1): void {
  const { wx, wy, stride } = grid(g, outs, WG);
  run(g, pipelineOf(g, REDUCE.column_sums, { WG }), REDUCE.column_sums,
    { n, C, R, outs, rowStride: stride, scale }, { x, out }, [wx, wy]);
}

function checkArgs(name: string, x: GPUBuffer, out: GPUBuffer, dims: number[]): void {
  if (x === out) throw new Error(`${name}: x and out must be different buffers`);
  if (!dims.every((d) => Number.isInteger(d) && d > 0)) throw new Error(`${name}: bad size ${dims.join('x')}`);
}

/** out[0] = scale * sum(x[0..n)). */
export function sumAll(g: Gpu, x: GPUBuffer, out: GPUBuffer, n: number, scale = 1): void {
  checkArgs('sumAll', x, out, [n]);
  if (n <= SINGLE_PASS_ALL) {
    columnSumsPass(g, x, out, n, 1, n, 1, scale);
    return;
  }
  // x as rows of T columns: T strided partials, then their sum in order.
  const T = Math.min(MAX_PARTIALS, Math.ceil(n / 64 / WG) * WG);
  const part = g.pool.acquire(T * 4, 'sumAll.partials');
  columnSumsPass(g, x, part, n, T, Math.ceil(n / T), T);
  columnSumsPass(g, part, out, T, 1, T, 1, scale);
  g.pool.release(part);
}

/** out[c] = sum_m x[m*C + c] for x [M, C] (bias gradients). */
export function columnSums(g: Gpu, x: GPUBuffer, out: GPUBuffer, M: number, C: number): void {
  checkArgs('columnSums', x, out, [M, C]);
  let P = Math.min(Math.floor(M / MIN_ROWS_PER_CHUNK), Math.ceil(TARGET_PARTIALS / C));
  if (P <= 1) {
    columnSumsPass(g, x, out, M * C, C, M, C);
    return;
  }
  const R = Math.ceil(M / P);
  P = Math.ceil(M / R);
  const part = g.pool.acquire(P * C * 4, 'columnSums.partials');
  columnSumsPass(g, x, part, M * C, C, R, P * C);
  columnSumsPass(g, part, out, P * C, C, P, C);
  g.pool.release(part);
}
