// Shared test utilities: seeded random data, GPU upload/download, tolerance checks.
import { afterAll } from 'vitest';
import { getGpu, destroyGpu, type Gpu } from '../src/node/gpu.js';

export { rng } from '../src/nn/random.js';
import { rng } from '../src/nn/random.js';

/** n values uniform in [lo, hi), never all zero. */
export function uniform(n: number, seed: number, lo = -1, hi = 1): Float64Array {
  const r = rng(seed);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = lo + (hi - lo) * r();
  return out;
}

/** The GPU for a test file; destroyed after the file so the worker can exit. */
export async function testGpu(): Promise<Gpu> {
  const g = await getGpu({ verbose: false });
  return g;
}
afterAll(() => destroyGpu());

export function upload(g: Gpu, data: ArrayLike<number>): GPUBuffer {
  const f = Float32Array.from(data);
  const b = g.pool.acquire(Math.max(4, f.byteLength));
  g.write(b, f);
  return b;
}

export async function download(g: Gpu, b: GPUBuffer, n: number): Promise<Float32Array> {
  return new Float32Array(await g.read(b, n * 4));
}

/**
 * Asserts |got - want| <= atol + rtol * |want| elementwise; NaN never passes.
 * Returns the worst error for reporting.
 */
export function expectClose(got: ArrayLike<number>, want: ArrayLike<number>, rtol: number, atol: number, what = ''): number {
  if (got.length !== want.length) throw new Error(`${what}: length ${got.length} != ${want.length}`);
  let worst = 0;
  for (let i = 0; i < got.length; i++) {
    const d = Math.abs(got[i] - want[i]);
    if (!(d <= atol + rtol * Math.abs(want[i]))) {
      throw new Error(`${what}: element ${i}: got ${got[i]}, want ${want[i]} (|diff| ${d}, tol ${atol + rtol * Math.abs(want[i])})`);
    }
    worst = Math.max(worst, d);
  }
  return worst;
}

/** Central finite differences of a scalar function f at x, for the entries listed in idx. */
export function finiteDiff(f: (x: Float64Array) => number, x: Float64Array, idx: number[], h = 1e-5): number[] {
  return idx.map((i) => {
    const xp = Float64Array.from(x); xp[i] += h;
    const xm = Float64Array.from(x); xm[i] -= h;
    return (f(xp) - f(xm)) / (2 * h);
  });
}

/**
 * max |got - want| / max |want| over a tensor, Infinity on NaN: the error measure of the transform
 * paths (Winograd, the split 9x9 conv), whose float32 error scales with the tensor's magnitude.
 */
export function relErr(got: ArrayLike<number>, want: ArrayLike<number>): number {
  if (got.length !== want.length) throw new Error(`relErr: ${got.length} values against ${want.length}`);
  let err = 0, scale = 0;
  for (let i = 0; i < got.length; i++) {
    const d = Math.abs(got[i] - want[i]);
    if (!(d === d)) return Infinity;
    err = Math.max(err, d);
    scale = Math.max(scale, Math.abs(want[i]));
  }
  return err / scale;
}
