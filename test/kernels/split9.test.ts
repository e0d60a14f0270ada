// The 9x9 conv with few output channels as a 3x3 Winograd conv to 9 x Cout channels plus a shift-sum
// (src/kernels/split9.ts), against the float64 direct reference, at awkward shapes: sizes not
// multiples of 4 or 3, one-pixel and one-row images (all but the centre taps fall in the padding),
// batch > 1, Cout 1-4, forced small Winograd chunks, every fused epilogue; and the routing in
// conv2d.ts (conv_out's shapes take it; the direct kernel stays the reference path).
//
// Float32 error, measured on lavapipe with inputs and weights uniform in [-1, 1) (max |got - want| /
// max |want| over the tensor; SPLIT9_ERR=1 prints them): 1.0e-6..1.4e-6 forward, 2.3e-6..3.9e-6
// input gradient, 0.4e-6..3.1e-6 weight gradient at the shapes below (less on the one-pixel image),
// 0.5e-6..1.6e-6 with the epilogues. Asserted bound: 1e-5 (2e-5 with tanh), Winograd's own.
import { describe, it, expect } from 'vitest';
import { testGpu, uniform, upload, download, relErr } from '../helpers.js';
import { split9Forward, split9BackwardInput, split9BackwardWeight, type Split9Shape } from '../../src/kernels/split9.js';
import { conv2dForward, conv2dBackwardInput, conv2dBackwardWeight, conv2dTiles, usesSplit9, type ConvShape } from '../../src/kernels/conv2d.js';
import { conv2dForwardRef, conv2dBackwardInputRef, conv2dBackwardWeightRef } from '../../src/kernels/ref/conv2d.js';
import type { EpilogueAct } from '../../src/kernels/activation.js';

const g = await testGpu();
const conv = (s: Split9Shape): ConvShape => ({ ...s, K: 9, stride: 1 });

const SHAPES: Array<[Split9Shape, number | undefined]> = [
  [{ N: 2, H: 13, W: 10, Cin: 8, Cout: 3 }, undefined],   // conv_out's 3 channels; partial tiles
  [{ N: 1, H: 1, W: 1, Cin: 4, Cout: 3 }, undefined],     // one pixel: only the centre tap sees the image
  [{ N: 3, H: 5, W: 11, Cin: 12, Cout: 1 }, 8],           // chunks of 8 Winograd tiles: the chunked path
  [{ N: 1, H: 1, W: 17, Cin: 8, Cout: 4 }, undefined],    // one row; Cout 4 (36 channels, no padding)
  [{ N: 2, H: 20, W: 7, Cin: 32, Cout: 2 }, 12],
];
const name = (s: Split9Shape, rows?: number) => `N${s.N} ${s.H}x${s.W} ${s.Cin}->${s.Cout}${rows ? ` chunks of ${rows}` : ''}`;

describe('9x9 conv as a split 3x3 Winograd conv vs the float64 direct reference', () => {
  SHAPES.forEach(([s, rows], k) => it(name(s, rows), async () => {
    const M = s.N * s.H * s.W;
    const xd = uniform(M * s.Cin, 20 * k + 1), wd = uniform(81 * s.Cin * s.Cout, 20 * k + 2), dyd = uniform(M * s.Cout, 20 * k + 3);
    const live = g.pool.liveCount;
    const x = upload(g, xd), w = upload(g, wd), dy = upload(g, dyd);
    const y = g.pool.acquire(M * s.Cout * 4), dx = g.pool.acquire(M * s.Cin * 4), dw = g.pool.acquire(wd.length * 4);
    split9Forward(g, s, x, w, y, {}, rows);
    split9BackwardInput(g, s, dy, w, dx, rows);
    split9BackwardWeight(g, s, x, dy, dw, rows);
    expect(g.pool.liveCount).toBe(live + 6); // temporaries released
    const ef = relErr(await download(g, y, M * s.Cout), conv2dForwardRef(conv(s), xd, wd));
    const ex = relErr(await download(g, dx, M * s.Cin), conv2dBackwardInputRef(conv(s), dyd, wd));
    const ew = relErr(await download(g, dw, wd.length), conv2dBackwardWeightRef(conv(s), xd, dyd));
    if (process.env.SPLIT9_ERR) console.log(`ERR ${name(s, rows)} ${ef.toExponential(2)} ${ex.toExponential(2)} ${ew.toExponential(2)}`);
    expect(ef).toBeLessThan(1e-5);
    expect(ex).toBeLessThan(1e-5);
    expect(ew).toBeLessThan(1e-5);
    for (const b of [x, w, dy, y, dx, dw]) g.pool.release(b);
  }));
});

