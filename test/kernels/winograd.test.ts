// Winograd F(4x4, 3x3) conv (shaders/winograd.wgsl) against the float64 direct-conv reference, at
// awkward shapes: H and W not multiples of 4 (partial edge tiles), one-pixel images, batch > 1,
// forced small chunks (the path for tensors past the binding limit), every fused epilogue.
//
// Float32 error, measured on lavapipe with inputs and weights uniform in [-1, 1): the largest
// |got - want| over a tensor, divided by the largest |want|, is 1.5e-6..2.7e-6 forward, 1.7e-6..2.5e-6
// for the input gradient and 1.3e-6..2.1e-6 for the weight gradient at the shapes below (2.5e-7 and
// less on the one-pixel image, where padding zeros most of the tile); with tanh 5.2e-6 (lavapipe's
// tanh). Asserted bound: 1e-5 (2e-5 with tanh).
import { describe, it, expect } from 'vitest';
import { testGpu, uniform, upload, download, relErr } from '../helpers.js';
import { winogradForward, winogradBackwardInput, winogradBackwardWeight, WinogradConcat, type WinogradShape } from '../../src/kernels/winograd.js';
import { conv2dForwardRef, conv2dBackwardInputRef, conv2dBackwardWeightRef } from '../../src/kernels/ref/conv2d.js';
import type { ConvShape } from '../../src/kernels/conv2d.js';
import type { EpilogueAct } from '../../src/kernels/activation.js';

const g = await testGpu();
const conv = (s: WinogradShape): ConvShape => ({ ...s, K: 3, stride: 1 });

const SHAPES: Array<[WinogradShape, number | undefined]> = [
  [{ N: 2, H: 13, W: 10, Cin: 8, Cout: 12 }, undefined],  // partial tiles on both edges
  [{ N: 1, H: 1, W: 1, Cin: 4, Cout: 4 }, undefined],     // one pixel: one tile, mostly padding
  [{ N: 3, H: 5, W: 9, Cin: 12, Cout: 8 }, 8],            // chunks of 8 tiles (of 27): the chunked path
  [{ N: 1, H: 16, W: 16, Cin: 16, Cout: 4 }, undefined],  // exact tiles, Cout 4
  [{ N: 2, H: 7, W: 22, Cin: 4, Cout: 20 }, 12],
];

const name = (s: WinogradShape, rows?: number) => `N${s.N} ${s.H}x${s.W} ${s.Cin}->${s.Cout}${rows ? ` chunks of ${rows}` : ''}`;

describe('winograd F(4x4,3x3) vs the float64 direct reference', () => {
  SHAPES.forEach(([s, rows], k) => it(name(s, rows), async () => {
    const M = s.N * s.H * s.W;
    const xd = uniform(M * s.Cin, 10 * k + 1), wd = uniform(9 * s.Cin * s.Cout, 10 * k + 2), dyd = uniform(M * s.Cout, 10 * k + 3);
    const live = g.pool.liveCount;
    const x = upload(g, xd), w = upload(g, wd), dy = upload(g, dyd);
    const y = g.pool.acquire(M * s.Cout * 4), dx = g.pool.acquire(M * s.Cin * 4), dw = g.pool.acquire(wd.length * 4);
    winogradForward(g, s, x, w, y, {}, rows);
    winogradBackwardInput(g, s, dy, w, dx, rows);
    winogradBackwardWeight(g, s, x, dy, dw, rows);
    expect(g.pool.liveCount).toBe(live + 6); // temporaries released
    const ef = relErr(await download(g, y, M * s.Cout), conv2dForwardRef(conv(s), xd, wd));
    const ex = relErr(await download(g, dx, M * s.Cin), conv2dBackwardInputRef(conv(s), dyd, wd));
    const ew = relErr(await download(g, dw, wd.length), conv2dBackwardWeightRef(conv(s), xd, dyd));
    expect(ef).toBeLessThan(1e-5);
    expect(ex).toBeLessThan(1e-5);
    expect(ew).toBeLessThan(1e-5);
    for (const b of [x, w, dy, y, dx, dw]) g.pool.release(b);
  }));
});

