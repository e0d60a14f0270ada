// Dense matmul launcher: C[M,N] = op(A)·op(B) (+ bias[N]) (+ C), row-major.
//   transA: A stored [K,M];  transB: B stored [N,K].
// Picks, when M, N, K are multiples of 4, the subgroup-shared kernel (shaders/matmul_sg.wgsl) where
// the adapter has subgroups of 8+ lanes, else the vec4 kernel; the general kernel otherwise; and
// deterministic split-K when the output is too small to keep the device busy but K is long (dense
// forward: M=16, K=18432).
import type { Gpu } from '../gpu/gpu.js';
import { groups, subgroupsCanShare } from './shader.js';
import { kernelSpec, pipelineOf, struct, run, fold } from './spec.js';
import { variantOf, type Variant } from './variants.js';

export interface MatmulOptions {
  transA?: boolean;
  transB?: boolean;
  bias?: GPUBuffer;
  /** C += result (C is read, so it must hold valid data). */
  accumulate?: boolean;
  /** Force a number of K splits (tests); by default chosen from the shape. */
  splits?: number;
}

// Tile sizes (WGSL overrides; benchmarks may change them, pipelines are cached per value).
// lavapipe, 1024^3, best of 8: TM=8 with 8x8 invocations (64x32 outputs per workgroup) 10-11
// GFLOPS; TM=4 about 10% slower; workgroups under 64 invocations clearly slower (per-workgroup
// cost). Bigger register tiles (8x8, 16x4 per invocation) did not help there: every storage
// load is a per-lane scalar loop in llvmpipe, and past 8x4 register spills eat the gain.
export const MATMUL_TILE = { TM: 8, WG_X: 8, WG_Y: 8 };
// The subgroup-shared kernel: TM rows x 4*VN columns per invocation, WG invocations on different
// rows. lavapipe, 1024^3, idle machine: TM=8 VN=2 WG=64 17.4 GFLOPS, TM=4 VN=3 WG=32 17.2,
// TM=4 VN=2 WG=32 15.8, VN=1 9-11, VN=4 much slower (3); the plain vec4 kernel 9.5. `mode` 'shared' / 'plain' forces a kernel (tests).
// These are the defaults; a machine's measured table (src/kernels/variants.ts) may choose others per
// shape class (MATMUL_SG_CANDIDATES), e.g. TM=4 on an AVX2 CPU.
export const MATMUL_SG = { mode: 'auto' as 'auto' | 'shared' | 'plain', TM: 8, VN: 2, WG: 64 };
/** The tiles the tuner tries for the shared kernel (TM 4 or 8, VN <= 4, WG the base workgroup size). */
export const MATMUL_SG_CANDIDATES: Variant[] = [
  { TM: 8, VN: 2, WG: 64 }, { TM: 4, VN: 2, WG: 64 }, { TM: 4, VN: 3, WG: 64 }, { TM: 4, VN: 2, WG: 32 },
  { TM: 8, VN: 1, WG: 64 }, { TM: 4, VN: 4, WG: 64 }, { TM: 8, VN: 3, WG: 32 },
];
/**
 * Shape classes of the shared kernel: 'tA' (transposed A: Winograd's weight gradient, short M and
 * long K), 'narrow' (N and K <= 64: the generator's body), 'wide' (VGG, discriminator, upsampling).
 */
export function matmulClass(N: number, K: number, transA: boolean): string {
  return transA ? 'tA' : Math.max(N, K) <= 64 ? 'narrow' : 'wide';
}
const sgTiles = (g: Gpu, N: number, K: number, transA: boolean): Variant =>
  variantOf(g, 'matmul_sg', matmulClass(N, K, transA), { TM: MATMUL_SG.TM, VN: MATMUL_SG.VN, WG: MATMUL_SG.WG });
const WG_R = 256;

