// Spreads a 1-element GPU scalar over a tensor (the backward of a full reduction).
import type { Gpu } from '../gpu/gpu.js';
import { shaderSource, uniforms, groups } from './shader.js';

const WG = 256;

export function broadcastScalar(g: Gpu, s: GPUBuffer, out: GPUBuffer, n: number, factor = 1): void {
  const total = groups(n, WG);
  const x = Math.min(total, 65535);
  const y = Math.ceil(total / x);
  g.dispatch(g.pipeline('broadcast', shaderSource('broadcast')), uniforms([n, x * WG, { f: factor }, 0]), [s, out], [x, y]);
}
