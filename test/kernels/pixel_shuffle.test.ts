import { describe, expect, test } from 'vitest';
import { testGpu, uniform, upload, download, expectClose, finiteDiff } from '../helpers.js';
import { pixelShuffle, pixelShuffleBackward } from '../../src/kernels/pixel_shuffle.js';
import { pixelShuffleRef, pixelShuffleBackwardRef } from '../../src/kernels/ref/pixel_shuffle.js';

// A permutation: results must be bit-exact copies of float32 inputs.
describe('pixel shuffle', () => {
  test('PyTorch channel order on a hand-worked example', () => {
    // x [1, 1, 1, 8], r = 2 -> y [1, 2, 2, 2]; channel c*4 + i*2 + j goes to pixel (i, j), channel c
    const y = pixelShuffleRef([0, 1, 2, 3, 10, 11, 12, 13], 1, 1, 1, 8, 2);
    expect(Array.from(y)).toEqual([0, 10, 1, 11, 2, 12, 3, 13]);
  });

  // Cout = Cin/(r*r) of 3, 2, 2, 1: the generic kernel; 4, 8, 4: the four-channel kernels.
  test.each([[2, 3, 5, 12, 2], [2, 3, 5, 8, 2], [1, 2, 3, 18, 3], [3, 4, 1, 4, 2],
    [2, 3, 5, 16, 2], [1, 3, 2, 32, 2], [2, 2, 3, 36, 3]])(
    'N=%i H=%i W=%i Cin=%i r=%i: forward, backward vs float64', async (N, H, W, Cin, r) => {
      const g = await testGpu();
      const n = N * H * W * Cin;
      const x = uniform(n, n + r), dy = uniform(n, n + 2 * r);
      const X = upload(g, x), DY = upload(g, dy);
      const Y = g.pool.acquire(n * 4), DX = g.pool.acquire(n * 4);
      pixelShuffle(g, X, Y, N, H, W, Cin, r);
      pixelShuffleBackward(g, DY, DX, N, H, W, Cin, r);
      expectClose(await download(g, Y, n), pixelShuffleRef(Float32Array.from(x), N, H, W, Cin, r), 0, 0, 'forward');
      expectClose(await download(g, DX, n), pixelShuffleBackwardRef(Float32Array.from(dy), N, H, W, Cin, r), 0, 0, 'backward');
      for (const b of [X, DY, Y, DX]) g.pool.release(b);
    });

  test('reference backward vs finite differences', () => {
    const [N, H, W, Cin, r] = [2, 3, 5, 12, 2];
    const n = N * H * W * Cin;
    const x = uniform(n, 1), rr = uniform(n, 2);
    const loss = (xx: Float64Array) => pixelShuffleRef(xx, N, H, W, Cin, r).reduce((s, v, i) => s + v * rr[i], 0);
    const idx = [0, 1, 7, 13, 100, 211, n - 1];
    const dx = pixelShuffleBackwardRef(rr, N, H, W, Cin, r);
    expectClose(idx.map((i) => dx[i]), finiteDiff(loss, x, idx), 1e-7, 1e-9, 'FD');
  });

  test('2-D dispatch grid (more than 65535 workgroups)', async () => {
    const g = await testGpu();
    const [N, H, W, Cin, r] = [1, 1024, 1025, 4, 2]; // 4.2 M elements, 65600 workgroups of 64
    const n = N * H * W * Cin;
    const x = uniform(n, 3);
    const X = upload(g, x), Y = g.pool.acquire(n * 4);
    pixelShuffle(g, X, Y, N, H, W, Cin, r);
    expectClose(await download(g, Y, n), pixelShuffleRef(Float32Array.from(x), N, H, W, Cin, r), 0, 0, 'forward');
    g.pool.release(X); g.pool.release(Y);
  });

  test('rejects channel counts that are not multiples of r*r', async () => {
    const g = await testGpu();
    const b = g.pool.acquire(1024), c = g.pool.acquire(1024);
    expect(() => pixelShuffle(g, b, c, 1, 2, 2, 6, 2)).toThrow(/multiple/);
    g.pool.release(b); g.pool.release(c);
  });
});
