// Kernel variants chosen by measuring (src/kernels/variants.ts): every candidate tile of every
// tunable family gives the default's output bit for bit at awkward shapes (so a measured table
// changes speed, never results, and the float64-reference tests of the default cover them all);
// the launchers read the table; the tuner keeps the fastest valid candidate and refuses a wrong
// one; the Node cache file round-trips, is per machine, and a damaged one is reported and ignored.
import { describe, it, expect, afterEach } from 'vitest';
import { mkdtempSync, writeFileSync, existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { testGpu, uniform, upload } from '../helpers.js';
import {
  conv2dForward, conv2dBackwardInput, convClass, convOutSize, conv2dTiles, CONV_CANDIDATES, CONV_THIN_CANDIDATES,
  type ConvShape,
} from '../../src/kernels/conv2d.js';
import { matmulBatched, matmulClass, MATMUL_SG, MATMUL_SG_CANDIDATES } from '../../src/kernels/matmul.js';
import { tuneVariants, type TuneCase, type Variant } from '../../src/kernels/variants.js';
import { tuneCases } from '../../src/kernels/tune-cases.js';
import { loadVariants, machineKey, resetVariants, saveVariants } from '../../src/node/variants.js';

const g = await testGpu();
afterEach(() => { g.variants = {}; });

async function bytes(b: GPUBuffer, floats: number): Promise<Uint8Array> {
  return new Uint8Array(await g.read(b, floats * 4));
}

/** Runs `work` with each candidate installed for `key`; every output must equal the default's. */
async function allCandidatesAgree(key: string, candidates: Variant[], out: GPUBuffer, floats: number, work: () => void): Promise<void> {
  g.variants = {};
  work();
  const want = await bytes(out, floats);
  for (const v of candidates) {
    g.variants = { [key]: v };
    g.write(out, new Float32Array(floats).fill(NaN)); // nothing left over from the last run
    work();
    const got = await bytes(out, floats);
    expect(Buffer.compare(Buffer.from(got), Buffer.from(want)), `${key} ${JSON.stringify(v)}`).toBe(0);
  }
}

describe('every matmul_sg candidate gives the default output bit for bit', () => {
  // awkward: M not a multiple of any TM*WG, N/4 not a multiple of VN, batched as Winograd does
  const cases: Array<[number, number, number, boolean]> = [[44, 12, 28, false], [92, 20, 8, false], [36, 84, 100, false], [20, 28, 124, true]];
  for (const [M, N, K, transA] of cases) {
    it(`36 x ${transA ? 'A^T ' : ''}${M}x${K} . ${K}x${N} (${matmulClass(N, K, transA)})`, async () => {
      const count = 36;
      const a = upload(g, uniform(count * M * K, 1)), b = upload(g, uniform(count * K * N, 2));
      const c = g.pool.acquire(count * M * N * 4);
      await allCandidatesAgree(`matmul_sg|${matmulClass(N, K, transA)}`, MATMUL_SG_CANDIDATES, c, count * M * N,
        () => matmulBatched(g, a, b, c, M, N, K, { count, a: M * K, b: K * N, c: M * N }, { transA }));
      for (const x of [a, b, c]) g.pool.release(x);
    });
  }
});

describe('every direct-conv candidate gives the default output bit for bit', () => {
  const shape = (N: number, H: number, W: number, Cin: number, Cout: number, K: number, stride = 1): ConvShape =>
    ({ N, H, W, Cin, Cout, K, stride });
  const shapes = [
    shape(2, 7, 11, 6, 3, 9), shape(1, 9, 10, 3, 8, 9), shape(2, 9, 11, 8, 12, 3, 2), shape(2, 7, 9, 3, 12, 3),
    shape(2, 6, 13, 5, 6, 5),
  ];
  for (const s of shapes) {
    for (const fwd of [true, false]) {
      const cls = convClass(s, fwd ? s.Cout : s.Cin);
      const family = fwd ? 'conv2d_fwd' : 'conv2d_bwd_input';
      it(`${family} ${s.N}x${s.H}x${s.W} ${s.Cin}->${s.Cout} ${s.K}x${s.K} s${s.stride} (${cls})`, async () => {
        const { Ho, Wo } = convOutSize(s);
        const xN = s.N * s.H * s.W * s.Cin, yN = s.N * Ho * Wo * s.Cout;
        const w = upload(g, uniform(s.K * s.K * s.Cin * s.Cout, 3)), src = upload(g, uniform(fwd ? xN : yN, 4));
        const out = g.pool.acquire((fwd ? yN : xN) * 4);
        const candidates = cls === 'thin' ? CONV_THIN_CANDIDATES : CONV_CANDIDATES;
        conv2dTiles.winograd = false;
        try {
          await allCandidatesAgree(`${family}|${cls}`, candidates, out, fwd ? yN : xN,
            () => (fwd ? conv2dForward(g, s, src, w, out) : conv2dBackwardInput(g, s, src, w, out)));
        } finally { conv2dTiles.winograd = true; }
        for (const x of [w, src, out]) g.pool.release(x);
      });
    }
  }
});

describe('the launchers read the table', () => {
  it('a chosen variant builds its own pipeline; the built-in tiles are used without a table', async () => {
    const M = 64, N = 16, K = 16;
    const a = upload(g, uniform(M * K, 5)), b = upload(g, uniform(K * N, 6)), c = g.pool.acquire(M * N * 4);
    const run = () => matmulBatched(g, a, b, c, M, N, K, { count: 1, a: 0, b: 0, c: 0 });
    run(); await g.sync();
    const before = g.stats.pipelinesCompiled;
    run(); await g.sync();
    expect(g.stats.pipelinesCompiled).toBe(before); // cached
    // a variant no launcher uses by default (TM 4 with VN 1 and WG 16)
    g.variants = { [`matmul_sg|${matmulClass(N, K, false)}`]: { TM: 4, VN: 1, WG: 16 } };
    run(); await g.sync();
    expect(g.stats.pipelinesCompiled).toBe(before + 1);
    expect(MATMUL_SG.TM).toBe(8); // the defaults themselves are untouched
    for (const x of [a, b, c]) g.pool.release(x);
  });

  it('the direct convs too, forward and input gradient', async () => {
    const s: ConvShape = { N: 1, H: 6, W: 7, Cin: 8, Cout: 8, K: 5, stride: 1 };
    const x = upload(g, uniform(6 * 7 * 8, 7)), w = upload(g, uniform(25 * 64, 8)), y = g.pool.acquire(6 * 7 * 8 * 4);
    for (const [family, run] of [['conv2d_fwd', () => conv2dForward(g, s, x, w, y)], ['conv2d_bwd_input', () => conv2dBackwardInput(g, s, x, w, y)]] as const) {
      g.variants = {};
      run(); await g.sync();
      const before = g.stats.pipelinesCompiled;
      g.variants = { [`${family}|${convClass(s, 8)}`]: { TM: 3, VN: 1 } };
      run(); await g.sync();
      expect(g.stats.pipelinesCompiled, family).toBe(before + 1);
    }
    for (const b of [x, w, y]) g.pool.release(b);
  });

  it('every tune case is of the class it measures (so the table entry it writes is the one launchers read)', () => {
    // tuneCases() throws if a representative shape falls in another class
    const cases = tuneCases();
    expect(new Set(cases.map((c) => `${c.family}|${c.cls}`)).size).toBe(cases.length);
  });
});

describe('tuneVariants', () => {
  /** A fake family: the output is the variant's A (wrong for A = 3); its time is A's entry in `ms`. */
  function fakeCase(): TuneCase {
    return {
      family: 'fake', cls: 'one', shape: 'none', fallback: { A: 1 },
      candidates: [{ A: 1 }, { A: 2 }, { A: 3 }, { A: 4 }],
      setup(gpu) {
        const out = gpu.pool.acquire(16);
        return {
          run: () => { const A = gpu.variants['fake|one'].A; gpu.write(out, new Float32Array([A === 3 ? 7 : 1, 2, 3, 4])); },
          output: out, floats: 4, dispose: () => gpu.pool.release(out),
        };
      },
    };
  }
  /** A clock that advances by the current variant's time on every second reading (start, stop). */
  function fakeClock(ms: Record<number, number>) {
    let t = 0, reads = 0;
    return () => { if (reads++ % 2 === 1) t += ms[g.variants['fake|one'].A]; return t; };
  }

  it('keeps the fastest candidate whose output matches, refuses a wrong one, restores the table', async () => {
    const ms = { 1: 10, 2: 6, 3: 1, 4: 8 };
    g.variants = { 'other|x': { B: 2 } };
    const { table, results } = await tuneVariants(g, [fakeCase()], { runs: 3, now: fakeClock(ms) });
    expect(table).toEqual({ 'fake|one': { A: 2 } });
    expect(results[0].timings.map((t) => t.ms)).toEqual([10, 6, null, 8]); // A = 3 is fast but wrong
    expect(results[0].speedup).toBeCloseTo(10 / 6, 10);
    expect(g.variants).toEqual({ 'other|x': { B: 2 } });
  });

  it('keeps the default unless another is faster by the margin', async () => {
    const ms = { 1: 10, 2: 9.8, 3: 1, 4: 9.9 };
    const { table } = await tuneVariants(g, [fakeCase()], { runs: 1, now: fakeClock(ms) });
    expect(table).toEqual({ 'fake|one': { A: 1 } });
  });
});

describe('the table file (Node)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'srgan-variants-'));
  const table = { 'matmul_sg|wide': { TM: 4, VN: 2, WG: 32 } };

  it('round-trips, per machine, and reset forgets it', async () => {
    const path = join(dir, 'sub', 'variants.json');
    expect(await loadVariants(g, path)).toBe('none');
    await saveVariants(g, table, [], path);
    const f = JSON.parse(readFileSync(path, 'utf8'));
    expect(Object.keys(f.machines)).toEqual([machineKey(g)]);
    expect(machineKey(g)).toContain(g.describe());
    g.variants = {};
    expect(await loadVariants(g, path)).toBe('loaded');
    expect(g.variants).toEqual(table);
    // another machine's table is not used, and saving keeps it
    f.machines['some other machine'] = f.machines[machineKey(g)];
    delete f.machines[machineKey(g)];
    writeFileSync(path, JSON.stringify(f));
    g.variants = {};
    expect(await loadVariants(g, path)).toBe('none');
    await saveVariants(g, table, [], path);
    expect(Object.keys(JSON.parse(readFileSync(path, 'utf8')).machines).sort()).toEqual([machineKey(g), 'some other machine'].sort());
    expect(await resetVariants(g, path)).toBe(true);
    expect(await loadVariants(g, path)).toBe('none');
    expect(await resetVariants(g, path, true)).toBe(true);
    expect(existsSync(path)).toBe(false);
  });

  it('a damaged file or table is reported with its path and ignored', async () => {
    const bad = join(dir, 'bad.json');
    for (const text of ['{not json', JSON.stringify({ format: 'something else', machines: {} })]) {
      writeFileSync(bad, text);
      const r = await loadVariants(g, bad);
      expect(typeof r === 'object' && r.problem).toMatch(/bad\.json: .*built-in kernel tiles/);
      expect(g.variants).toEqual({});
    }
    writeFileSync(bad, JSON.stringify({ format: 'srgan-webgpu kernel variants 1', machines: { [machineKey(g)]: { measured: '', table: { 'matmul_sg|wide': { TM: -4 } } } } }));
    const r = await loadVariants(g, bad);
    expect(typeof r === 'object' && r.problem).toMatch(/malformed/);
    expect(g.variants).toEqual({});
  });
});
