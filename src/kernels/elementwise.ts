// Elementwise kernels (shaders/elementwise.wgsl): flat float32 tensors of n elements.
import type { Gpu } from '../gpu/gpu.js';
import { kernelSpec, pipelineOf, struct, run, grid, checkVec4, type BuffersOf, type EntrySpec } from './spec.js';

const WG = 256;

const PARAMS = struct('Params', { n: 'u32', stride: 'u32', alpha: 'f32', beta: 'f32', op: 'u32' });
export const ELEMENTWISE = kernelSpec('elementwise', {
  binary: { params: PARAMS, buffers: { a: 'read', b: 'read', result: 'read_write' } },
  scale: { params: PARAMS, buffers: { a: 'read', scaled: 'read_write' } },
  fill: { params: PARAMS, buffers: { dst: 'read_write' } },
  accumulate: { params: PARAMS, buffers: { dst: 'read_write', b: 'read' } },
});
type Entry = keyof typeof ELEMENTWISE;

function launch<E extends Entry>(g: Gpu, entry: E, n: number, alpha: number, beta: number, op: number, bufs: BuffersOf<typeof ELEMENTWISE[E]>): void {
  checkVec4(`elementwise.${entry}`, n, ...Object.values<GPUBuffer | undefined>(bufs).filter((b): b is GPUBuffer => !!b));
  const { wx, wy, stride } = grid(g, Math.ceil(n / 4), WG);
  const spec: EntrySpec = ELEMENTWISE[entry];
  run(g, pipelineOf(g, spec), spec, { n, stride, alpha, beta, op }, bufs, [wx, wy]);
}

/** out = a + b */
export function add(g: Gpu, a: GPUBuffer, b: GPUBuffer, out: GPUBuffer, n: number): void {
  launch(g, 'binary', n, 1, 1, 0, { a, b, result: out });
}

/** out = alpha*a + beta*b */
export function addScaled(g: Gpu, a: GPUBuffer, b: GPUBuffer, out: GPUBuffer, n: number, alpha: number, beta: number): void {
  launch(g, 'binary', n, alpha, beta, 0, { a, b, result: out });
}

/** out = a * b */
export function mul(g: Gpu, a: GPUBuffer, b: GPUBuffer, out: GPUBuffer, n: number): void {
  launch(g, 'binary', n, 0, 0, 1, { a, b, result: out });
}

/** out = s * a */
export function scale(g: Gpu, a: GPUBuffer, out: GPUBuffer, n: number, s: number): void {
  launch(g, 'scale', n, s, 0, 0, { a, scaled: out });
}

/** out[0..n) = value */
export function fill(g: Gpu, out: GPUBuffer, n: number, value: number): void {
  launch(g, 'fill', n, value, 0, 0, { dst: out });
}

/** dst[0..n) = src[0..n): a queue-ordered buffer copy, no kernel needed. */
export function copy(g: Gpu, src: GPUBuffer, dst: GPUBuffer, n: number): void {
  if (src === dst) throw new Error('copy: source and destination are the same buffer');
  if (src.size < n * 4 || dst.size < n * 4) throw new Error(`copy: buffers too small for ${n} floats`);
  g.copy(src, 0, dst, 0, n * 4);
}

/** acc += x (acc is bound once, read_write). */
export function accumulate(g: Gpu, acc: GPUBuffer, x: GPUBuffer, n: number): void {
  launch(g, 'accumulate', n, 0, 0, 0, { dst: acc, b: x });
}
