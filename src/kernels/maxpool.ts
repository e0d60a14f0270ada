// 2x2 / stride 2 max pooling (shaders/maxpool.wgsl), NHWC, floor for odd sizes (PyTorch MaxPool2d(2)).
import type { Gpu } from '../gpu/gpu.js';
import { kernelSpec, pipelineOf, struct, run, grid, type BuffersOf, type EntrySpec } from './spec.js';

const WG = 64;

const PARAMS = struct('Params', { count: 'u32', stride: 'u32', H: 'u32', W: 'u32', Cv: 'u32' });
export const MAXPOOL = kernelSpec('maxpool', {
  forward: { params: PARAMS, buffers: { x: 'read', y: 'read_write' } },
  forward4: { params: PARAMS, buffers: { x4: 'read', y4: 'read_write' } },
  backward: { params: PARAMS, buffers: { x: 'read', dy: 'read', dx: 'read_write' } },
  backward4: { params: PARAMS, buffers: { x4: 'read', dy4: 'read', dx4: 'read_write' } },
});

/** `bufs` by the scalar entry's binding names (checked at compile time); the vec4 entry's names end in 4. */
function launch<E extends 'forward' | 'backward'>(g: Gpu, op: string, entry: E, N: number, H: number, W: number, C: number,
  windowsH: number, windowsW: number, bufs: BuffersOf<typeof MAXPOOL[E]>, counts: Record<keyof typeof bufs, number>): void {
  if (![N, H, W, C].every((v) => Number.isInteger(v) && v >= 1)) throw new Error(`${op}: bad shape ${[N, H, W, C]}`);
  const need = counts as Record<string, number>;
  for (const [k, b] of Object.entries<GPUBuffer | undefined>(bufs)) {
    if (!b || b.size < need[k] * 4) throw new Error(`${op}: ${k} too small for ${need[k]} floats`);
  }
  // Four channels per invocation when they fit (vec4 loads along the innermost dimension).
  const vec = C % 4 === 0;
  const Cv = vec ? C / 4 : C;
  const count = N * windowsH * windowsW * Cv;
  const { wx, wy, stride } = grid(g, count, WG);
  const name = vec ? (`${entry}4` as const) : entry;
  const spec: EntrySpec = MAXPOOL[name];
  run(g, pipelineOf(g, spec), spec, { count, stride, H, W, Cv },
    vec ? Object.fromEntries(Object.entries(bufs).map(([k, b]) => [`${k}4`, b])) : bufs, [wx, wy]);
}

/** y [N, floor(H/2), floor(W/2), C] = max over each 2x2 window of x [N, H, W, C]. */
export function maxPool2(g: Gpu, x: GPUBuffer, y: GPUBuffer, N: number, H: number, W: number, C: number): void {
  const Ho = Math.floor(H / 2), Wo = Math.floor(W / 2);
  launch(g, 'maxPool2', 'forward', N, H, W, C, Ho, Wo, { x, y }, { x: N * H * W * C, y: N * Ho * Wo * C });
}

/** dx [N, H, W, C]: dy at the first maximum of each window (row-major order), 0 elsewhere. */
export function maxPool2Backward(g: Gpu, x: GPUBuffer, dy: GPUBuffer, dx: GPUBuffer, N: number, H: number, W: number, C: number): void {
  const Ho = Math.floor(H / 2), Wo = Math.floor(W / 2);
  launch(g, 'maxPool2Backward', 'backward', N, H, W, C, Math.ceil(H / 2), Math.ceil(W / 2), { x, dy, dx },
    { x: N * H * W * C, dy: N * Ho * Wo * C, dx: N * H * W * C });
}
