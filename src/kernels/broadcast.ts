// Spreads a 1-element GPU scalar over a tensor (the backward of a full reduction).
import type { Gpu } from '../gpu/gpu.js';
import { kernelSpec, pipelineOf, struct, run, grid } from './spec.js';

const WG = 256;

export const BROADCAST = kernelSpec('broadcast', {
  main: { params: struct('Params', { n: 'u32', rowStride: 'u32', factor: 'f32', _pad: 'u32' }), buffers: { s: 'read', out: 'read_write' } },
});

/** out[0..n) = factor * s[0]. */
export function broadcastScalar(g: Gpu, s: GPUBuffer, out: GPUBuffer, n: number, factor = 1): void {
  const { wx, wy, stride } = grid(g, n, WG);
  run(g, pipelineOf(g, BROADCAST.main), BROADCAST.main, { n, rowStride: stride, factor, _pad: 0 }, { s, out }, [wx, wy]);
}
