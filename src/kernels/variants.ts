// Kernel variants chosen by measuring (issue 9): the tile sizes (WGSL override constants) of a kernel
// family, per class of shapes, timed once on a machine and kept in a table that the launchers read.
//
// Why measure: the best tiles depend on the machine, not only on the adapter. lavapipe reports the
// same adapter on an AVX-512 EPYC and on an AVX2 one, yet the Winograd GEMM ran fastest with TM=8 on
// the first and 10-25% faster with TM=4 on the second; a discrete GPU wants other tiles again.
//
// Every candidate of a family computes each output with the same operations in the same order
// (tiles only change which invocation computes which outputs), so a choice changes speed, never
// results: the tuner refuses a candidate whose output differs from the default's by one bit, and
// test/kernels/variants.test.ts checks every candidate that way. A resumed training run therefore
// stays exact whatever table it runs with.
//
// The table lives on the Gpu (`g.variants`), empty by default (every launcher then uses its built-in
// tiles). `tuneVariants` measures; the platform layer keeps the result (Node: src/node/variants.ts,
// a JSON file in the user's cache folder, keyed by adapter and CPU).
import type { Gpu } from '../gpu/gpu.js';

/** Override constants of one variant, e.g. { TM: 4, VN: 2, WG: 64 }. */
export type Variant = Record<string, number>;
/** `${family}|${class}` -> the variant chosen for that class. */
export type VariantTable = Record<string, Variant>;

/** The variant for a family and shape class: the table's choice, else the launcher's default. */
export function variantOf(g: Gpu, family: string, cls: string, fallback: Variant): Variant {
  return g.variants[`${family}|${cls}`] ?? fallback;
}

/** One thing to measure: a family at a representative shape of one class, and its candidates. */
export interface TuneCase {
  family: string;
  cls: string;
  /** What the representative shape is, for the report. */
  shape: string;
  /** The launcher's built-in variant (always among the candidates, measured first). */
  fallback: Variant;
  candidates: Variant[];
  /** Uploads random inputs; returns the work (one launcher call) and its output buffer. */
  setup(g: Gpu): { run(): void; output: GPUBuffer; floats: number; dispose(): void };
}

export interface TuneResult {
  key: string;
  shape: string;
  /** Median milliseconds per candidate (null: refused, its output differed from the default's). */
  timings: Array<{ variant: Variant; ms: number | null }>;
  chosen: Variant;
  /** The default's median over the chosen one's. */
  speedup: number;
}

const same = (a: Variant, b: Variant) =>
  Object.keys(a).length === Object.keys(b).length && Object.keys(a).every((k) => a[k] === b[k]);

export const variantName = (v: Variant): string => Object.entries(v).map(([k, x]) => `${k}=${x}`).join(' ');

/**
 * Times every candidate of every case on random data (one warm-up call that compiles it and whose
 * output must equal the default's bit for bit, then `runs` timed calls in interleaved rounds,
 * median) and returns the fastest per case. A candidate must beat the default by `margin` (8%) to
 * replace it, so that noise does not flip choices.
 * `g.variants` is left as it was; the caller installs the returned table.
 */
export async function tuneVariants(g: Gpu, cases: TuneCase[], o: {
  runs?: number; margin?: number; onResult?: (r: TuneResult) => void;
  /** Injected clock (tests); performance.now by default. */
  now?: () => number;
} = {}): Promise<{ table: VariantTable; results: TuneResult[] }> {
  const runs = o.runs ?? 5, margin = o.margin ?? 1.08, now = o.now ?? (() => performance.now());
  const saved = { ...g.variants };
  const table: VariantTable = {};
  const results: TuneResult[] = [];
  try {
    for (const c of cases) {
      const key = `${c.family}|${c.cls}`;
      const work = c.setup(g);
      const order = [c.fallback, ...c.candidates.filter((v) => !same(v, c.fallback))];
      let reference: Uint8Array | null = null;
      const valid: Variant[] = [];
      const refused = new Set<Variant>();
      const times = new Map<Variant, number[]>();
      try {
        // compile and check each candidate once...
        for (const v of order) {
          g.variants[key] = v;
          work.run();
          const bytes = new Uint8Array(await g.read(work.output, work.floats * 4));
          if (!reference) reference = bytes;
          else if (!bytesEqual(bytes, reference)) { refused.add(v); continue; }
          valid.push(v);
          times.set(v, []);
        }
        // ...then time them in interleaved rounds, so that a load that comes and goes on a shared
        // machine weighs on every candidate alike rather than on whichever ran at that moment
        for (let i = 0; i < runs; i++) {
          for (const v of valid) {
            g.variants[key] = v;
            await g.sync();
            const t0 = now();
            work.run();
            await g.sync();
            times.get(v)!.push(now() - t0);
          }
        }
      } finally {
        work.dispose();
      }
      const median = (ts: number[]) => [...ts].sort((a, b) => a - b)[Math.floor(ts.length / 2)];
      const timings: TuneResult['timings'] = order.map((v) => ({ variant: v, ms: refused.has(v) ? null : median(times.get(v)!) }));
      const base = timings[0].ms!;
      let best = timings[0];
      for (const t of timings.slice(1)) if (t.ms !== null && t.ms * margin < base && t.ms < best.ms!) best = t;
      table[key] = best.variant;
      const r: TuneResult = { key, shape: c.shape, timings, chosen: best.variant, speedup: base / best.ms! };
      results.push(r);
      o.onResult?.(r);
    }
  } finally {
    g.variants = saved;
  }
  return { table, results };
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
