import { describe, expect, test } from 'vitest';
import { testGpu, uniform, upload, download, expectClose, finiteDiff } from '../helpers.js';
import { maxPool2, maxPool2Backward } from '../../src/kernels/maxpool.js';
import { maxPool2Ref, maxPool2BackwardRef } from '../../src/kernels/ref/maxpool.js';

// Max and routing are exact: results must equal the float32 inputs bit for bit.
describe('maxPool2', () => {
  // C = 5, 3: scalar kernels; C = 8, 4: the vec4 kernels. Odd H / W drop the last row / column.
  test.each([[2, 7, 9, 5], [2, 6, 5, 8], [1, 5, 5, 3], [3, 4, 7, 4], [1, 1, 3, 4]])(
    'N=%i H=%i W=%i C=%i: forward, backward vs float64', async (N, H, W, C) => {
      const g = await testGpu();
      const n = N * H * W * C;
      const Ho = Math.floor(H / 2), Wo = Math.floor(W / 2), m = N * Ho * Wo * C;
      const x = Float32Array.from(uniform(n, n + C));
      // Ties: quantize a third of the values so that windows hold equal maxima.
      for (let i = 0; i < n; i += 3) x[i] = Math.round(x[i] * 2) / 2;
      const dy = uniform(Math.max(m, 1), m + 1);
      const X = upload(g, x), DY = upload(g, dy);
      const Y = g.pool.acquire(Math.max(m, 1) * 4), DX = g.pool.acquire(n * 4);
      g.write(DX, new Float32Array(n).fill(777)); // every dx cell must be written, zeros included
      maxPool2(g, X, Y, N, H, W, C);
      maxPool2Backward(g, X, DY, DX, N, H, W, C);
      expectClose(await download(g, Y, m), maxPool2Ref(x, N, H, W, C), 0, 0, 'forward');
      expectClose(await download(g, DX, n), maxPool2BackwardRef(x, Float32Array.from(dy), N, H, W, C), 0, 0, 'backward');
      for (const b of [X, DY, Y, DX]) g.pool.release(b);
    });

  test('ties go to the first maximum in row-major order', async () => {
    const g = await testGpu();
    // one 2x2 window, 4 channels: all equal / last two equal / middle two equal / first and last
    const x = [1, 0, 0, 5, 1, 2, 3, 4, 1, 2, 3, 4, 1, 2, 0, 5];
    const X = upload(g, x), DY = upload(g, [10, 20, 30, 40]);
    const DX = g.pool.acquire(64), DX1 = g.pool.acquire(64);
    const X1 = upload(g, [x[0], x[4], x[8], x[12]]), DY1 = upload(g, [10]);
    maxPool2Backward(g, X, DY, DX, 1, 2, 2, 4); // vec4 kernel
    maxPool2Backward(g, X1, DY1, DX1, 1, 2, 2, 1); // scalar kernel
    expect(Array.from(await download(g, DX, 16))).toEqual([10, 0, 0, 40, 0, 20, 30, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    expect(Array.from(await download(g, DX1, 4))).toEqual([10, 0, 0, 0]);
    for (const b of [X, DY, DX, DX1, X1, DY1]) g.pool.release(b);
  });

  test('NaN propagates like PyTorch (scalar and vec4 kernels)', async () => {
    const g = await testGpu();
    // 2x2 window; channels by position of NaN: second cell / first cell / none / last cell
    const x = [1, NaN, 5, 9, NaN, 2, 6, 1, 5, 6, 7, 2, 7, 3, 8, NaN];
    const want = [NaN, NaN, 8, NaN];
    const Y = g.pool.acquire(64);
    for (const C of [4, 2]) {
      const xs = C === 4 ? x : x.filter((_, i) => i % 4 < 2);
      const X = upload(g, xs);
      maxPool2(g, X, Y, 1, 2, 2, C);
      expect(Array.from(await download(g, Y, C)), `C=${C}`).toEqual(want.slice(0, C));
      g.pool.release(X);
    }
    g.pool.release(Y);
  });

  test('reference backward vs finite differences', () => {
    const [N, H, W, C] = [2, 5, 7, 3];
    const n = N * H * W * C;
    // Distinct values, at least 0.01 apart, so the argmax is stable under the finite-difference step.
    const x = Float64Array.from(uniform(n, 4).map((v, i) => v + 0.01 * ((i * 37) % n)));
    const m = N * 2 * 3 * C;
    const r = uniform(m, 5);
    const loss = (xx: Float64Array) => maxPool2Ref(xx, N, H, W, C).reduce((s, v, i) => s + v * r[i], 0);
    const idx = Array.from({ length: n }, (_, i) => i).filter((i) => i % 5 === 0);
    const dx = maxPool2BackwardRef(x, r, N, H, W, C);
    expectClose(idx.map((i) => dx[i]), finiteDiff(loss, x, idx), 1e-7, 1e-9, 'FD');
  });
});