describe('winograd fused epilogue', () => {
  const s: WinogradShape = { N: 2, H: 7, W: 6, Cin: 8, Cout: 8 };
  const M = s.N * s.H * s.W;
  const cases: Array<{ act: EpilogueAct; alpha?: number; bias: boolean; residual: boolean }> = [
    { act: 'relu', bias: true, residual: false },
    { act: 'lrelu', alpha: 0.1, bias: false, residual: true },
    { act: 'prelu', bias: true, residual: true },
    { act: 'tanh', bias: true, residual: false },
    { act: 'none', bias: true, residual: true },
  ];
  for (const c of cases) {
    it(`${c.act}${c.bias ? ' + bias' : ''}${c.residual ? ' + residual' : ''}`, async () => {
      const xd = uniform(M * s.Cin, 5), wd = uniform(9 * s.Cin * s.Cout, 6).map((v) => v * 0.3);
      const bd = uniform(s.Cout, 7), sd = uniform(s.Cout, 8, 0, 0.5), rd = uniform(M * s.Cout, 9);
      const x = upload(g, xd), w = upload(g, wd), b = upload(g, bd), sl = upload(g, sd), r = upload(g, rd);
      const y = g.pool.acquire(M * s.Cout * 4);
      winogradForward(g, s, x, w, y, {
        act: c.act, alpha: c.alpha, bias: c.bias ? b : undefined, slope: sl, residual: c.residual ? r : undefined,
      });
      const want = conv2dForwardRef(conv(s), xd, wd, {
        act: c.act, alpha: c.alpha, bias: c.bias ? bd : undefined, slope: sd, residual: c.residual ? rd : undefined,
      });
      const er = relErr(await download(g, y, M * s.Cout), want);
      expect(er).toBeLessThan(c.act === 'tanh' ? 2e-5 : 1e-5);
      for (const buf of [x, w, b, sl, r, y]) g.pool.release(buf);
    });
  }
});

describe('WinogradConcat: convs over a growing channel concatenation, each piece transformed once', () => {
  // Pieces of 8, 4 and 12 channels; conv k reads the first k + 1 pieces (8, 12, 24 channels) with
  // its own epilogue. Reference: the float64 direct conv of the concatenation built on the CPU.
  const widths = [8, 4, 12], couts = [4, 12, 8];
  const epis: Array<{ act: EpilogueAct; alpha?: number; bias: boolean; residual: boolean }> = [
    { act: 'lrelu', alpha: 0.2, bias: true, residual: false },
    { act: 'none', bias: true, residual: true },
    { act: 'prelu', bias: false, residual: true },
  ];
  for (const [N, H, W, rows] of [[2, 9, 7, undefined], [1, 13, 11, 8]] as const) {
    it(`N${N} ${H}x${W}${rows ? `, chunks of ${rows} tiles` : ''}`, async () => {
      const P = N * H * W, total = widths.reduce((a, b) => a + b, 0);
      const live = g.pool.liveCount;
      const pieces = widths.map((c, j) => uniform(P * c, 40 + j));
      const cat = new WinogradConcat(g, { N, H, W, Cin: total, Cout: Math.max(...couts) }, rows);
      const bufs: GPUBuffer[] = [];
      let C = 0;
      for (let k = 0; k < widths.length; k++) {
        const xb = upload(g, pieces[k]);
        cat.add(xb, widths[k]);
        g.pool.release(xb); // transformed: the piece is not read again
        C += widths[k];
        expect(cat.channels).toBe(C);
        // the concatenation so far, NHWC
        const xd = new Float64Array(P * C);
        for (let p = 0; p < P; p++) {
          let o = 0;
          for (let j = 0; j <= k; j++) { for (let c = 0; c < widths[j]; c++) xd[p * C + o + c] = pieces[j][p * widths[j] + c]; o += widths[j]; }
        }
        const Co = couts[k], e = epis[k];
        const wd = uniform(9 * C * Co, 50 + k).map((v) => v * 0.3), bd = uniform(Co, 60 + k), sd = uniform(Co, 70 + k, 0, 0.5), rd = uniform(P * Co, 80 + k);
        const w = upload(g, wd), b = upload(g, bd), sl = upload(g, sd), r = upload(g, rd), y = g.pool.acquire(P * Co * 4);
        cat.conv(w, Co, y, { act: e.act, alpha: e.alpha, bias: e.bias ? b : undefined, slope: sl, residual: e.residual ? r : undefined });
        const want = conv2dForwardRef({ N, H, W, Cin: C, Cout: Co, K: 3, stride: 1 }, xd, wd, {
          act: e.act, alpha: e.alpha, bias: e.bias ? bd : undefined, slope: sd, residual: e.residual ? rd : undefined,
        });
        expect(relErr(await download(g, y, P * Co), want)).toBeLessThan(1e-5);
        bufs.push(w, b, sl, r, y);
      }
      bufs.push(g.pool.acquire(16));
      expect(() => cat.add(bufs[bufs.length - 1], 4)).toThrow(/do not fit/);
      cat.release();
      for (const x of bufs) g.pool.release(x);
      expect(g.pool.liveCount).toBe(live);
    });
  }
});

