// conv2d family: GPU kernels vs the float64 reference at awkward shapes (odd sizes, batch > 1,
// channel counts not multiples of 4, RGB input, K = 1/3/5/9, stride 1 and 2), every fused epilogue,
// determinism of the split-K weight gradient, and the reference backward vs finite differences.
//
// Tolerance: |got - want| <= 1e-4 * |want| + 1e-5 * max(1, L / 32), L the length of the sum behind
// each output (K*K*Cin forward, K*K*Cout input gradient, N*Ho*Wo weight and bias gradients): float32
// accumulation error grows with the number of terms; observed errors are around 1e-6 relative.
import { describe, it, expect } from 'vitest';
import { testGpu, uniform, upload, download, expectClose, finiteDiff } from '../helpers.js';
import {
  conv2dForward, conv2dBackwardInput, conv2dBackwardWeight, conv2dBackwardBias, convOutSize, conv2dTiles,
  usesSplit9, usesWinograd, type ConvShape,
} from '../../src/kernels/conv2d.js';
import type { EpilogueAct } from '../../src/kernels/activation.js';
import {
  conv2dForwardRef, conv2dBackwardInputRef, conv2dBackwardWeightRef, conv2dBackwardBiasRef,
} from '../../src/kernels/ref/conv2d.js';

const g = await testGpu();
const RTOL = 1e-4;
const atol = (L: number) => 1e-5 * Math.max(1, L / 32);

const shape = (N: number, H: number, W: number, Cin: number, Cout: number, K: number, stride: number): ConvShape =>
  ({ N, H, W, Cin, Cout, K, stride });

const SHAPES: ConvShape[] = [
  shape(2, 7, 5, 3, 5, 3, 1),     // RGB input, odd sizes, Cout not a multiple of 4
  shape(3, 9, 11, 6, 8, 1, 2),    // 1x1, stride 2, Cin 6
  shape(2, 9, 11, 3, 6, 9, 1),    // 9x9 first layer
  shape(2, 7, 5, 5, 3, 3, 2),     // stride 2, 3 output channels
  shape(2, 8, 8, 8, 12, 3, 1),    // multiples of 4: no padding copies
  shape(2, 13, 10, 16, 24, 3, 1), // medium: partial pixel and channel tiles
  shape(2, 13, 10, 16, 24, 3, 2),
  shape(1, 5, 6, 4, 4, 9, 2),     // kernel larger than the image
  shape(2, 6, 7, 8, 4, 5, 1),
  shape(2, 11, 13, 6, 3, 9, 1),   // thin output, 9x9 (the generator's last conv)
  shape(1, 4, 21, 32, 3, 9, 1),   // rows shorter than the kernel
  shape(3, 5, 9, 4, 1, 3, 1),     // one output channel
];

const name = (s: ConvShape) => `N${s.N} ${s.H}x${s.W} ${s.Cin}->${s.Cout} K${s.K} s${s.stride}`;

function data(s: ConvShape, seed: number) {
  const { Ho, Wo } = convOutSize(s);
  const M = s.N * Ho * Wo;
  return {
    Ho, Wo, M,
    x: uniform(s.N * s.H * s.W * s.Cin, seed),
    w: uniform(s.K * s.K * s.Cin * s.Cout, seed + 1),
    b: uniform(s.Cout, seed + 2),
    dy: uniform(M * s.Cout, seed + 3),
  };
}

describe('conv2d output size', () => {
  it('matches PyTorch Conv2d(padding=(K-1)/2, stride)', () => {
    expect(convOutSize(shape(1, 7, 5, 1, 1, 3, 2))).toEqual({ Ho: 4, Wo: 3 });
    expect(convOutSize(shape(1, 96, 96, 1, 1, 3, 2))).toEqual({ Ho: 48, Wo: 48 });
    expect(convOutSize(shape(1, 9, 11, 1, 1, 9, 1))).toEqual({ Ho: 9, Wo: 11 });
    expect(convOutSize(shape(1, 5, 6, 1, 1, 9, 2))).toEqual({ Ho: 3, Wo: 3 });
  });
});

