// Reductions: GPU vs float64 reference, single- and two-pass sizes, and run-to-run determinism.
// Tolerance: |got - want| <= 2e-6 * sum|x| (float32 sums of partial sums; the scale of the error
// is the sum of magnitudes, not the result, which can be near zero).
import { describe, it, expect } from 'vitest';
import { testGpu, uniform, upload, download } from '../helpers.js';
import { sumAll, columnSums } from '../../src/kernels/reduce.js';
import { sumAllRef, columnSumsRef } from '../../src/kernels/ref/reduce.js';

const g = await testGpu();

function expectSumClose(got: ArrayLike<number>, want: Float64Array, mags: Float64Array, what: string): void {
  for (let i = 0; i < want.length; i++) {
    const tol = 2e-6 * mags[i] + 1e-7;
    if (!(Math.abs(got[i] - want[i]) <= tol)) {
      throw new Error(`${what}[${i}]: got ${got[i]}, want ${want[i]} (tol ${tol})`);
    }
  }
}

describe('sumAll', () => {
  for (const n of [1, 7, 4096, 4097, 100003, 1 << 20]) {
    it(`n=${n}`, async () => {
      const live = g.pool.liveCount;
      const x = uniform(n, n);
      const xb = upload(g, x), out = g.pool.acquire(4), outMean = g.pool.acquire(4);
      sumAll(g, xb, out, n);
      sumAll(g, xb, outMean, n, 1 / n);
      const want = new Float64Array(1), wantMean = new Float64Array(1), mag = new Float64Array(1);
      sumAllRef(x, want, n);
      sumAllRef(x, wantMean, n, 1 / n);
      sumAllRef(x.map(Math.abs), mag, n);
      expectSumClose(await download(g, out, 1), want, mag, 'sum');
      expectSumClose(await download(g, outMean, 1), wantMean, mag.map((v) => v / n), 'mean');
      for (const b of [xb, out, outMean]) g.pool.release(b);
      expect(g.pool.liveCount).toBe(live);
    });
  }

  it('is deterministic (n=100003, two runs give the same bits)', async () => {
    const n = 100003;
    const xb = upload(g, uniform(n, 5, -3, 7)), o1 = g.pool.acquire(4), o2 = g.pool.acquire(4);
    sumAll(g, xb, o1, n);
    sumAll(g, xb, o2, n);
    const [a, b] = [await g.read(o1, 4), await g.read(o2, 4)];
    expect(new Uint32Array(a)[0]).toBe(new Uint32Array(b)[0]);
    for (const buf of [xb, o1, o2]) g.pool.release(buf);
  });
});

describe('columnSums', () => {
  for (const [M, C] of [[1, 1], [3, 5], [16, 1024], [70, 6], [1000, 3], [5003, 67], [147456, 64]]) {
    it(`M=${M} C=${C}`, async () => {
      const live = g.pool.liveCount;
      const x = uniform(M * C, M + 31 * C);
      const xb = upload(g, x), out = g.pool.acquire(C * 4);
      columnSums(g, xb, out, M, C);
      const want = new Float64Array(C), mag = new Float64Array(C);
      columnSumsRef(x, want, M, C);
      columnSumsRef(x.map(Math.abs), mag, M, C);
      expectSumClose(await download(g, out, C), want, mag, 'columnSums');
      for (const b of [xb, out]) g.pool.release(b);
      expect(g.pool.liveCount).toBe(live);
    });
  }

  it('is deterministic (M=5003, C=67)', async () => {
    const [M, C] = [5003, 67];
    const xb = upload(g, uniform(M * C, 9, -2, 5)), o1 = g.pool.acquire(C * 4), o2 = g.pool.acquire(C * 4);
    columnSums(g, xb, o1, M, C);
    columnSums(g, xb, o2, M, C);
    expect(new Uint32Array(await g.read(o1, C * 4))).toEqual(new Uint32Array(await g.read(o2, C * 4)));
    for (const b of [xb, o1, o2]) g.pool.release(b);
  });
});