const MM_PARAMS = struct('Params', { M: 'u32', N: 'u32', K: 'u32', kPer: 'u32', rowOff: 'u32', accumulate: 'u32', splitStride: 'u32', splits: 'u32', rowStride: 'u32' });
export const MATMUL = kernelSpec('matmul', {
  mm_vec4: { params: MM_PARAMS, buffers: { a4: 'read', b4: 'read', c4: 'read_write' } },
  mm_vec4_bias: { params: MM_PARAMS, buffers: { a4: 'read', b4: 'read', c4: 'read_write', bias: 'read' } },
  mm_gen: { params: MM_PARAMS, buffers: { a: 'read', b: 'read', c: 'read_write' } },
  mm_gen_bias: { params: MM_PARAMS, buffers: { a: 'read', b: 'read', c: 'read_write', bias: 'read' } },
  splitk_reduce: { params: MM_PARAMS, buffers: { part: 'read', cr: 'read_write' } },
  splitk_reduce_bias: { params: MM_PARAMS, buffers: { part: 'read', cr: 'read_write', biasR: 'read' } },
});
export const MATMUL_SG_SPEC = kernelSpec('matmul_sg', {
  main: {
    params: struct('Params', {
      M: 'u32', N: 'u32', K: 'u32', kPer: 'u32', accumulate: 'u32', splitStride: 'u32', gx: 'u32', has_bias: 'u32',
      colBlocks: 'u32', S: 'u32', aBatch: 'u32', bBatch: 'u32', cBatch: 'u32', lda4: 'u32',
    }),
    buffers: { a4: 'read', b4: 'read', c4: 'read_write', bias4: 'read?' },
  },
}, { prelude: true });

type MmParams = Record<keyof typeof MM_PARAMS.fields, number>;
/** One dispatch of the plain kernel (vec4 or general entry, with or without bias), its operands by binding name. */
function runMm(g: Gpu, pipe: ReturnType<Gpu['pipeline']>, vec4: boolean, params: MmParams, a: GPUBuffer, b: GPUBuffer, c: GPUBuffer,
  bias: GPUBuffer | undefined, wg: [number, number, number]): void {
  if (vec4) {
    if (bias) run(g, pipe, MATMUL.mm_vec4_bias, params, { a4: a, b4: b, c4: c, bias }, wg);
    else run(g, pipe, MATMUL.mm_vec4, params, { a4: a, b4: b, c4: c }, wg);
  } else if (bias) run(g, pipe, MATMUL.mm_gen_bias, params, { a, b, c, bias }, wg);
  else run(g, pipe, MATMUL.mm_gen, params, { a, b, c }, wg);
}
const maxWg = (g: Gpu) => g.limits.maxComputeWorkgroupsPerDimension;
// Split K when the grid has fewer invocations than this...
const SPLIT_BELOW_INVOCATIONS = 16384;
// ...into ranges of at least this many k (a multiple of 4).
const MIN_K_PER_SPLIT = 256;

/** Number of K splits chosen for a shape (exported for tests and benchmarks). */
export function matmulSplits(M: number, N: number, K: number): number {
  const inv = Math.ceil(M / MATMUL_TILE.TM) * Math.ceil(N / 4);
  if (inv >= SPLIT_BELOW_INVOCATIONS || K < 2 * MIN_K_PER_SPLIT) return 1;
  return Math.max(1, Math.min(Math.ceil(SPLIT_BELOW_INVOCATIONS / inv), Math.floor(K / MIN_K_PER_SPLIT), 64));
}

/** K splits for this call (opts.splits or the shape's choice), as ranges of kPer (a multiple of 4, all non-empty). */
function splitPlan(M: number, N: number, K: number, opts: MatmulOptions): { S: number; kPer: number } {
  const want = opts.splits ?? matmulSplits(M, N, K);
  const kPer = want > 1 ? Math.ceil(K / want / 4) * 4 : K; // the vec4 loops step k by 4
  const S = Math.ceil(K / kPer);
  if (S > 65535) throw new Error('matmul: too many K splits');
  return { S, kPer };
}

/** Adds the S partial slabs [S, M, N] into c in slab order (+ bias, + c when accumulating). */
function reduceSplits(g: Gpu, partial: GPUBuffer, c: GPUBuffer, bias: GPUBuffer | undefined, M: number, N: number, K: number,
  kPer: number, S: number, accumulate: boolean): void {
  const MN = M * N;
  const [x, y] = fold(g, groups(MN, WG_R));
  const entry = bias ? 'splitk_reduce_bias' : 'splitk_reduce';
  const params = { M, N, K, kPer, rowOff: 0, accumulate: Number(accumulate), splitStride: MN, splits: S, rowStride: x * WG_R };
  const pipe = pipelineOf(g, MATMUL[entry], { WG_R });
  if (bias) run(g, pipe, MATMUL.splitk_reduce_bias, params, { part: partial, cr: c, biasR: bias }, [x, y]);
  else run(g, pipe, MATMUL.splitk_reduce, params, { part: partial, cr: c }, [x, y]);
}

