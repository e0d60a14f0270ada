// Channel slices of NHWC tensors (shaders/concat_channels.wgsl): the concatenation along channels and
// its gradient, as slice copies.
import type { Gpu } from '../gpu/gpu.js';
import { kernelSpec, pipelineOf, struct, run, grid } from './spec.js';

const WG = 64;
const PARAMS = struct('Params', { count: 'u32', stride: 'u32', Cs: 'u32', Cd: 'u32', off: 'u32' });
export const CONCAT_CHANNELS = kernelSpec('concat_channels', {
  pack: { params: PARAMS, buffers: { src: 'read', dst: 'read_write' } },
  unpack: { params: PARAMS, buffers: { src: 'read', dst: 'read_write' } },
});

function launch(g: Gpu, entry: 'pack' | 'unpack', src: GPUBuffer, dst: GPUBuffer, P: number, Cs: number, Cd: number, off: number): void {
  if (![P, Cs, Cd].every((v) => Number.isInteger(v) && v >= 1) || !Number.isInteger(off) || off < 0 || off + Cs > Cd) {
    throw new Error(`channel ${entry}: bad slice [${off}, ${off + Cs}) of ${Cd} channels over ${P} pixels`);
  }
  const [small, whole] = entry === 'pack' ? [src, dst] : [dst, src];
  if (small.size < P * Cs * 4 || whole.size < P * Cd * 4) throw new Error(`channel ${entry}: buffers too small for ${P} pixels of ${Cs} / ${Cd} channels`);
  const count = P * Cs;
  const { wx, wy, stride } = grid(g, count, WG);
  const pipe = pipelineOf(g, CONCAT_CHANNELS[entry]);
  run(g, pipe, CONCAT_CHANNELS[entry], { count, stride, Cs, Cd, off }, { src, dst }, [wx, wy]);
}

/** Channels [off, off + Cs) of y [P, Cd] from x [P, Cs]. */
export function channelPack(g: Gpu, x: GPUBuffer, y: GPUBuffer, P: number, Cs: number, Cd: number, off: number): void {
  launch(g, 'pack', x, y, P, Cs, Cd, off);
}

/** x [P, Cs] from channels [off, off + Cs) of y [P, Cd]. */
export function channelUnpack(g: Gpu, y: GPUBuffer, x: GPUBuffer, P: number, Cs: number, Cd: number, off: number): void {
  launch(g, 'unpack', y, x, P, Cs, Cd, off);
}
