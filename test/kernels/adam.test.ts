import { describe, expect, test } from 'vitest';
import { testGpu, uniform, upload, download, expectClose } from '../helpers.js';
import { adamStep, type AdamStepOptions } from '../../src/kernels/adam.js';
import { adamStepRef } from '../../src/kernels/ref/adam.js';

/** The float32 values the GPU actually sees, as float64 for the references. */
const f32 = (x: ArrayLike<number>): Float64Array => Float64Array.from(Float32Array.from(x));

/** |got - want| <= rtol |want| + atol[i] elementwise; NaN never passes. */
function expectWithin(got: ArrayLike<number>, want: ArrayLike<number>, rtol: number, atol: ArrayLike<number>, what: string): void {
  for (let i = 0; i < want.length; i++) {
    const d = Math.abs(got[i] - want[i]);
    if (!(d <= rtol * Math.abs(want[i]) + atol[i])) {
      throw new Error(`${what}: element ${i}: got ${got[i]}, want ${want[i]} (|diff| ${d})`);
    }
  }
}

// The GPU state stays float32 while the reference runs on in float64 from the same start.
// m = b1 m + (1 - b1) g cancels when g changes sign, so its rounding error is relative to the
// gradients seen so far, not to m: m within 1e-6 max|g| (v: 1e-6 max g^2), plus 1e-5 relative.
// The parameter moves by lr * m / sqrt(v) per step: within 1e-5 relative + 1e-6 + 1e-4 lr.
describe('adamStep', () => {
  test.each([
    [1001, { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8 }],
    [100003, { lr: 0.05, beta1: 0.5, beta2: 0.9, eps: 1e-6 }],
  ] as const)('n = %i, %o: 5 steps vs float64', async (n, hyper) => {
    const g = await testGpu();
    const p = f32(uniform(n, n)), m = new Float64Array(n), v = new Float64Array(n);
    const P = upload(g, p), G = g.pool.acquire(n * 4), M = upload(g, m), V = upload(g, v);
    // sentinels just past n: the vec4 tail must not store there
    const pad = (P.size / 4 - n) >= 3 ? 3 : 0;
    const sentinel = new Float32Array(pad).fill(-4242);
    for (const B of [P, M, V]) g.write(B, sentinel, n * 4);
    const gmax = new Float64Array(n);
    for (let step = 1; step <= 5; step++) {
      // gradients of varied scale, a few exactly zero
      const grad = f32(uniform(n, 100 * step + n, -1, 1).map((x, i) => (i % 97 === 0 ? 0 : x * 10 ** ((i % 5) - 2))));
      g.write(G, Float32Array.from(grad));
      const o: AdamStepOptions = { ...hyper, step };
      adamStep(g, P, G, M, V, n, o);
      adamStepRef(p, grad, m, v, n, o);
      grad.forEach((x, i) => { gmax[i] = Math.max(gmax[i], Math.abs(x)); });
      expectWithin(await download(g, M, n), m, 1e-5, gmax.map((x) => 1e-6 * x), `m, step ${step}`);
      expectWithin(await download(g, V, n), v, 1e-5, gmax.map((x) => 1e-6 * x * x), `v, step ${step}`);
      expectClose(await download(g, P, n), p, 1e-5, 1e-6 + 1e-4 * hyper.lr, `param, step ${step}`);
    }
    for (const B of [P, M, V]) expect(Array.from(await download(g, B, n + pad)).slice(n)).toEqual(Array.from(sentinel));
    for (const B of [P, G, M, V]) g.pool.release(B);
  });

  test('rejects aliased buffers and 0-based steps', async () => {
    const g = await testGpu();
    const a = g.pool.acquire(64), b = g.pool.acquire(64), c = g.pool.acquire(64), d = g.pool.acquire(64);
    const o = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, step: 1 };
    expect(() => adamStep(g, a, b, c, c, 4, o)).toThrow(/different/);
    expect(() => adamStep(g, a, b, c, d, 4, { ...o, step: 0 })).toThrow(/1-based/);
    for (const B of [a, b, c, d]) g.pool.release(B);
  });
});
