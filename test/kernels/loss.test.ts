import { describe, expect, test } from 'vitest';
import { testGpu, uniform, upload, download, expectClose, finiteDiff } from '../helpers.js';
import * as loss from '../../src/kernels/loss.js';
import * as ref from '../../src/kernels/ref/loss.js';

/** The float32 values the GPU actually sees, as float64 for the references. */
const f32 = (x: ArrayLike<number>): Float64Array => Float64Array.from(Float32Array.from(x));

// Tolerances: the means are float32 sums of ~sqrt(n)-long runs (1e-5 rel); BCE goes through
// exp/log on the GPU (1e-5 rel + 1e-6 abs per element); the gradients are one or two roundings
// (MSE 1e-6 rel) or a sigmoid (1e-5 rel).
describe('losses', () => {
  test.each([1, 7, 1001, 100003, (1 << 20) + 1])('mse, n = %i', async (n) => {
    const g = await testGpu();
    const a = f32(uniform(n, n)), b = f32(uniform(n, n + 1, -2, 1));
    const A = upload(g, a), B = upload(g, b), D = upload(g, [0.7]);
    const OUT = g.pool.acquire(4), DA = g.pool.acquire(n * 4);
    const live = g.pool.liveCount;
    loss.mseLoss(g, A, B, OUT, n);
    expect(g.pool.liveCount, 'the partial-sum buffer goes back to the pool').toBe(live);
    const [got] = await download(g, OUT, 1);
    expectClose([got], [ref.mseLossRef(a, b, n)], 1e-5, 0, 'mse');
    loss.mseLossBackward(g, A, B, D, DA, n);
    expectClose(await download(g, DA, n), ref.mseLossBackwardRef(a, b, 0.7, n), 1e-6, 1e-12, 'mse backward');
    // Fixed summation order: the same bits again.
    loss.mseLoss(g, A, B, OUT, n);
    expect((await download(g, OUT, 1))[0]).toBe(got);
    for (const buf of [A, B, D, OUT, DA]) g.pool.release(buf);
  });

  test.each([[1001, 1], [1001, 0], [100003, 0.9]])('bce with logits, n = %i, target = %f', async (n, t) => {
    const g = await testGpu();
    const z0 = uniform(n, n + 2, -8, 8);
    // Saturated logits: a naive log(sigmoid(z)) is -inf / NaN here.
    z0.set([80, -80, 100, -100, 1e-3, -20]);
    const z = f32(z0);
    const Z = upload(g, z), D = upload(g, [-1.5]);
    const OUT = g.pool.acquire(4), DZ = g.pool.acquire(n * 4);
    loss.bceWithLogits(g, Z, t, OUT, n);
    loss.bceWithLogitsBackward(g, Z, t, D, DZ, n);
    const [got] = await download(g, OUT, 1);
    expect(Number.isFinite(got)).toBe(true);
    expectClose([got], [ref.bceWithLogitsRef(z, t, n)], 1e-5, 0, 'bce');
    const dz = await download(g, DZ, n);
    expectClose(dz, ref.bceWithLogitsBackwardRef(z, t, -1.5, n), 1e-5, 1e-6 / n, 'bce backward');
    for (const buf of [Z, D, OUT, DZ]) g.pool.release(buf);
  });

  test('bce: single saturated logits stay finite and accurate', async () => {
    const g = await testGpu();
    const OUT = g.pool.acquire(4), DZ = g.pool.acquire(4), D = upload(g, [1]);
    // Each: a tiny log1p term (z = -+20: exp = 2e-9) or a huge linear term (+-80).
    // z near -ln 8 = -2.079 straddles the switch between the log1p series and log(1 + e).
    for (const [z, t] of [[-20, 0], [20, 1], [-10, 0], [80, 0], [-80, 1], [80, 1], [-80, 0], [0, 0.5], [-2.07, 0], [-2.09, 0], [-0.5, 0], [3, 0]]) {
      const Z = upload(g, [z]);
      loss.bceWithLogits(g, Z, t, OUT, 1);
      loss.bceWithLogitsBackward(g, Z, t, D, DZ, 1);
      const [l] = await download(g, OUT, 1);
      const [dz] = await download(g, DZ, 1);
      expectClose([l], [ref.bceWithLogitsRef([z], t, 1)], 1e-5, 1e-30, `bce z=${z} t=${t}`);
      expectClose([dz], ref.bceWithLogitsBackwardRef([z], t, 1, 1), 1e-5, 1e-30, `bce grad z=${z} t=${t}`);
      g.pool.release(Z);
    }
    for (const buf of [OUT, DZ, D]) g.pool.release(buf);
  });

  test('reference backward vs finite differences', () => {
    const n = 37;
    const a = uniform(n, 1), b = uniform(n, 2), z = uniform(n, 3, -5, 5);
    const idx = [0, 5, 17, 36];
    const dm = ref.mseLossBackwardRef(a, b, 0.7, n);
    expectClose(idx.map((i) => dm[i]), finiteDiff((x) => 0.7 * ref.mseLossRef(x, b, n), a, idx), 1e-6, 1e-10, 'mse FD');
    for (const t of [0, 1, 0.9]) {
      const dz = ref.bceWithLogitsBackwardRef(z, t, -1.5, n);
      expectClose(idx.map((i) => dz[i]), finiteDiff((x) => -1.5 * ref.bceWithLogitsRef(x, t, n), z, idx), 1e-6, 1e-10, `bce FD t=${t}`);
    }
  });
});
