// Batch norm 2d: GPU train/infer/backward vs the float64 reference, the reference backward vs
// central finite differences, odd M and channel counts that are not multiples of 4.
// Tolerances (float32 kernels): outputs |d| <= 1e-5 + 1e-4|want|; statistics 1e-5 relative;
// summed gradients (dgamma, dbeta) within 4e-6 * sum of magnitudes.
import { describe, it, expect } from 'vitest';
import { testGpu, uniform, upload, download, expectClose, finiteDiff } from '../helpers.js';
import { batchNormTrain, batchNormInfer, batchNormBackward } from '../../src/kernels/batchnorm.js';
import { batchNormTrainRef, batchNormInferRef, batchNormBackwardRef } from '../../src/kernels/ref/batchnorm.js';

const g = await testGpu();

interface Case { M: number; C: number; lo?: number; hi?: number }
// M odd; 3*5*7 = 105 rows span 3 chunks; 9999 rows span hundreds; the offset data checks that the
// variance does not cancel when the mean is far larger than the spread.
const cases: Case[] = [
  { M: 105, C: 3 }, { M: 105, C: 5 }, { M: 105, C: 6 }, { M: 105, C: 8 },
  { M: 9999, C: 5 }, { M: 2 * 5 * 7, C: 6 }, { M: 4001, C: 64, lo: 40, hi: 42 },
];

// Inputs rounded to float32, so that the reference sees exactly what the GPU sees.
const f32 = (a: Float64Array) => Float64Array.from(Float32Array.from(a));

function setup(M: number, C: number, seed: number, lo = -1, hi = 1) {
  return {
    x: f32(uniform(M * C, seed, lo, hi)),
    gamma: f32(uniform(C, seed + 1, 0.5, 1.5)),
    beta: f32(uniform(C, seed + 2)),
    runMean: f32(uniform(C, seed + 3)),
    runVar: f32(uniform(C, seed + 4, 0.5, 1.5)),
    dy: f32(uniform(M * C, seed + 5)),
  };
}

function sumMag(a: Float64Array, M: number, C: number): Float64Array {
  const s = new Float64Array(C);
  for (let i = 0; i < M * C; i++) s[i % C] += Math.abs(a[i]);
  return s;
}

function expectWithin(got: ArrayLike<number>, want: Float64Array, tol: Float64Array, what: string): void {
  for (let i = 0; i < want.length; i++) {
    if (!(Math.abs(got[i] - want[i]) <= tol[i])) throw new Error(`${what}[${i}]: got ${got[i]}, want ${want[i]}, tol ${tol[i]}`);
  }
}