export function matmul(g: Gpu, a: GPUBuffer, b: GPUBuffer, c: GPUBuffer, M: number, N: number, K: number,
  opts: MatmulOptions = {}): void {
  if (!(M > 0 && N > 0 && K > 0) || ![M, N, K].every(Number.isInteger)) {
    throw new Error(`matmul: bad shape M=${M} N=${N} K=${K}`);
  }
  const { transA = false, transB = false, bias, accumulate = false } = opts;
  const distinct = new Set([a, b, c, bias].filter(Boolean));
  if (distinct.size !== (bias ? 4 : 3)) throw new Error('matmul: a, b, c and bias must be different buffers');
  const vec4 = M % 4 === 0 && N % 4 === 0 && K % 4 === 0;
  const mode = MATMUL_SG.mode;
  // Which kernel runs depends on the built-in tiles only, never on a measured table: a table
  // changes the shared kernel's tiles (the same bits), not the kernel (src/kernels/variants.ts).
  if (vec4 && mode !== 'plain' && (mode === 'shared' || sharedFits(M)) && subgroupsCanShare(g)) { matmulShared(g, a, b, c, M, N, K, opts); return; }
  const { TM, WG_X, WG_Y } = MATMUL_TILE;
  const constants = { TRANS_A: Number(transA), TRANS_B: Number(transB), TM, WG_X, WG_Y };
  const entry = `${vec4 ? 'mm_vec4' : 'mm_gen'}${bias ? '_bias' : ''}` as const;

  const { S, kPer } = splitPlan(M, N, K, opts);
  const gx = groups(groups(N, 4), WG_X);
  if (gx > maxWg(g)) throw new Error(`matmul: N=${N} too large for one grid row`);
  const rowsPerDispatch = maxWg(g) * WG_Y * TM;

  if (S === 1) {
    const pipe = pipelineOf(g, MATMUL[entry], constants);
    for (let r0 = 0; r0 < M; r0 += rowsPerDispatch) {
      const rows = Math.min(rowsPerDispatch, M - r0);
      runMm(g, pipe, vec4, { M, N, K, kPer: K, rowOff: r0, accumulate: Number(accumulate), splitStride: 0, splits: 1, rowStride: 0 },
        a, b, c, bias, [gx, groups(groups(rows, TM), WG_Y), 1]);
    }
    return;
  }

  // Split-K: slabs [S, M, N] of partial sums, then one pass adds them in slab order.
  const MN = M * N;
  const partial = g.pool.acquire(S * MN * 4, 'matmul.splitK');
  const slabEntry = vec4 ? 'mm_vec4' : 'mm_gen';
  const pipe = pipelineOf(g, MATMUL[slabEntry], constants);
  for (let r0 = 0; r0 < M; r0 += rowsPerDispatch) {
    const rows = Math.min(rowsPerDispatch, M - r0);
    runMm(g, pipe, vec4, { M, N, K, kPer, rowOff: r0, accumulate: 0, splitStride: MN, splits: S, rowStride: 0 },
      a, b, partial, undefined, [gx, groups(groups(rows, TM), WG_Y), S]);
  }
  reduceSplits(g, partial, c, bias, M, N, K, kPer, S, accumulate);
  g.pool.release(partial);
}

/**
 * Whether the shared kernel suits M rows: its workgroups cover TM*WG rows (512) and rows past M are
 * computed and dropped, so a short M (the dense layer's batch of 16) would waste most of the work
 * (measured: 16 x 1024 x 18432 ran 7x slower than the plain kernel's split-K).
 */
export function sharedFits(M: number): boolean {
  const rows = MATMUL_SG.TM * MATMUL_SG.WG;
  return Math.ceil(M / rows) * rows <= 1.25 * M;
}

/** The subgroup-shared kernel (M, N, K multiples of 4), with split-K as above. */
function matmulShared(g: Gpu, a: GPUBuffer, b: GPUBuffer, c: GPUBuffer, M: number, N: number, K: number, opts: MatmulOptions): void {
  const t = sgTiles(g, N, K, !!opts.transA);
  sharedDispatch(g, a, b, c, M, N, K, { count: 1, a: 0, b: 0, c: 0 }, opts, t, t.WG, subgroupsCanShare(g));
}

