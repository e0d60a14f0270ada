// Pixel shuffle (shaders/pixel_shuffle.wgsl): NHWC [N, H, W, Cin] <-> [N, H*r, W*r, Cin/(r*r)],
// PyTorch's PixelShuffle channel order.
import type { Gpu } from '../gpu/gpu.js';
import { shaderSource, uniforms } from './shader.js';
import { grid, checkNoAlias } from './elementwise.js';

const WG = 64;

function launch(g: Gpu, src: GPUBuffer, dst: GPUBuffer, N: number, H: number, W: number, Cin: number, r: number, backward: number): void {
  const op = backward ? 'pixelShuffleBackward' : 'pixelShuffle';
  if (![N, H, W, Cin, r].every((v) => Number.isInteger(v) && v >= 1)) throw new Error(`${op}: bad shape ${[N, H, W, Cin, r]}`);
  if (Cin % (r * r) !== 0) throw new Error(`${op}: ${Cin} channels are not a multiple of r*r = ${r * r}`);
  checkNoAlias(op, [dst], [src]);
  const count = N * H * W * Cin;
  if (src.size < count * 4 || dst.size < count * 4) throw new Error(`${op}: buffers too small for ${count} floats`);
  // Four output channels per invocation when they divide (see shaders/pixel_shuffle.wgsl).
  const vec = (Cin / (r * r)) % 4 === 0;
  const invocations = vec ? count / (4 * r * r) : count;
  const entry = vec ? (backward ? 'unshuffle4' : 'shuffle4') : 'main';
  const { wx, wy, stride } = grid(invocations, WG);
  g.dispatch(g.pipeline(`pixel_shuffle.${entry}`, shaderSource('pixel_shuffle'), {}, entry),
    uniforms([invocations, stride, H, W, Cin, r, backward]), [src, dst], [wx, wy]);
}

/** y [N, H*r, W*r, Cin/(r*r)] from x [N, H, W, Cin]. */
export function pixelShuffle(g: Gpu, x: GPUBuffer, y: GPUBuffer, N: number, H: number, W: number, Cin: number, r: number): void {
  launch(g, x, y, N, H, W, Cin, r, 0);
}

/** dx [N, H, W, Cin] from dy [N, H*r, W*r, Cin/(r*r)] (the inverse permutation). */
export function pixelShuffleBackward(g: Gpu, dy: GPUBuffer, dx: GPUBuffer, N: number, H: number, W: number, Cin: number, r: number): void {
  launch(g, dy, dx, N, H, W, Cin, r, 1);
}
