import { describe, expect, test } from 'vitest';
import { testGpu, uniform, upload, download, expectClose } from '../helpers.js';
import * as ew from '../../src/kernels/elementwise.js';
import * as ref from '../../src/kernels/ref/elementwise.js';

/** The float32 values the GPU actually sees, as float64 for the references. */
const f32 = (x: ArrayLike<number>): Float64Array => Float64Array.from(Float32Array.from(x));

// float32 arithmetic of one or two roundings
const RTOL = 1e-6, ATOL = 1e-7;

describe('elementwise kernels', () => {
  // 1001, 1002, 1003 and 100003 exercise every tail length of the vec4 path; 1000 none.
  test.each([1, 3, 1000, 1001, 1002, 1003, 100003])('n = %i', async (n) => {
    const g = await testGpu();
    const a = f32(uniform(n, 11 + n)), b = f32(uniform(n, 23 + n, -3, 2));
    const A = upload(g, a), B = upload(g, b);
    const out = g.pool.acquire(n * 4);
    // A sentinel just past n shows that the tail stores stay inside the tensor.
    const sentinel = 12345.5;
    const pad = Math.min(4, out.size / 4 - n);
    const guard = new Float32Array(pad).fill(sentinel);
    const check = async (want: Float64Array, what: string) => {
      const got = await download(g, out, n + pad);
      expectClose(got.subarray(0, n), want, RTOL, ATOL, `${what} n=${n}`);
      for (let k = 0; k < pad; k++) expect(got[n + k], `${what}: wrote past n`).toBe(sentinel);
      g.write(out, guard, n * 4);
    };
    g.write(out, guard, n * 4);

    ew.add(g, A, B, out, n); await check(ref.addRef(a, b, n), 'add');
    ew.addScaled(g, A, B, out, n, 0.75, -1.5); await check(ref.addScaledRef(a, b, n, 0.75, -1.5), 'addScaled');
    ew.mul(g, A, B, out, n); await check(ref.mulRef(a, b, n), 'mul');
    ew.scale(g, A, out, n, -2.5); await check(ref.scaleRef(a, n, -2.5), 'scale');
    ew.fill(g, out, n, 0.3); await check(ref.fillRef(n, Math.fround(0.3)), 'fill');
    ew.copy(g, A, out, n); await check(ref.copyRef(a, n), 'copy');

    // accumulate twice: acc = a + b + b
    ew.copy(g, A, out, n);
    ew.accumulate(g, out, B, n);
    ew.accumulate(g, out, B, n);
    const acc = Float64Array.from(a);
    ref.accumulateRef(acc, b, n); ref.accumulateRef(acc, b, n);
    await check(acc, 'accumulate');

    // one buffer as both (read-only) inputs is allowed
    ew.mul(g, A, A, out, n); await check(ref.mulRef(a, a, n), 'mul(a, a)');

    for (const buf of [A, B, out]) g.pool.release(buf);
  });

  test('rejects in-place use of an output', async () => {
    const g = await testGpu();
    const a = g.pool.acquire(256), b = g.pool.acquire(256);
    expect(() => ew.add(g, a, b, a, 8)).toThrow(/in-place/);
    expect(() => ew.scale(g, a, a, 8, 2)).toThrow(/in-place/);
    expect(() => ew.accumulate(g, a, a, 8)).toThrow(/in-place/);
    g.pool.release(a); g.pool.release(b);
  });

  test('rejects buffers too small for the vec4 path', async () => {
    const g = await testGpu();
    const small = g.pool.acquire(256); // 65 floats need 272 bytes as vec4s
    expect(() => ew.fill(g, small, 65, 0)).toThrow(/too small/);
    g.pool.release(small);
  });
});