describe('winograd determinism', () => {
  it('the weight gradient is bitwise identical run after run', async () => {
    const s: WinogradShape = { N: 3, H: 13, W: 10, Cin: 8, Cout: 8 };
    const M = s.N * s.H * s.W;
    const x = upload(g, uniform(M * s.Cin, 1)), dy = upload(g, uniform(M * s.Cout, 2));
    const dw1 = g.pool.acquire(9 * 64 * 4), dw2 = g.pool.acquire(9 * 64 * 4);
    winogradBackwardWeight(g, s, x, dy, dw1);
    winogradBackwardWeight(g, s, x, dy, dw2);
    expect(Array.from(await download(g, dw2, 9 * 64))).toEqual(Array.from(await download(g, dw1, 9 * 64)));
    for (const b of [x, dy, dw1, dw2]) g.pool.release(b);
  });
});

describe('winograd with the input read as the interior of a larger grid (offsets)', () => {
  it('equals the conv of the explicitly zero-padded input; the input gradient is that of the padded input, cropped', async () => {
    const [N, H, W, Cin, Cout, off] = [2, 5, 7, 8, 4, 2];
    const s: WinogradShape = { N, H: H + 2 * off, W: W + 2 * off, Cin, Cout };   // the grid
    const xd = uniform(N * H * W * Cin, 41), wd = uniform(9 * Cin * Cout, 42), dyd = uniform(N * s.H * s.W * Cout, 43);
    // the padded copy the kernels never make
    const xpad = new Float64Array(N * s.H * s.W * Cin);
    for (let n = 0; n < N; n++) for (let h = 0; h < H; h++) for (let w = 0; w < W; w++) for (let c = 0; c < Cin; c++) {
      xpad[((n * s.H + h + off) * s.W + w + off) * Cin + c] = xd[((n * H + h) * W + w) * Cin + c];
    }
    const x = upload(g, xd), w = upload(g, wd), dy = upload(g, dyd);
    const y = g.pool.acquire(N * s.H * s.W * Cout * 4), dx = g.pool.acquire(xd.length * 4), dw = g.pool.acquire(wd.length * 4);
    winogradForward(g, s, x, w, y, {}, undefined, { input: off });
    winogradBackwardInput(g, s, dy, w, dx, undefined, { input: off });
    winogradBackwardWeight(g, s, x, dy, dw, undefined, { input: off });
    const dxpad = conv2dBackwardInputRef(conv(s), dyd, wd);
    const dxRef = xd.map((_, i) => {
      const c = i % Cin, pix = Math.floor(i / Cin), ww = pix % W, nh = Math.floor(pix / W), h = nh % H, n = Math.floor(nh / H);
      return dxpad[((n * s.H + h + off) * s.W + ww + off) * Cin + c];
    });
    expect(relErr(await download(g, y, N * s.H * s.W * Cout), conv2dForwardRef(conv(s), xpad, wd))).toBeLessThan(1e-5);
    expect(relErr(await download(g, dx, xd.length), dxRef)).toBeLessThan(1e-5);
    expect(relErr(await download(g, dw, wd.length), conv2dBackwardWeightRef(conv(s), xpad, dyd))).toBeLessThan(1e-5);
    for (const b of [x, w, dy, y, dx, dw]) g.pool.release(b);
  });
});
