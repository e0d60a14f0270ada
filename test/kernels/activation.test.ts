import { describe, expect, test } from 'vitest';
import { testGpu, uniform, upload, download, expectClose, finiteDiff } from '../helpers.js';
import * as act from '../../src/kernels/activation.js';
import { POINTWISE_ACTS, type PointwiseAct } from '../../src/kernels/activation.js';
import * as ref from '../../src/kernels/ref/activation.js';

// Tolerances: relu / lrelu are one float32 rounding (1e-6 rel); tanh / sigmoid go through exp on
// the GPU (a few ulp, amplified near tanh's cancellation: 1e-5 rel + 1e-6 abs).
const TOL: Record<PointwiseAct, [number, number]> = {
  relu: [1e-6, 1e-7], lrelu: [1e-6, 1e-7], tanh: [1e-5, 1e-6], sigmoid: [1e-5, 1e-6],
};
/** The float32 values the GPU actually sees, as float64 for the references. */
const f32 = (x: ArrayLike<number>): Float64Array => Float64Array.from(Float32Array.from(x));

const KINDS: readonly PointwiseAct[] = POINTWISE_ACTS;

/** Moves values within `gap` of 0 out to +-gap: finite differences must not straddle a kink. */
function awayFromZero(x: Float64Array, gap = 1e-2): Float64Array {
  return x.map((v) => (Math.abs(v) < gap ? (v < 0 ? -gap : gap) : v));
}

/** Every 7th entry plus the last: enough to cover both sides of each kink. */
const someIdx = (n: number) => [...Array.from({ length: Math.ceil(n / 7) }, (_, k) => 7 * k), n - 1];

