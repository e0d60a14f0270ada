// Elementwise kernels (shaders/elementwise.wgsl): flat float32 tensors of n elements.
import type { Gpu } from '../gpu/gpu.js';
import { shaderSource, uniforms } from './shader.js';

const WG = 256;

/**
 * A 1-D launch of `count` invocations as a 2-D grid of `wg`-wide workgroups (WebGPU allows at
 * most 65535 per dimension). Kernels index `id.x + id.y * stride`.
 */
export function grid(count: number, wg: number): { wx: number; wy: number; stride: number } {
  const total = Math.ceil(count / wg);
  const wx = Math.max(1, Math.min(total, 65535));
  return { wx, wy: total === 0 ? 0 : Math.ceil(total / wx), stride: wx * wg };
}

/**
 * The vec4 kernels read whole vec4s, so a buffer holding n floats must span ceil(n/4) vec4s.
 * Pool buffers always do (their sizes are multiples of 256 bytes); anything else is caught here.
 */
export function checkVec4(kernel: string, n: number, ...bufs: GPUBuffer[]): void {
  if (!Number.isInteger(n) || n < 0) throw new Error(`${kernel}: bad element count ${n}`);
  const need = Math.ceil(n / 4) * 16;
  for (const b of bufs) {
    if (b.size < need) throw new Error(`${kernel}: buffer of ${b.size} bytes is too small for ${n} floats (${need} bytes as vec4)`);
  }
}

/**
 * A buffer written by a dispatch may not be bound again in it (WebGPU forbids read + write use
 * of one buffer in one dispatch): catch it here with a clear message rather than as an
 * asynchronous validation error. Read-only inputs may repeat (add(x, x, out) is fine).
 */
export function checkNoAlias(kernel: string, written: GPUBuffer[], read: GPUBuffer[]): void {
  const all = [...written, ...read];
  for (const w of written) {
    if (all.indexOf(w) !== all.lastIndexOf(w)) throw new Error(`${kernel}: an output buffer is also bound as another argument (no in-place use)`);
  }
}

function launch(g: Gpu, entry: string, n: number, alpha: number, beta: number, op: number, bufs: GPUBuffer[]): void {
  checkVec4(`elementwise.${entry}`, n, ...bufs);
  // the output is the last buffer, except for accumulate (acc, x) where it is the first
  const out = entry === 'accumulate' ? 0 : bufs.length - 1;
  checkNoAlias(`elementwise.${entry}`, [bufs[out]], bufs.filter((_, i) => i !== out));
  const { wx, wy, stride } = grid(Math.ceil(n / 4), WG);
  g.dispatch(g.pipeline(`elementwise.${entry}`, shaderSource('elementwise'), {}, entry),
    uniforms([n, stride, { f: alpha }, { f: beta }, op]), bufs, [wx, wy]);
}

/** out = a + b */
export function add(g: Gpu, a: GPUBuffer, b: GPUBuffer, out: GPUBuffer, n: number): void {
  launch(g, 'binary', n, 1, 1, 0, [a, b, out]);
}

/** out = alpha*a + beta*b */
export function addScaled(g: Gpu, a: GPUBuffer, b: GPUBuffer, out: GPUBuffer, n: number, alpha: number, beta: number): void {
  launch(g, 'binary', n, alpha, beta, 0, [a, b, out]);
}

/** out = a * b */
export function mul(g: Gpu, a: GPUBuffer, b: GPUBuffer, out: GPUBuffer, n: number): void {
  launch(g, 'binary', n, 0, 0, 1, [a, b, out]);
}

/** out = s * a */
export function scale(g: Gpu, a: GPUBuffer, out: GPUBuffer, n: number, s: number): void {
  launch(g, 'scale', n, s, 0, 0, [a, out]);
}

/** out[0..n) = value */
export function fill(g: Gpu, out: GPUBuffer, n: number, value: number): void {
  launch(g, 'fill', n, value, 0, 0, [out]);
}

/** dst[0..n) = src[0..n): a queue-ordered buffer copy, no kernel needed. */
export function copy(g: Gpu, src: GPUBuffer, dst: GPUBuffer, n: number): void {
  if (src === dst) throw new Error('copy: source and destination are the same buffer');
  if (src.size < n * 4 || dst.size < n * 4) throw new Error(`copy: buffers too small for ${n} floats`);
  g.copy(src, 0, dst, 0, n * 4);
}

/** acc += x (acc is bound once, read_write). */
export function accumulate(g: Gpu, acc: GPUBuffer, x: GPUBuffer, n: number): void {
  launch(g, 'accumulate', n, 0, 0, 0, [acc, x]);
}