/** Runs all four kernels on one shape and compares with the reference (bias on even k). */
async function checkAll(s: ConvShape, k: number): Promise<void> {
  const d = data(s, 100 * k + 1);
  const live = g.pool.liveCount;
  const x = upload(g, d.x), w = upload(g, d.w), b = upload(g, d.b), dy = upload(g, d.dy);
  const y = g.pool.acquire(d.M * s.Cout * 4), dx = g.pool.acquire(d.x.length * 4);
  const dw = g.pool.acquire(d.w.length * 4), db = g.pool.acquire(s.Cout * 4);
  const withBias = k % 2 === 0;
  conv2dForward(g, s, x, w, y, withBias ? { bias: b } : {});
  conv2dBackwardInput(g, s, dy, w, dx);
  conv2dBackwardWeight(g, s, x, dy, dw);
  conv2dBackwardBias(g, s, dy, db);
  expect(g.pool.liveCount).toBe(live + 8); // launchers released their temporaries
  const KK = s.K * s.K;
  // Shapes taken by a transform path (Winograd, split 9x9): its float32 error scales with the
  // tensor's magnitude, not each element's (an exact zero, e.g. the weight gradient of a tap that
  // only ever sees padding, comes out near 1e-6 of the largest value): winograd.test.ts's bound,
  // 1e-5 of the largest |want|, on top of the direct kernels' elementwise one.
  const transformed = usesWinograd(s) || usesSplit9(s);
  const tol = (L: number, want: Float64Array) => Math.max(atol(L), transformed ? 1e-5 * want.reduce((m, v) => Math.max(m, Math.abs(v)), 0) : 0);
  const yRef = conv2dForwardRef(s, d.x, d.w, withBias ? { bias: d.b } : {});
  const dxRef = conv2dBackwardInputRef(s, d.dy, d.w), dwRef = conv2dBackwardWeightRef(s, d.x, d.dy);
  expectClose(await download(g, y, d.M * s.Cout), yRef, RTOL, tol(KK * s.Cin, yRef), 'forward');
  expectClose(await download(g, dx, d.x.length), dxRef, RTOL, tol(KK * s.Cout, dxRef), 'dx');
  expectClose(await download(g, dw, d.w.length), dwRef, RTOL, tol(d.M, dwRef), 'dw');
  expectClose(await download(g, db, s.Cout), conv2dBackwardBiasRef(s, d.dy), RTOL, atol(d.M), 'db');
  for (const buf of [x, w, b, dy, y, dx, dw, db]) g.pool.release(buf);
}

describe('conv2d GPU vs reference', () => {
  SHAPES.forEach((s, k) => it(name(s), () => checkAll(s, k)));
});

describe('conv2d direct kernels where Winograd or the split 9x9 would run (the reference path; see winograd.test.ts, split9.test.ts)', () => {
  SHAPES.forEach((s, k) => {
    if (!usesWinograd(s) && !usesSplit9(s)) return;
    it(name(s), async () => {
      conv2dTiles.winograd = false;
      try { await checkAll(s, k); } finally { conv2dTiles.winograd = true; }
    });
  });
});

describe('conv2d without subgroups (the fallback for adapters that lack them)', () => {
  for (const k of [0, 3, 5, 9]) {
    it(name(SHAPES[k]), async () => {
      conv2dTiles.subgroups = false;
      try { await checkAll(SHAPES[k], k); } finally { conv2dTiles.subgroups = true; }
    });
  }
});

