// 2x2 / stride 2 max pooling (shaders/maxpool.wgsl), NHWC, floor for odd sizes (PyTorch MaxPool2d(2)).
import type { Gpu } from '../gpu/gpu.js';
import { shaderSource, uniforms } from './shader.js';
import { grid, checkNoAlias } from './elementwise.js';

const WG = 64;

function launch(g: Gpu, op: string, entry: string, N: number, H: number, W: number, C: number,
  windowsH: number, windowsW: number, bufs: GPUBuffer[], counts: number[]): void {
  if (![N, H, W, C].every((v) => Number.isInteger(v) && v >= 1)) throw new Error(`${op}: bad shape ${[N, H, W, C]}`);
  checkNoAlias(op, bufs.slice(-1), bufs.slice(0, -1));
  bufs.forEach((b, i) => {
    if (b.size < counts[i] * 4) throw new Error(`${op}: buffer ${i} too small for ${counts[i]} floats`);
  });
  // Four channels per invocation when they fit (vec4 loads along the innermost dimension).
  const vec = C % 4 === 0 ? 4 : 1;
  const Cv = C / vec;
  const { wx, wy, stride } = grid(N * windowsH * windowsW * Cv, WG);
  const name = vec === 4 ? `${entry}4` : entry;
  g.dispatch(g.pipeline(`maxpool.${name}`, shaderSource('maxpool'), {}, name),
    uniforms([N * windowsH * windowsW * Cv, stride, H, W, Cv]), bufs, [wx, wy]);
}

/** y [N, floor(H/2), floor(W/2), C] = max over each 2x2 window of x [N, H, W, C]. */
export function maxPool2(g: Gpu, x: GPUBuffer, y: GPUBuffer, N: number, H: number, W: number, C: number): void {
  const Ho = Math.floor(H / 2), Wo = Math.floor(W / 2);
  launch(g, 'maxPool2', 'forward', N, H, W, C, Ho, Wo, [x, y], [N * H * W * C, N * Ho * Wo * C]);
}

/** dx [N, H, W, C]: dy at the first maximum of each window (row-major order), 0 elsewhere. */
export function maxPool2Backward(g: Gpu, x: GPUBuffer, dy: GPUBuffer, dx: GPUBuffer, N: number, H: number, W: number, C: number): void {
  const Ho = Math.floor(H / 2), Wo = Math.floor(W / 2);
  launch(g, 'maxPool2Backward', 'backward', N, H, W, C, Math.ceil(H / 2), Math.ceil(W / 2), [x, dy, dx],
    [N * H * W * C, N * Ho * Wo * C, N * H * W * C]);
}