describe('split 9x9 conv fused epilogue', () => {
  const s: Split9Shape = { N: 2, H: 9, W: 6, Cin: 8, Cout: 3 };
  const M = s.N * s.H * s.W;
  const cases: Array<{ act: EpilogueAct; alpha?: number; bias: boolean; residual: boolean }> = [
    { act: 'tanh', bias: true, residual: false }, // conv_out of the paper's generator
    { act: 'none', bias: true, residual: true },  // conv_out with the bilinear skip (added by the generator)
    { act: 'relu', bias: false, residual: false },
    { act: 'lrelu', alpha: 0.1, bias: true, residual: true },
    { act: 'prelu', bias: true, residual: false },
  ];
  for (const c of cases) {
    it(`${c.act}${c.bias ? ' + bias' : ''}${c.residual ? ' + residual' : ''}`, async () => {
      const xd = uniform(M * s.Cin, 5), wd = uniform(81 * s.Cin * s.Cout, 6).map((v) => v * 0.1);
      const bd = uniform(s.Cout, 7), sd = uniform(s.Cout, 8, 0, 0.5), rd = uniform(M * s.Cout, 9);
      const x = upload(g, xd), w = upload(g, wd), b = upload(g, bd), sl = upload(g, sd), r = upload(g, rd);
      const y = g.pool.acquire(M * s.Cout * 4);
      split9Forward(g, s, x, w, y, { act: c.act, alpha: c.alpha, bias: c.bias ? b : undefined, slope: sl, residual: c.residual ? r : undefined });
      const want = conv2dForwardRef(conv(s), xd, wd, { act: c.act, alpha: c.alpha, bias: c.bias ? bd : undefined, slope: sd, residual: c.residual ? rd : undefined });
      const er = relErr(await download(g, y, M * s.Cout), want);
      if (process.env.SPLIT9_ERR) console.log(`ERR epilogue ${c.act} ${er.toExponential(2)}`);
      expect(er).toBeLessThan(c.act === 'tanh' ? 2e-5 : 1e-5);
      for (const buf of [x, w, b, sl, r, y]) g.pool.release(buf);
    });
  }
});

describe('routing and determinism', () => {
  it('conv2d sends conv_out-like shapes here, the rest (and the reference path) elsewhere; same answers', async () => {
    expect(usesSplit9({ N: 1, H: 8, W: 8, Cin: 32, Cout: 3, K: 9, stride: 1 })).toBe(true);
    expect(usesSplit9({ N: 1, H: 8, W: 8, Cin: 3, Cout: 32, K: 9, stride: 1 })).toBe(false);  // conv_in
    expect(usesSplit9({ N: 1, H: 8, W: 8, Cin: 30, Cout: 3, K: 9, stride: 1 })).toBe(false);  // Cin % 4
    expect(usesSplit9({ N: 1, H: 8, W: 8, Cin: 32, Cout: 8, K: 9, stride: 1 })).toBe(false);
    expect(usesSplit9({ N: 1, H: 8, W: 8, Cin: 32, Cout: 3, K: 9, stride: 2 })).toBe(false);
    const s: ConvShape = { N: 2, H: 11, W: 9, Cin: 16, Cout: 3, K: 9, stride: 1 };
    const M = s.N * s.H * s.W;
    const xd = uniform(M * s.Cin, 31), wd = uniform(81 * s.Cin * s.Cout, 32), dyd = uniform(M * s.Cout, 33);
    const x = upload(g, xd), w = upload(g, wd), dy = upload(g, dyd);
    const run = async () => {
      const y = g.pool.acquire(M * 3 * 4), dx = g.pool.acquire(M * s.Cin * 4), dw = g.pool.acquire(wd.length * 4);
      conv2dForward(g, s, x, w, y); conv2dBackwardInput(g, s, dy, w, dx); conv2dBackwardWeight(g, s, x, dy, dw);
      const out = [await download(g, y, M * 3), await download(g, dx, M * s.Cin), await download(g, dw, wd.length)];
      for (const b of [y, dx, dw]) g.pool.release(b);
      return out;
    };
    const a = await run(), b = await run();
    conv2dTiles.split9 = false;
    let direct: Float32Array[];
    try { direct = await run(); } finally { conv2dTiles.split9 = true; }
    // bitwise repeatable (the weight gradient's sums have a fixed order), and both paths near the reference
    for (let i = 0; i < 3; i++) expect(Array.from(b[i])).toEqual(Array.from(a[i]));
    const refs = [conv2dForwardRef(s, xd, wd), conv2dBackwardInputRef(s, dyd, wd), conv2dBackwardWeightRef(s, xd, dyd)];
    for (let i = 0; i < 3; i++) {
      expect(relErr(a[i], refs[i])).toBeLessThan(1e-5);
      expect(relErr(direct[i], refs[i])).toBeLessThan(1e-5);
    }
    for (const buf of [x, w, dy]) g.pool.release(buf);
  });
});