describe('conv2d fused epilogue', () => {
  // also at a thin output (3 channels, 5x5), as the generator's last conv
  for (const s of [shape(2, 7, 5, 8, 6, 3, 1), shape(2, 7, 10, 8, 3, 5, 1)]) {
    const cases: Array<{ act: EpilogueAct; alpha?: number; bias: boolean; residual: boolean }> = [
      { act: 'relu', bias: true, residual: false },
      { act: 'lrelu', bias: true, residual: false },
      { act: 'lrelu', alpha: 0.1, bias: false, residual: true },
      { act: 'prelu', bias: true, residual: false },
      { act: 'tanh', bias: true, residual: false },
      { act: 'none', bias: true, residual: true },
      { act: 'prelu', bias: true, residual: true },
    ];
    for (const c of cases) {
      it(`${name(s)} ${c.act}${c.alpha ? ` alpha ${c.alpha}` : ''}${c.bias ? ' + bias' : ''}${c.residual ? ' + residual' : ''}`, async () => {
        const d = data(s, 7);
        // Scale the weights so that tanh is not saturated everywhere.
        const wd = c.act === 'tanh' ? d.w.map((v) => v * 0.2) : d.w;
        const slope = uniform(s.Cout, 9, 0, 0.5), res = uniform(d.M * s.Cout, 10);
        const x = upload(g, d.x), w = upload(g, wd), b = upload(g, d.b), sl = upload(g, slope), r = upload(g, res);
        const y = g.pool.acquire(d.M * s.Cout * 4);
        conv2dForward(g, s, x, w, y, {
          act: c.act, alpha: c.alpha, bias: c.bias ? b : undefined,
          slope: c.act === 'prelu' ? sl : undefined, residual: c.residual ? r : undefined,
        });
        const want = conv2dForwardRef(s, d.x, wd, {
          act: c.act, alpha: c.alpha, bias: c.bias ? d.b : undefined, slope, residual: c.residual ? res : undefined,
        });
        expectClose(await download(g, y, d.M * s.Cout), want, RTOL, atol(s.K * s.K * s.Cin), c.act);
        for (const buf of [x, w, b, sl, r, y]) g.pool.release(buf);
      });
    }
  }
});

describe('conv2d determinism', () => {
  it('weight and bias gradients are bitwise identical run after run', async () => {
    const s = shape(3, 13, 10, 8, 8, 3, 1);
    const d = data(s, 21);
    const x = upload(g, d.x), dy = upload(g, d.dy);
    const dw1 = g.pool.acquire(d.w.length * 4), dw2 = g.pool.acquire(d.w.length * 4);
    const db1 = g.pool.acquire(s.Cout * 4), db2 = g.pool.acquire(s.Cout * 4);
    conv2dBackwardWeight(g, s, x, dy, dw1); conv2dBackwardBias(g, s, dy, db1);
    conv2dBackwardWeight(g, s, x, dy, dw2); conv2dBackwardBias(g, s, dy, db2);
    expect(Array.from(await download(g, dw2, d.w.length))).toEqual(Array.from(await download(g, dw1, d.w.length)));
    expect(Array.from(await download(g, db2, s.Cout))).toEqual(Array.from(await download(g, db1, s.Cout)));
    for (const buf of [x, dy, dw1, dw2, db1, db2]) g.pool.release(buf);
  });
});

describe('conv2d reference backward vs finite differences', () => {
  // L = sum(conv(x, w) + b) * r) for a fixed random r: dL/dx, dL/dw, dL/db are the backward refs at dy = r.
  for (const s of [shape(2, 5, 4, 2, 3, 3, 2), shape(1, 4, 5, 3, 2, 3, 1)]) {
    it(name(s), () => {
      const d = data(s, 31);
      const r = d.dy;
      const loss = (x: Float64Array, w: Float64Array, b: Float64Array) =>
        conv2dForwardRef(s, x, w, { bias: b }).reduce((acc, v, i) => acc + v * r[i], 0);
      const pick = (n: number) => Array.from({ length: Math.min(n, 12) }, (_, i) => Math.floor((i * n) / Math.min(n, 12)));
      const check = (num: number[], ana: Float64Array, idx: number[]) =>
        expectClose(num, idx.map((i) => ana[i]), 1e-6, 1e-7, 'finite differences');
      const ix = pick(d.x.length), iw = pick(d.w.length), ib = pick(s.Cout);
      check(finiteDiff((x) => loss(x, d.w, d.b), d.x, ix), conv2dBackwardInputRef(s, r, d.w), ix);
      check(finiteDiff((w) => loss(d.x, w, d.b), d.w, iw), conv2dBackwardWeightRef(s, d.x, r), iw);
      check(finiteDiff((b) => loss(d.x, d.w, b), d.b, ib), conv2dBackwardBiasRef(s, r), ib);
    });
  }
});