describe('batchNorm GPU vs reference', () => {
  for (const [k, { M, C, lo, hi }] of cases.entries()) {
    it(`train + backward, M=${M} C=${C}${lo !== undefined ? ` x in [${lo},${hi})` : ''}`, async () => {
      const live = g.pool.liveCount;
      const d = setup(M, C, 100 * k + 1, lo, hi);
      const momentum = 0.1 + 0.05 * k, eps = 1e-5;
      // reference
      const y = new Float64Array(M * C), mean = new Float64Array(C), invStd = new Float64Array(C);
      const rm = Float64Array.from(d.runMean), rv = Float64Array.from(d.runVar);
      batchNormTrainRef(d.x, y, d.gamma, d.beta, mean, invStd, rm, rv, M, C, { momentum, eps });
      const dx = new Float64Array(M * C), dgamma = new Float64Array(C), dbeta = new Float64Array(C);
      batchNormBackwardRef(d.x, d.dy, d.gamma, mean, invStd, dx, dgamma, dbeta, M, C);
      // GPU
      const b = {
        x: upload(g, d.x), gamma: upload(g, d.gamma), beta: upload(g, d.beta), rm: upload(g, d.runMean),
        rv: upload(g, d.runVar), dy: upload(g, d.dy), y: g.pool.acquire(M * C * 4), mean: g.pool.acquire(C * 4),
        invStd: g.pool.acquire(C * 4), dx: g.pool.acquire(M * C * 4), dgamma: g.pool.acquire(C * 4), dbeta: g.pool.acquire(C * 4),
      };
      batchNormTrain(g, b.x, b.y, b.gamma, b.beta, b.mean, b.invStd, b.rm, b.rv, M, C, { momentum, eps });
      batchNormBackward(g, b.x, b.dy, b.gamma, b.mean, b.invStd, b.dx, b.dgamma, b.dbeta, M, C);
      expectClose(await download(g, b.y, M * C), y, 1e-4, 1e-5, 'y');
      expectClose(await download(g, b.mean, C), mean, 1e-6, 1e-6, 'saveMean');
      expectClose(await download(g, b.invStd, C), invStd, 1e-5, 0, 'saveInvStd');
      expectClose(await download(g, b.rm, C), rm, 1e-6, 1e-6, 'runMean');
      expectClose(await download(g, b.rv, C), rv, 1e-5, 1e-6, 'runVar');
      expectClose(await download(g, b.dx, M * C), dx, 1e-4, 1e-5, 'dx');
      const xhat = d.x.map((v, i) => (v - mean[i % C]) * invStd[i % C]);
      expectWithin(await download(g, b.dbeta, C), dbeta, sumMag(d.dy, M, C).map((s) => 4e-6 * s + 1e-6), 'dbeta');
      expectWithin(await download(g, b.dgamma, C), dgamma, sumMag(d.dy.map((v, i) => v * xhat[i]), M, C).map((s) => 4e-6 * s + 1e-6), 'dgamma');
      // Same inputs, same bits.
      const y1 = new Uint32Array(await g.read(b.y, M * C * 4));
      batchNormTrain(g, b.x, b.y, b.gamma, b.beta, b.mean, b.invStd, b.rm, b.rv, M, C, { momentum, eps });
      expect(new Uint32Array(await g.read(b.y, M * C * 4))).toEqual(y1);
      for (const buf of Object.values(b)) g.pool.release(buf);
      expect(g.pool.liveCount).toBe(live);
    });
  }

  for (const [M, C] of [[105, 3], [105, 6], [1001, 8]]) {
    it(`infer uses the running statistics, M=${M} C=${C}`, async () => {
      const d = setup(M, C, M + C);
      const y = new Float64Array(M * C);
      batchNormInferRef(d.x, y, d.gamma, d.beta, d.runMean, d.runVar, M, C, 1e-3);
      const b = [d.x, d.gamma, d.beta, d.runMean, d.runVar].map((a) => upload(g, a));
      const yb = g.pool.acquire(M * C * 4);
      batchNormInfer(g, b[0], yb, b[1], b[2], b[3], b[4], M, C, 1e-3);
      expectClose(await download(g, yb, M * C), y, 1e-5, 1e-6, 'y');
      for (const buf of [...b, yb]) g.pool.release(buf);
    });
  }

  it('rejects aliased buffers and M < 2', () => {
    const a = g.pool.acquire(64), c = g.pool.acquire(64);
    expect(() => batchNormInfer(g, a, a, c, c, c, c, 2, 2)).toThrow(/different/);
    const bufs = Array.from({ length: 8 }, () => g.pool.acquire(64));
    expect(() => batchNormTrain(g, bufs[0], bufs[1], bufs[2], bufs[3], bufs[4], bufs[5], bufs[6], bufs[7], 1, 3)).toThrow(/more than one/);
    for (const buf of [a, c, ...bufs]) g.pool.release(buf);
  });
});

describe('batchNorm reference backward vs finite differences', () => {
  for (const [M, C] of [[15, 3], [21, 5]]) {
    it(`loss = sum(y * r), M=${M} C=${C}`, () => {
      const d = setup(M, C, 7 * M + C);
      const r = uniform(M * C, 99);
      const loss = (x: Float64Array, gamma: Float64Array, beta: Float64Array) => {
        const y = new Float64Array(M * C);
        batchNormTrainRef(x, y, gamma, beta, new Float64Array(C), new Float64Array(C), new Float64Array(C), new Float64Array(C), M, C);
        return y.reduce((s, v, i) => s + v * r[i], 0);
      };
      const mean = new Float64Array(C), invStd = new Float64Array(C);
      batchNormTrainRef(d.x, new Float64Array(M * C), d.gamma, d.beta, mean, invStd, new Float64Array(C), new Float64Array(C), M, C);
      const dx = new Float64Array(M * C), dgamma = new Float64Array(C), dbeta = new Float64Array(C);
      batchNormBackwardRef(d.x, r, d.gamma, mean, invStd, dx, dgamma, dbeta, M, C);
      const idx = [0, 1, 2, M * C - 1, Math.floor(M * C / 2), 7];
      expectClose(idx.map((i) => dx[i]), finiteDiff((x) => loss(x, d.gamma, d.beta), d.x, idx), 1e-6, 1e-8, 'dx');
      const ch = [...Array(C).keys()];
      expectClose(dgamma, finiteDiff((gm) => loss(d.x, gm, d.beta), d.gamma, ch), 1e-6, 1e-8, 'dgamma');
      expectClose(dbeta, finiteDiff((bt) => loss(d.x, d.gamma, bt), d.beta, ch), 1e-6, 1e-8, 'dbeta');
    });
  }
});