describe('activation', () => {
  test.each([1001, 100003])('forward and backward vs float64, n = %i', async (n) => {
    const g = await testGpu();
    // Mostly moderate values, plus extremes that would overflow a naive tanh / sigmoid.
    const x0 = uniform(n, 1 + n, -6, 6);
    x0.set([90, -90, 1e-4, -3e-5, 0.5, 0, -0.125, 0.1249]);
    const x = f32(x0);
    const dy = f32(uniform(n, 2 + n));
    const X = upload(g, x), DY = upload(g, dy);
    const Y = g.pool.acquire(n * 4), DX = g.pool.acquire(n * 4);
    for (const kind of KINDS) {
      const [rtol, atol] = TOL[kind];
      const alpha = kind === 'lrelu' ? 0.2 : undefined;
      act.activation(g, kind, X, Y, n, alpha);
      const y = await download(g, Y, n);
      const yWant = ref.activationRef(kind, x, n, alpha);
      expectClose(y, yWant, rtol, atol, `${kind} forward`);
      // The backward kernel is checked on the GPU's own y, so only its formula is under test.
      act.activationBackward(g, kind, X, Y, DY, DX, n, alpha);
      const dx = await download(g, DX, n);
      expectClose(dx, ref.activationBackwardRef(kind, x, y, dy, n, alpha), rtol, atol, `${kind} backward`);
    }
    // A leaky slope other than the default reaches the kernel.
    act.activation(g, 'lrelu', X, Y, n, 0.01);
    expectClose(await download(g, Y, n), ref.activationRef('lrelu', x, n, 0.01), 1e-6, 1e-7, 'lrelu 0.01');
    for (const b of [X, DY, Y, DX]) g.pool.release(b);
  });

  test.each(KINDS)('reference backward of %s vs finite differences', (kind) => {
    const n = 101;
    const x = awayFromZero(uniform(n, 5, -3, 3));
    const r = uniform(n, 6);
    const loss = (xx: Float64Array) => ref.activationRef(kind, xx, n).reduce((s, v, i) => s + v * r[i], 0);
    const idx = someIdx(n);
    const fd = finiteDiff(loss, x, idx);
    const an = ref.activationBackwardRef(kind, x, ref.activationRef(kind, x, n), r, n);
    expectClose(idx.map((i) => an[i]), fd, 1e-6, 1e-8, `${kind} FD`);
  });

  // C = 3, 5, 6: per-channel kernels; 4, 64: four channels per invocation.
  test.each([[3, 3335], [5, 20001], [6, 167], [4, 999], [64, 1152]])('prelu C = %i, rows = %i', async (C, rows) => {
    const g = await testGpu();
    const n = C * rows;
    const x = f32(uniform(n, 7 + n, -2, 2));
    const dy = f32(uniform(n, 8 + n));
    const slope = f32(uniform(C, 9 + C, 0.05, 0.4));
    const X = upload(g, x), DY = upload(g, dy), S = upload(g, slope);
    const Y = g.pool.acquire(n * 4), DX = g.pool.acquire(n * 4), DS = g.pool.acquire(C * 4);
    act.prelu(g, X, S, Y, n, C);
    expectClose(await download(g, Y, n), ref.preluRef(x, slope, n, C), 1e-6, 1e-7, 'prelu forward');

    const live = g.pool.liveCount;
    act.preluBackward(g, X, S, DY, DX, DS, n, C);
    expect(g.pool.liveCount, 'the partial-sum buffer goes back to the pool').toBe(live);
    const want = ref.preluBackwardRef(x, slope, dy, n, C);
    expectClose(await download(g, DX, n), want.dx, 1e-6, 1e-7, 'prelu dx');
    // dslope sums ~rows float32 products whose signs vary: bound the error by the sum of |terms|.
    const ds = await download(g, DS, C);
    for (let c = 0; c < C; c++) {
      let mass = 0;
      for (let i = c; i < n; i += C) if (!(x[i] > 0)) mass += Math.abs(x[i] * dy[i]);
      const err = Math.abs(ds[c] - want.dslope[c]);
      expect(err, `dslope[${c}] = ${ds[c]}, want ${want.dslope[c]}`).toBeLessThanOrEqual(1e-6 * mass + 1e-7);
    }
    // Fixed summation order: a second run gives the same bits, and dslope is overwritten, not added.
    act.preluBackward(g, X, S, DY, DX, DS, n, C);
    expect(Array.from(await download(g, DS, C))).toEqual(Array.from(ds));
    for (const b of [X, DY, S, Y, DX, DS]) g.pool.release(b);
  });

  test('prelu reference backward vs finite differences (x and slope)', () => {
    const C = 5, n = C * 21;
    const x = awayFromZero(uniform(n, 10, -2, 2));
    const slope = uniform(C, 11, 0.05, 0.4);
    const r = uniform(n, 12);
    const lossX = (xx: Float64Array) => ref.preluRef(xx, slope, n, C).reduce((s, v, i) => s + v * r[i], 0);
    const lossS = (ss: Float64Array) => ref.preluRef(x, ss, n, C).reduce((s, v, i) => s + v * r[i], 0);
    const { dx, dslope } = ref.preluBackwardRef(x, slope, r, n, C);
    const idx = someIdx(n);
    expectClose(idx.map((i) => dx[i]), finiteDiff(lossX, x, idx), 1e-6, 1e-8, 'prelu dx FD');
    expectClose(dslope, finiteDiff(lossS, slope, [0, 1, 2, 3, 4]), 1e-6, 1e-8, 'prelu dslope FD');
  });

  test('rejects unknown kinds, ragged channel counts, in-place use', async () => {
    const g = await testGpu();
    const b = g.pool.acquire(64), c = g.pool.acquire(64), d = g.pool.acquire(64);
    expect(() => act.activation(g, 'gelu' as PointwiseAct, b, c, 4)).toThrow(/unknown kind/);
    expect(() => act.prelu(g, b, c, d, 10, 3)).toThrow(/channels/);
    expect(() => act.activation(g, 'relu', b, b, 4)).toThrow(/in-place/);
    for (const B of [b, c, d]) g.pool.release(B);
  });
});