/**
 * Independent products in one buffer each, `a`, `b`, `c` floats apart (multiples of 4). `lda`: floats
 * between A's rows (A not transposed; a multiple of 4, at least K; default K): the product over the
 * first K columns of a wider A.
 */
export interface MatmulBatch { count: number; a: number; b: number; c: number; lda?: number }

/**
 * `batch.count` products C_i = op(A_i)·op(B_i) (+ C_i when accumulating) in one dispatch, with the
 * subgroup-shared kernel (its plain prelude where the adapter cannot share). M, N, K multiples of 4.
 * Workgroups are sized down for short M (TM*WG rows each, WG from 64 down to 8), so that a product
 * of 64 rows (Winograd's weight gradient) does not compute 512. Split-K as in `matmul`.
 */
export function matmulBatched(g: Gpu, a: GPUBuffer, b: GPUBuffer, c: GPUBuffer, M: number, N: number, K: number,
  batch: MatmulBatch, opts: Omit<MatmulOptions, 'bias'> = {}): void {
  if (![M, N, K, batch.a, batch.b, batch.c].every((v) => Number.isInteger(v) && v % 4 === 0) || !(M > 0 && N > 0 && K > 0)) {
    throw new Error(`matmulBatched: M=${M} N=${N} K=${K} and the batch strides must be positive multiples of 4`);
  }
  if (batch.lda !== undefined && (opts.transA || !Number.isInteger(batch.lda) || batch.lda % 4 !== 0 || batch.lda < K)) {
    throw new Error(`matmulBatched: lda=${batch.lda} must be a multiple of 4 no less than K=${K}, A not transposed`);
  }
  const t = sgTiles(g, N, K, !!opts.transA);
  let WG = t.WG;
  while (WG > 8 && Math.ceil(M / (t.TM * WG)) * t.TM * WG > 1.15 * M) WG /= 2;
  sharedDispatch(g, a, b, c, M, N, K, batch, opts, t, WG, subgroupsCanShare(g));
}

function sharedDispatch(g: Gpu, a: GPUBuffer, b: GPUBuffer, c: GPUBuffer, M: number, N: number, K: number,
  batch: MatmulBatch, opts: MatmulOptions, tiles: Variant, WG: number, share: boolean): void {
  const { transA = false, transB = false, bias, accumulate = false } = opts;
  const TM = tiles.TM;
  const VN = Math.min(tiles.VN, N / 4);
  const rowBlocks = groups(M, TM * WG), colBlocks = groups(N, 4 * VN);
  const [gx, fy] = fold(g, rowBlocks);
  if (fy * colBlocks > maxWg(g)) throw new Error(`matmul: ${M}x${N} too large for one dispatch`);
  const { S, kPer } = splitPlan(M, N * batch.count, K, opts);
  if (S * batch.count > maxWg(g)) throw new Error(`matmul: ${batch.count} batches x ${S} splits too many for one dispatch`);
  const pipe = pipelineOf(g, MATMUL_SG_SPEC.main, { TRANS_A: Number(transA), TRANS_B: Number(transB), TM, VN, WG }, share);
  const grid: [number, number, number] = [gx, fy * colBlocks, S * batch.count];
  const strides = { aBatch: batch.a / 4, bBatch: batch.b / 4, cBatch: batch.c / 4, lda4: (batch.lda ?? K) / 4 };
  if (S === 1) {
    run(g, pipe, MATMUL_SG_SPEC.main, { M, N, K, kPer: K, accumulate: Number(accumulate), splitStride: 0, gx, has_bias: bias ? 1 : 0, colBlocks, S: 1, ...strides },
      { a4: a, b4: b, c4: c, bias4: bias }, grid);
  } else {
    // The reduce pass adds [S, count*M*N] slabs elementwise: batches must be dense in C.
    if (batch.count > 1 && batch.c !== M * N) throw new Error('matmulBatched: split-K needs C batches M*N apart');
    const MN = M * N * batch.count;
    const partial = g.pool.acquire(S * MN * 4, 'matmul.splitK');
    run(g, pipe, MATMUL_SG_SPEC.main, { M, N, K, kPer, accumulate: 0, splitStride: MN, gx, has_bias: 0, colBlocks, S, ...strides },
      { a4: a, b4: b, c4: partial, bias4: undefined }, grid);
    reduceSplits(g, partial, c, bias, M * batch.count, N, K, kPer, S, accumulate);
    g.pool.release(partial);
  }
}
