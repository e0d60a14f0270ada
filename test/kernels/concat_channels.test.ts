// Channel concatenation (a dense block's conv input) and its gradient: GPU vs float64 reference at
// awkward channel counts; the reference backward vs finite differences.
import { describe, test } from 'vitest';
import { testGpu, uniform, upload, download, expectClose, finiteDiff } from '../helpers.js';
import { channelPack, channelUnpack } from '../../src/kernels/concat_channels.js';
import { concatChannelsRef, concatChannelsBackwardRef } from '../../src/kernels/ref/concat_channels.js';

describe('channel concatenation', () => {
  test.each([[[5, 3, 7], 13], [[64, 32, 32], 10], [[1, 1], 1], [[3], 7]])('channels %j over %i pixels: forward and backward against the reference', async (cs, P) => {
    const g = await testGpu();
    const C = cs.reduce((a, b) => a + b, 0);
    const xs = cs.map((c, i) => uniform(P * c, 100 + i));
    const Y = g.pool.acquire(P * C * 4);
    let off = 0;
    const X = xs.map((x, i) => { const b = upload(g, x); channelPack(g, b, Y, P, cs[i], C, off); off += cs[i]; return b; });
    const want = concatChannelsRef(xs.map((x) => Float32Array.from(x)), P, cs);
    expectClose(await download(g, Y, P * C), want, 0, 0, 'pack');
    // backward: each input's slice of a gradient
    const dy = uniform(P * C, 7), DY = upload(g, dy);
    const wantDx = concatChannelsBackwardRef(Float32Array.from(dy), P, cs);
    off = 0;
    for (let i = 0; i < cs.length; i++) {
      const DX = g.pool.acquire(P * cs[i] * 4);
      channelUnpack(g, DY, DX, P, cs[i], C, off);
      off += cs[i];
      expectClose(await download(g, DX, P * cs[i]), wantDx[i], 0, 0, `unpack ${i}`);
      g.pool.release(DX);
    }
    for (const b of [...X, Y, DY]) g.pool.release(b);
  });

  test('the reference backward is the gradient of sum(concat(xs) * r)', () => {
    const cs = [2, 3], P = 4, C = 5, r = uniform(P * C, 9), x0 = uniform(P * 2, 10), x1 = uniform(P * 3, 11);
    const loss = (a: Float64Array) => { const y = concatChannelsRef([a, x1], P, cs); let s = 0; for (let i = 0; i < y.length; i++) s += y[i] * r[i]; return s; };
    const idx = [0, 3, 7];
    expectClose(idx.map((i) => concatChannelsBackwardRef(r, P, cs)[0][i]), finiteDiff(loss, x0, idx), 1e-7, 1e-9, 'FD');
  });
});
