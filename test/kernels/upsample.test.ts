import { describe, expect, test } from 'vitest';
import { testGpu, uniform, upload, download, expectClose, finiteDiff } from '../helpers.js';
import { upsampleBilinear, upsampleNearest2, upsampleNearest2Backward } from '../../src/kernels/upsample.js';
import { upsampleBilinearRef, upsampleNearest2Ref, upsampleNearest2BackwardRef } from '../../src/kernels/ref/upsample.js';

describe('nearest-neighbour upsampling x2', () => {
  test('a hand-worked example', () => {
    // x [1, 1, 2, 1] = [1, 2] -> y [1, 2, 4, 1]
    expect(Array.from(upsampleNearest2Ref([1, 2], 1, 1, 2, 1))).toEqual([1, 1, 2, 2, 1, 1, 2, 2]);
    expect(Array.from(upsampleNearest2BackwardRef([1, 2, 3, 4, 5, 6, 7, 8], 1, 1, 2, 1))).toEqual([1 + 2 + 5 + 6, 3 + 4 + 7 + 8]);
  });

  // C = 3, 5, 1: the scalar kernels; 4, 8, 32: the vec4 ones. Odd heights and widths.
  test.each([[2, 3, 5, 3], [1, 7, 2, 5], [3, 1, 1, 1], [2, 3, 5, 4], [1, 5, 3, 8], [2, 3, 7, 32]])(
    'N=%i H=%i W=%i C=%i: forward exact, backward vs float64', async (N, H, W, C) => {
      const g = await testGpu();
      const n = N * H * W * C;
      const x = uniform(n, n + 1), dy = uniform(4 * n, n + 2);
      const X = upload(g, x), DY = upload(g, dy);
      const Y = g.pool.acquire(4 * n * 4), DX = g.pool.acquire(n * 4);
      upsampleNearest2(g, X, Y, N, H, W, C);
      upsampleNearest2Backward(g, DY, DX, N, H, W, C);
      expectClose(await download(g, Y, 4 * n), upsampleNearest2Ref(Float32Array.from(x), N, H, W, C), 0, 0, 'forward');
      // four float32 terms summed: within a few ulps of the float64 sum
      expectClose(await download(g, DX, n), upsampleNearest2BackwardRef(Float32Array.from(dy), N, H, W, C), 1e-6, 1e-6, 'backward');
      for (const b of [X, DY, Y, DX]) g.pool.release(b);
    });

  test('reference backward vs finite differences', () => {
    const [N, H, W, C] = [2, 3, 5, 3];
    const n = N * H * W * C;
    const x = uniform(n, 1), r = uniform(4 * n, 2);
    const loss = (xx: Float64Array) => upsampleNearest2Ref(xx, N, H, W, C).reduce((s, v, i) => s + v * r[i], 0);
    const idx = [0, 1, 7, 13, 44, n - 1];
    const dx = upsampleNearest2BackwardRef(r, N, H, W, C);
    expectClose(idx.map((i) => dx[i]), finiteDiff(loss, x, idx), 1e-7, 1e-9, 'FD');
  });

  test('2-D dispatch grid (more than 65535 workgroups)', async () => {
    const g = await testGpu();
    const [N, H, W, C] = [1, 1025, 1024, 4]; // 65600 workgroups of 64 vec4 invocations
    const n = N * H * W * C;
    const x = uniform(n, 3);
    const X = upload(g, x), Y = g.pool.acquire(4 * n * 4);
    upsampleNearest2(g, X, Y, N, H, W, C);
    const y = await download(g, Y, 4 * n);
    // spot rows (a full float64 reference of 16.8 M values is slow): the last input row, the first
    for (const h of [0, 511, H - 1]) for (const w of [0, 700, W - 1]) for (const [i, j] of [[0, 0], [1, 1]]) {
      expect(y[((2 * h + i) * 2 * W + 2 * w + j) * C + 2]).toBe(Math.fround(x[(h * W + w) * C + 2]));
    }
    g.pool.release(X); g.pool.release(Y);
  });
});

describe('bilinear upsampling (align_corners=False)', () => {
  test('the reference gives PyTorch\'s values on hand-worked examples', () => {
    // F.interpolate([[[[1, 2]]]], scale_factor=2, mode='bilinear', align_corners=False) in PyTorch
    expect(Array.from(upsampleBilinearRef([1, 2], 1, 1, 2, 1, 2))).toEqual([1, 1.25, 1.75, 2, 1, 1.25, 1.75, 2]);
    // x4 of [0, 8]: source positions -0.375 (clamped to 0), -0.125 (0), 0.125, 0.375, 0.625, 0.875, 1.125 (1), 1.375 (1)
    expect(Array.from(upsampleBilinearRef([0, 8], 1, 1, 2, 1, 4).slice(0, 8))).toEqual([0, 0, 1, 3, 5, 7, 8, 8]);
    // a constant image stays constant; an affine ramp stays affine away from the clamped edges
    expect(upsampleBilinearRef(new Array(12).fill(0.3), 1, 2, 2, 3, 4).every((v) => Math.abs(v - 0.3) < 1e-15)).toBe(true);
    const ramp = upsampleBilinearRef([0, 1, 2, 3, 4], 1, 1, 5, 1, 4);
    for (let o = 2; o < 18; o++) expect(ramp[o]).toBeCloseTo((o + 0.5) / 4 - 0.5, 12);
  });

  // odd sizes, 1-pixel edges, several images and channel counts; factors 2 and 4
  test.each([[2, 3, 5, 3, 4], [1, 7, 2, 3, 2], [3, 1, 1, 3, 4], [1, 1, 6, 1, 4], [2, 5, 3, 5, 2], [1, 9, 13, 3, 4]])(
    'N=%i H=%i W=%i C=%i x%i: against the float64 reference', async (N, H, W, C, s) => {
      const g = await testGpu();
      const n = N * H * W * C;
      const x = uniform(n, 7 * n + s);
      const X = upload(g, x), Y = g.pool.acquire(s * s * n * 4);
      upsampleBilinear(g, X, Y, N, H, W, C, s);
      const ref = upsampleBilinearRef(Float32Array.from(x), N, H, W, C, s);
      // a blend of four float32 values with float32 weights: a few ulps of values in [-1, 1]
      expectClose(await download(g, Y, s * s * n), ref, 1e-6, 1e-6, 'forward');
      // the affine map after it (the generator's [0, 1] -> [-1, 1]: a = 2, b = -1)
      upsampleBilinear(g, X, Y, N, H, W, C, s, 2, -1);
      expectClose(await download(g, Y, s * s * n), ref.map((v) => 2 * v - 1), 2e-6, 2e-6, 'a * v + b');
      // nearest-neighbour with the same affine map (the compact network's skip): x2 twice is x4
      upsampleBilinear(g, X, Y, N, H, W, C, s, 2, -1, 'nearest');
      let near = upsampleNearest2Ref(x, N, H, W, C);
      if (s === 4) near = upsampleNearest2Ref(near, N, 2 * H, 2 * W, C);
      expectClose(await download(g, Y, s * s * n), near.map((v) => 2 * Math.fround(v) - 1), 1e-6, 1e-6, 'nearest');
      g.pool.release(X); g.pool.release(Y);
    });
});
