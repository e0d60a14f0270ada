// Pixel shuffle (shaders/pixel_shuffle.wgsl): NHWC [N, H, W, Cin] <-> [N, H*r, W*r, Cin/(r*r)],
// PyTorch's PixelShuffle channel order.
import type { Gpu } from '../gpu/gpu.js';
import { kernelSpec, pipelineOf, struct, run, grid } from './spec.js';

const WG = 64;

const PARAMS = struct('Params', { count: 'u32', stride: 'u32', H: 'u32', W: 'u32', Cin: 'u32', r: 'u32', backward: 'u32' });
export const PIXEL_SHUFFLE = kernelSpec('pixel_shuffle', {
  main: { params: PARAMS, buffers: { src: 'read', dst: 'read_write' } },
  shuffle4: { params: PARAMS, buffers: { src: 'read', dst4: 'read_write' } },
  unshuffle4: { params: PARAMS, buffers: { src4: 'read', dst: 'read_write' } },
});

function launch(g: Gpu, src: GPUBuffer, dst: GPUBuffer, N: number, H: number, W: number, Cin: number, r: number, backward: number): void {
  const op = backward ? 'pixelShuffleBackward' : 'pixelShuffle';
  if (![N, H, W, Cin, r].every((v) => Number.isInteger(v) && v >= 1)) throw new Error(`${op}: bad shape ${[N, H, W, Cin, r]}`);
  if (Cin % (r * r) !== 0) throw new Error(`${op}: ${Cin} channels are not a multiple of r*r = ${r * r}`);
  const count = N * H * W * Cin;
  if (src.size < count * 4 || dst.size < count * 4) throw new Error(`${op}: buffers too small for ${count} floats`);
  // Four output channels per invocation when they divide (see shaders/pixel_shuffle.wgsl).
  const vec = (Cin / (r * r)) % 4 === 0;
  const invocations = vec ? count / (4 * r * r) : count;
  const entry = vec ? (backward ? 'unshuffle4' : 'shuffle4') : 'main';
  const { wx, wy, stride } = grid(g, invocations, WG);
  const pipe = pipelineOf(g, PIXEL_SHUFFLE[entry]);
  const params = { count: invocations, stride, H, W, Cin, r, backward };
  if (entry === 'shuffle4') run(g, pipe, PIXEL_SHUFFLE.shuffle4, params, { src, dst4: dst }, [wx, wy]);
  else if (entry === 'unshuffle4') run(g, pipe, PIXEL_SHUFFLE.unshuffle4, params, { src4: src, dst }, [wx, wy]);
  else run(g, pipe, PIXEL_SHUFFLE.main, params, { src, dst }, [wx, wy]);
}

/** y [N, H*r, W*r, Cin/(r*r)] from x [N, H, W, Cin]. */
export function pixelShuffle(g: Gpu, x: GPUBuffer, y: GPUBuffer, N: number, H: number, W: number, Cin: number, r: number): void {
  launch(g, x, y, N, H, W, Cin, r, 0);
}

/** dx [N, H, W, Cin] from dy [N, H*r, W*r, Cin/(r*r)] (the inverse permutation). */
export function pixelShuffleBackward(g: Gpu, dy: GPUBuffer, dx: GPUBuffer, N: number, H: number, W: number, Cin: number, r: number): void {
  launch(g, dy, dx, N, H, W, Cin, r, 1);
}
