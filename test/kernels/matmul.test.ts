// Dense matmul: GPU vs the float64 reference at awkward shapes, every transpose combination, bias,
// accumulate, the vec4 path, and deterministic split-K.
// Tolerance: |got - want| <= 4e-7 * sum_k |a_mk b_kn| + 1e-6 (a few float32 ulps of the terms'
// magnitude: a bound on the dot product's rounding, independent of cancellation in the result).
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { testGpu, uniform, upload, download } from '../helpers.js';
import { matmul, matmulBatched, matmulSplits, MATMUL_SG, sharedFits, type MatmulOptions } from '../../src/kernels/matmul.js';
import { subgroupsCanShare } from '../../src/kernels/shader.js';
import { matmulRef } from '../../src/kernels/ref/matmul.js';

const g = await testGpu();

interface Case { M: number; N: number; K: number; transA?: boolean; transB?: boolean; bias?: boolean; accumulate?: boolean; splits?: number }

async function check({ M, N, K, transA = false, transB = false, bias = false, accumulate = false, splits }: Case): Promise<void> {
  const live = g.pool.liveCount;
  const seed = M * 1000 + N * 10 + K + (transA ? 7 : 0) + (transB ? 13 : 0);
  const a = uniform(M * K, seed), b = uniform(K * N, seed + 1), c0 = uniform(M * N, seed + 2), bv = uniform(N, seed + 3);
  const want = Float64Array.from(c0);
  matmulRef(a, b, want, M, N, K, { transA, transB, bias: bias ? bv : undefined, accumulate });
  const mag = new Float64Array(M * N);
  matmulRef(a.map(Math.abs), b.map(Math.abs), mag, M, N, K, { transA, transB });

  const ab = upload(g, a), bb = upload(g, b), cb = upload(g, c0), biasb = bias ? upload(g, bv) : undefined;
  const opts: MatmulOptions = { transA, transB, bias: biasb, accumulate, splits };
  matmul(g, ab, bb, cb, M, N, K, opts);
  const got = await download(g, cb, M * N);
  for (let i = 0; i < M * N; i++) {
    const tol = 4e-7 * (mag[i] + (accumulate ? Math.abs(c0[i]) : 0) + (bias ? 1 : 0)) + 1e-6;
    if (!(Math.abs(got[i] - want[i]) <= tol)) {
      throw new Error(`C[${Math.floor(i / N)},${i % N}]: got ${got[i]}, want ${want[i]} (tol ${tol})`);
    }
  }
  for (const buf of [ab, bb, cb, biasb]) if (buf) g.pool.release(buf);
  expect(g.pool.liveCount).toBe(live);
}

const name = (c: Case) => `${c.M}x${c.N}x${c.K}${c.transA ? ' transA' : ''}${c.transB ? ' transB' : ''}` +
  `${c.bias ? ' +bias' : ''}${c.accumulate ? ' accumulate' : ''}${c.splits ? ` splits=${c.splits}` : ''}`;

const combos = [[false, false], [true, false], [false, true], [true, true]];

describe('matmul, general path (shapes not multiples of 4)', () => {
  const shapes = [[7, 5, 9], [13, 6, 3], [33, 17, 65], [1, 1, 1]];
  for (const [transA, transB] of combos) {
    for (const [k, [M, N, K]] of shapes.entries()) {
      const c: Case = { M, N, K, transA, transB, bias: k % 2 === 0, accumulate: k === 1 || k === 3 };
      it(name(c), () => check(c));
    }
  }
});

