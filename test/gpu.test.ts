// The runtime: errors that name the kernel, the pool, batching, and a process that exits by itself.
import { describe, it, expect, beforeAll } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { testGpu, upload, download } from './helpers.js';
import { BufferPool, type Gpu } from '../src/gpu/gpu.js';
import { shaderSource } from '../src/kernels/shader.js';
import { packParams, pipelineOf } from '../src/kernels/spec.js';
import { BROADCAST } from '../src/kernels/broadcast.js';
import { fill } from '../src/kernels/elementwise.js';
import { matmul } from '../src/kernels/matmul.js';

let g: Gpu;
beforeAll(async () => { g = await testGpu(); });

describe('GPU runtime', () => {
  it('reports the adapter and the limits it requested', () => {
    expect(g.describe().length).toBeGreaterThan(3);
    expect(g.info.limits.maxStorageBufferBindingSize).toBeGreaterThanOrEqual(128 * 2 ** 20);
    expect(Number(g.limits.maxComputeInvocationsPerWorkgroup)).toBe(Number(g.adapter.limits.maxComputeInvocationsPerWorkgroup));
  });

  it('turns WGSL compile and pipeline errors into errors that name the kernel', async () => {
    await expect(g.pipelineChecked('broken_kernel', 'fn main( {')).rejects.toThrow(/broken_kernel.*failed to compile/);
    await expect(g.pipelineChecked('no_entry', '@compute @workgroup_size(1) fn main() {}', {}, 'other')).rejects.toThrow(/no_entry/);
  });

  it('refuses, naming the kernel, a tensor larger than the adapter can bind (not a validation error later)', async () => {
    const max = Number(g.limits.maxStorageBufferBindingSize);
    const big = g.pool.acquire(max + 4096);
    expect(() => fill(g, big, (max + 4096) / 4, 1)).toThrow(/kernel 'elementwise.fill'.*exceeds the adapter's storage binding limit/);
    g.pool.release(big);
    g.pool.trim();
    await g.sync();
  });

  it('compiles each shader + constants once, batches dispatches, and recycles buffers', async () => {
    const code = shaderSource('broadcast');
    const before = g.stats.pipelinesCompiled;
    const p1 = g.pipeline('broadcast', code);
    const p2 = g.pipeline('broadcast', code);
    expect(p1).toBe(p2);
    expect(g.stats.pipelinesCompiled - before).toBeLessThanOrEqual(1);
    const s = upload(g, [3]);
    const out = g.pool.acquire(4 * 1000);
    const subs = g.stats.submits;
    for (let i = 0; i < 50; i++) g.dispatch(p1, packParams(BROADCAST.main.params, { n: 1000, rowStride: 256 * 4, factor: i, _pad: 0 }), [s, out], [4]);
    expect(g.stats.submits).toBe(subs); // recorded, not yet submitted
    const v = await download(g, out, 1000);
    expect(g.stats.submits - subs).toBe(1);
    expect(v[999]).toBe(3 * 49);
    g.pool.release(out);
    const again = g.pool.acquire(4 * 1000);
    expect(again).toBe(out);
    g.pool.release(again);
    g.pool.release(s);
    expect(() => g.pool.release(s)).toThrow(/released twice/);
    expect(BufferPool.roundSize(100_000)).toBeGreaterThanOrEqual(100_000);
  });

  it('keys the pipeline cache on the shader source: two sources under one name never share a pipeline', async () => {
    const src = (v: number) => `@group(0) @binding(0) var<storage, read_write> o: array<f32>;
@compute @workgroup_size(1) fn main() { o[0] = ${v}.0; }`;
    const p1 = g.pipeline('same-name', src(1)), p2 = g.pipeline('same-name', src(2));
    expect(p2).not.toBe(p1);
    expect(g.pipeline('same-name', src(1))).toBe(p1);
    const out = g.pool.acquire(16);
    g.dispatch(p1, null, [out], [1]);
    expect((await download(g, out, 1))[0]).toBe(1);
    g.dispatch(p2, null, [out], [1]);
    expect((await download(g, out, 1))[0]).toBe(2);
    g.pool.release(out);
  });

  it('times each kernel on the adapter clock while a profile runs, across submits, without changing results', async () => {
    if (!g.canProfile) {
      expect(() => g.startProfile()).toThrow(/cannot time kernels.*timestamp-query/);
      return;
    }
    await expect(g.stopProfile()).rejects.toThrow(/no profile is running/);
    const p = pipelineOf(g, BROADCAST.main);
    const s = upload(g, [3]);
    const out = g.pool.acquire(4 * 1000);
    const M = 520, N = 264, K = 300; // a matmul that takes a few milliseconds
    const a = upload(g, Array.from({ length: M * K }, (_, i) => ((i * 7) % 13) / 13 - 0.5));
    const b = upload(g, Array.from({ length: K * N }, (_, i) => ((i * 5) % 11) / 11 - 0.5));
    const c = g.pool.acquire(4 * M * N);
    await g.sync();
    g.startProfile();
    expect(() => g.startProfile()).toThrow(/already running/);
    const t0 = performance.now();
    const subs = g.stats.submits;
    for (let i = 0; i < 1100; i++) g.dispatch(p, packParams(BROADCAST.main.params, { n: 1000, rowStride: 256 * 4, factor: i, _pad: 0 }), [s, out], [4]);
    expect(g.stats.submits - subs).toBeGreaterThanOrEqual(2); // the profile spans several submits
    const d0 = g.stats.dispatches;
    matmul(g, a, b, c, M, N, K);
    const mmDispatches = g.stats.dispatches - d0;
    const times = await g.stopProfile();
    const wall = performance.now() - t0;
    expect(times.get('broadcast.main')!.dispatches).toBe(1100);
    const mm = [...times].filter(([name]) => name.startsWith('matmul'));
    expect(mm.reduce((n, [, t]) => n + t.dispatches, 0)).toBe(mmDispatches);
    expect(mm.reduce((ms, [, t]) => ms + t.ms, 0)).toBeGreaterThan(0.05);
    const all = [...times.values()];
    for (const t of all) expect(t.ms).toBeGreaterThanOrEqual(0);
    expect(all.reduce((ms, t) => ms + t.ms, 0)).toBeLessThanOrEqual(wall);
    for (let i = 1; i < all.length; i++) expect(all[i].ms).toBeLessThanOrEqual(all[i - 1].ms);
    expect((await download(g, out, 1000))[999]).toBe(3 * 1099);
    const got = await download(g, c, 3);
    const A = await download(g, a, M * K), B = await download(g, b, K * N);
    for (let j = 0; j < 3; j++) {
      let want = 0;
      for (let k = 0; k < K; k++) want += A[k] * B[k * N + j];
      expect(got[j]).toBeCloseTo(want, 3);
    }
    // profile over: dispatches share a pass and a submit again
    const subs2 = g.stats.submits;
    for (let i = 0; i < 10; i++) g.dispatch(p, packParams(BROADCAST.main.params, { n: 1000, rowStride: 256 * 4, factor: i, _pad: 0 }), [s, out], [4]);
    expect(g.stats.submits).toBe(subs2);
    await g.sync();
    for (const x of [s, out, a, b, c]) g.pool.release(x);
  });

  it('a process that uses the GPU exits by itself', async () => {
    const gpuJs = fileURLToPath(new URL('../dist/node/gpu.js', import.meta.url));
    const script = `const m = await import(${JSON.stringify(gpuJs)}); const g = await m.getGpu({ verbose: false });
      const b = g.pool.acquire(1024); await g.read(b, 16); m.destroyGpu(); console.log('done');`;
    const r = await promisify(execFile)('node', ['--input-type=module', '-e', script], { timeout: 60_000 });
    expect(r.stdout.trim()).toBe('done');
  });
});
