// The runtime: errors that name the kernel, the pool, batching, and a process that exits by itself.
import { describe, it, expect, beforeAll } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { testGpu, upload, download } from './helpers.js';
import { BufferPool, type Gpu } from '../src/gpu/gpu.js';
import { shaderSource } from '../src/kernels/shader.js';
import { packParams } from '../src/kernels/spec.js';
import { BROADCAST } from '../src/kernels/broadcast.js';
import { fill } from '../src/kernels/elementwise.js';

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

  it('a process that uses the GPU exits by itself', async () => {
    const gpuJs = fileURLToPath(new URL('../dist/node/gpu.js', import.meta.url));
    const script = `const m = await import(${JSON.stringify(gpuJs)}); const g = await m.getGpu({ verbose: false });
      const b = g.pool.acquire(1024); await g.read(b, 16); m.destroyGpu(); console.log('done');`;
    const r = await promisify(execFile)('node', ['--input-type=module', '-e', script], { timeout: 60_000 });
    expect(r.stdout.trim()).toBe('done');
  });
});