// The vec4 shapes run through both kernels: the subgroup-shared one (where the adapter has
// subgroups; lavapipe does) and the plain vec4 one.
const variants = subgroupsCanShare(g) ? ['subgroup-shared', 'plain'] : ['plain'];
it('lavapipe offers the subgroup-shared kernel (else only the plain one is tested here)', () => {
  if (g.adapter.info.description.includes('llvmpipe') || g.adapter.info.device.includes('llvmpipe')) expect(variants).toContain('subgroup-shared');
});
for (const variant of variants) {
  describe(`matmul, vec4 path (M, N, K multiples of 4), ${variant}`, () => {
    beforeAll(() => { MATMUL_SG.mode = variant === 'subgroup-shared' ? 'shared' : 'plain'; });
    afterAll(() => { MATMUL_SG.mode = 'auto'; });
    // 36 rows: the last workgroup's tile is part-filled; 4x4x4: a single tile; 516 x 36: several
    // row blocks (the shared kernel's are 256 rows) and a part-filled column block (16 columns each).
    const shapes = [[36, 12, 20], [4, 4, 4], [68, 40, 8], [516, 36, 12]];
    for (const [transA, transB] of combos) {
      for (const [k, [M, N, K]] of shapes.entries()) {
        const c: Case = { M, N, K, transA, transB, bias: k !== 1, accumulate: k === 1 };
        it(name(c), () => check(c));
      }
    }
  });

  describe(`matmul, split-K, ${variant}`, () => {
    beforeAll(() => { MATMUL_SG.mode = variant === 'subgroup-shared' ? 'shared' : 'plain'; });
    afterAll(() => { MATMUL_SG.mode = 'auto'; });
    it('is chosen for a tiny output with a long K (dense forward) and not for the weight gradient', () => {
      expect(matmulSplits(16, 1024, 18432)).toBeGreaterThan(1);
      expect(matmulSplits(18432, 1024, 16)).toBe(1);
      expect(matmulSplits(1024, 1024, 1024)).toBe(1);
    });
    const cases: Case[] = [
      { M: 5, N: 7, K: 1001, splits: 3, bias: true },                      // general path, ragged last split
      { M: 5, N: 7, K: 1001, splits: 4, accumulate: true, transA: true, transB: true },
      { M: 16, N: 64, K: 2048, bias: true },                                // vec4, chosen automatically
      { M: 16, N: 256, K: 4608, bias: true, accumulate: true },             // the dense forward, scaled down
      { M: 16, N: 4608, K: 256, transB: true },                             // its input gradient
      { M: 4608, N: 256, K: 16, transA: true },                             // its weight gradient
    ];
    for (const c of cases) it(name(c), () => check(c));

    it('gives the same bits twice', async () => {
      const [M, N, K] = [12, 40, 3000];
      expect(matmulSplits(M, N, K)).toBeGreaterThan(1);
      const ab = upload(g, uniform(M * K, 1)), bb = upload(g, uniform(K * N, 2)), c1 = g.pool.acquire(M * N * 4), c2 = g.pool.acquire(M * N * 4);
      matmul(g, ab, bb, c1, M, N, K);
      matmul(g, ab, bb, c2, M, N, K);
      expect(new Uint32Array(await g.read(c1, M * N * 4))).toEqual(new Uint32Array(await g.read(c2, M * N * 4)));
      for (const buf of [ab, bb, c1, c2]) g.pool.release(buf);
    });
  });
}

describe('matmul kernel choice', () => {
  it('the shared kernel is left to tall matrices (its workgroups cover 512 rows)', () => {
    expect(sharedFits(16)).toBe(false);
    expect(sharedFits(18432)).toBe(true);
    expect(sharedFits(1024)).toBe(true);
  });
});

describe('matmulBatched with A rows wider than K (lda: the product over the first K columns)', () => {
  // 3 products of A [20 x K] (rows 28 floats apart, only the first K read), B [K x 12]; the floats
  // past K in each row are huge, so reading one of them shows.
  for (const K of [8, 28]) {
    it(`K=${K}, lda=28, split ${K === 28 ? 'in 2' : 'none'}`, async () => {
      const M = 20, N = 12, lda = 28, count = 3;
      const a = uniform(count * M * lda, 31 + K), b = uniform(count * K * N, 32 + K);
      for (let i = 0; i < a.length; i++) if (i % lda >= K) a[i] = 1e6;
      const ab = upload(g, a), bb = upload(g, b), cb = g.pool.acquire(count * M * N * 4);
      matmulBatched(g, ab, bb, cb, M, N, K, { count, a: M * lda, b: K * N, c: M * N, lda }, { splits: K === 28 ? 2 : undefined });
      const got = await download(g, cb, count * M * N);
      for (let q = 0; q < count; q++) {
        const aq = new Float64Array(M * K);
        for (let m = 0; m < M; m++) for (let k = 0; k < K; k++) aq[m * K + k] = a[q * M * lda + m * lda + k];
        const want = new Float64Array(M * N);
        matmulRef(aq, b.subarray(q * K * N, (q + 1) * K * N), want, M, N, K);
        for (let i = 0; i < M * N; i++) expect(Math.abs(got[q * M * N + i] - want[i])).toBeLessThan(4e-7 * K + 1e-6);
      }
      for (const x of [ab, bb, cb]) g.pool.release(x);
    });
  }
  it('refuses an lda under K, not a multiple of 4, or with A transposed', () => {
    const a = g.pool.acquire(1024), b = g.pool.acquire(1024), c = g.pool.acquire(1024);
    const batch = { count: 1, a: 0, b: 0, c: 0 };
    expect(() => matmulBatched(g, a, b, c, 4, 4, 8, { ...batch, lda: 4 })).toThrow(/lda=4/);
    expect(() => matmulBatched(g, a, b, c, 4, 4, 8, { ...batch, lda: 10 })).toThrow(/lda=10/);
    expect(() => matmulBatched(g, a, b, c, 4, 4, 8, { ...batch, lda: 12 }, { transA: true })).toThrow(/not transposed/);
    for (const x of [a, b, c]) g.pool.release(x);
  });
});

describe('matmul arguments', () => {
  it('rejects aliased buffers and bad shapes', () => {
    const a = g.pool.acquire(64), b = g.pool.acquire(64);
    expect(() => matmul(g, a, b, a, 2, 2, 2)).toThrow(/different/);
    expect(() => matmul(g, a, b, b, 2, 0, 2)).toThrow(/bad shape/);
    g.pool.release(a);
    g.pool.release(b);
  });
});
