// Nearest-neighbour upsampling by 2 (shaders/upsample.wgsl): NHWC [N, H, W, C] <-> [N, 2H, 2W, C].
import type { Gpu } from '../gpu/gpu.js';
import { kernelSpec, pipelineOf, struct, run, grid } from './spec.js';

const WG = 64;

const PARAMS = struct('Params', { count: 'u32', stride: 'u32', W: 'u32', C4: 'u32' });
export const UPSAMPLE = kernelSpec('upsample', {
  up4: { params: PARAMS, buffers: { src4: 'read', dst4: 'read_write' } },
  down4: { params: PARAMS, buffers: { src4: 'read', dst4: 'read_write' } },
  up1: { params: PARAMS, buffers: { src: 'read', dst: 'read_write' } },
  down1: { params: PARAMS, buffers: { src: 'read', dst: 'read_write' } },
});

function launch(g: Gpu, src: GPUBuffer, dst: GPUBuffer, N: number, H: number, W: number, C: number, backward: boolean): void {
  const op = backward ? 'upsampleNearest2Backward' : 'upsampleNearest2';
  if (![N, H, W, C].every((v) => Number.isInteger(v) && v >= 1)) throw new Error(`${op}: bad shape ${[N, H, W, C]}`);
  const count = N * H * W * C;
  const [small, big] = backward ? [dst, src] : [src, dst];
  if (small.size < count * 4 || big.size < 4 * count * 4) throw new Error(`${op}: buffers too small for [${N}, ${H}, ${W}, ${C}] and its x2 upsampling`);
  // a vec4 of channels per invocation when they divide: a quarter of the invocations and index divisions
  const vec = C % 4 === 0;
  const C4 = vec ? C / 4 : C;
  const entry = `${backward ? 'down' : 'up'}${vec ? 4 : 1}` as 'up4' | 'down4' | 'up1' | 'down1';
  const invocations = N * H * W * C4;
  const { wx, wy, stride } = grid(g, invocations, WG);
  const pipe = pipelineOf(g, UPSAMPLE[entry]);
  const params = { count: invocations, stride, W, C4 };
  if (vec) run(g, pipe, UPSAMPLE[entry as 'up4' | 'down4'], params, { src4: src, dst4: dst }, [wx, wy]);
  else run(g, pipe, UPSAMPLE[entry as 'up1' | 'down1'], params, { src, dst }, [wx, wy]);
}

/** y [N, 2H, 2W, C] from x [N, H, W, C]: each pixel repeated over a 2x2 block. */
export function upsampleNearest2(g: Gpu, x: GPUBuffer, y: GPUBuffer, N: number, H: number, W: number, C: number): void {
  launch(g, x, y, N, H, W, C, false);
}

/** dx [N, H, W, C] from dy [N, 2H, 2W, C]: the sum over each 2x2 block. */
export function upsampleNearest2Backward(g: Gpu, dy: GPUBuffer, dx: GPUBuffer, N: number, H: number, W: number, C: number): void {
  launch(g, dy, dx, N, H, W, C, true);
}

const BILINEAR_PARAMS = struct('Params', { count: 'u32', stride: 'u32', H: 'u32', W: 'u32', C: 'u32', s: 'u32', a: 'f32', b: 'f32' });
export const UPSAMPLE_BILINEAR = kernelSpec('upsample_bilinear', {
  bilinear: { params: BILINEAR_PARAMS, buffers: { src: 'read', dst: 'read_write' } },
  nearest: { params: BILINEAR_PARAMS, buffers: { src: 'read', dst: 'read_write' } },
});

/**
 * y [N, sH, sW, C] from x [N, H, W, C]: bilinear upsampling by the integer s, PyTorch's
 * align_corners=False sampling with edge pixels repeated, then a * that + b (shaders/upsample_bilinear.wgsl).
 */
export function upsampleBilinear(g: Gpu, x: GPUBuffer, y: GPUBuffer, N: number, H: number, W: number, C: number, s: number, a = 1, b = 0, mode: 'bilinear' | 'nearest' = 'bilinear'): void {
  if (![N, H, W, C, s].every((v) => Number.isInteger(v) && v >= 1)) throw new Error(`upsampleBilinear: bad shape ${[N, H, W, C]} or factor ${s}`);
  const count = N * H * W * C * s * s;
  if (x.size < (count / (s * s)) * 4 || y.size < count * 4) throw new Error(`upsampleBilinear: buffers too small for [${N}, ${H}, ${W}, ${C}] and its x${s} upsampling`);
  const { wx, wy, stride } = grid(g, count, WG);
  const pipe = pipelineOf(g, UPSAMPLE_BILINEAR[mode]);
  run(g, pipe, UPSAMPLE_BILINEAR[mode], { count, stride, H, W, C, s, a, b }, { src: x, dst: y }, [wx, wy]);
}
