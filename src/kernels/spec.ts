// Kernel contracts, declared once: for every entry point of every WGSL kernel, the fields of its
// uniform struct (by name and type, in declaration order) and its storage bindings 1, 2, ... (by
// name and access). Launchers pack uniforms and bind buffers by these names through `run`, which
// also supplies dummies for absent optional bindings and refuses a written buffer bound twice;
// test/kernels/spec.test.ts parses every shader and compares its `struct` and `@binding` lists
// with the specs, so a field renamed, added or moved on one side fails there, not as wrong numbers.
import type { Gpu } from '../gpu/gpu.js';
import { GpuError } from '../gpu/gpu.js';
import { shaderSource, withPrelude } from './shader.js';

export type Scalar = 'u32' | 'i32' | 'f32';
/** A storage binding: read, read_write, or read-only and optional (a dummy is bound when absent). */
export type Access = 'read' | 'read_write' | 'read?';

/** A WGSL uniform struct: its name and its fields in declaration order. */
export interface StructSpec<F extends string = string> { name: string; fields: Readonly<Record<F, Scalar>> }

/** One entry point: `kernel.entry`, its uniform struct and its storage bindings in binding order. */
export interface EntrySpec<F extends string = string, B extends string = string> {
  kernel: string;                        // shaders/<kernel>.wgsl
  entry: string;                         // the WGSL entry point ('main' behind a prelude)
  prelude: boolean;                      // compiled behind prelude_share.wgsl / prelude_noshare.wgsl
  params: StructSpec<F>;
  buffers: Readonly<Record<B, Access>>;
}

/** The buffers an entry spec binds, by name: what its launcher's callers must pass (compile-time checked). */
export type BuffersOf<S> = S extends EntrySpec<string, infer B> ? { [K in B]: GPUBuffer | undefined } : never;

/** Every entry spec made by `kernelSpec`, for the spec-vs-WGSL test. */
export const ALL_ENTRY_SPECS: EntrySpec[] = [];

export function struct<const F extends string>(name: string, fields: Record<F, Scalar>): StructSpec<F> {
  return { name, fields };
}

/** The entry specs of one shader file, keyed by entry point. */
export function kernelSpec<const T extends Record<string, { params: StructSpec; buffers: Record<string, Access> }>>(
  kernel: string, entries: T, opts: { prelude?: boolean } = {},
): { [E in keyof T]: EntrySpec<T[E]['params'] extends StructSpec<infer F> ? F : never, Extract<keyof T[E]['buffers'], string>> } {
  const out: Record<string, EntrySpec> = {};
  for (const [entry, e] of Object.entries(entries)) {
    const spec: EntrySpec = { kernel, entry: opts.prelude ? 'main' : entry, prelude: !!opts.prelude, params: e.params, buffers: e.buffers };
    out[entry] = spec;
    ALL_ENTRY_SPECS.push(spec);
  }
  return out as never;
}

/** Packs a uniform block from named values: every field of the struct, nothing else. */
export function packParams<F extends string>(s: StructSpec<F>, values: Record<F, number>, where = s.name): ArrayBuffer {
  const names = Object.keys(s.fields) as F[];
  for (const k of Object.keys(values)) {
    if (!(k in s.fields)) throw new GpuError(`${where}: no uniform field '${k}' in struct ${s.name}`);
  }
  const buf = new ArrayBuffer(Math.max(16, Math.ceil(names.length / 4) * 16));
  const u32 = new Uint32Array(buf), i32 = new Int32Array(buf), f32 = new Float32Array(buf);
  names.forEach((k, i) => {
    const v = values[k];
    const type = s.fields[k];
    if (typeof v !== 'number') throw new GpuError(`${where}: uniform field '${k}' not given`);
    if (type === 'f32') { f32[i] = v; return; }
    const ok = Number.isInteger(v) && (type === 'u32' ? v >= 0 && v < 2 ** 32 : v >= -(2 ** 31) && v < 2 ** 31);
    if (!ok) throw new GpuError(`${where}: uniform field '${k}' (${type}) cannot hold ${v}`);
    if (type === 'u32') u32[i] = v; else i32[i] = v;
  });
  return buf;
}

/** A pipeline's name, its profile row: `kernel.entry`, plus `.plain` for a prelude kernel built without subgroup sharing. */
export function pipelineName(spec: EntrySpec, share = false): string {
  return `${spec.kernel}.${spec.entry}${spec.prelude && !share ? '.plain' : ''}`;
}

/**
 * The compute pipeline of `spec`'s entry point, identified by the spec: shaders/<kernel>.wgsl (for a
 * prelude kernel behind the sharing or the plain prelude, `share`) with these override constants,
 * named by pipelineName. The Gpu caches it on its source, entry and constants.
 */
export function pipelineOf(g: Gpu, spec: EntrySpec, constants: Record<string, number> = {}, share = false): Parameters<Gpu['dispatch']>[0] {
  return g.pipeline(pipelineName(spec, share), spec.prelude ? withPrelude(spec.kernel, share) : shaderSource(spec.kernel), constants, spec.entry);
}

/**
 * Records one dispatch of `spec`'s entry point: uniforms packed by name, buffers bound by name in the
 * spec's binding order. Absent optional ('read?') buffers are bound to 16-byte dummies the kernel
 * never reads. A buffer the kernel writes may not also be bound as another argument (WebGPU forbids
 * it in one dispatch): refused here with the binding names rather than as an asynchronous error.
 */
export function run<F extends string, B extends string>(g: Gpu, pipe: Parameters<Gpu['dispatch']>[0], spec: EntrySpec<F, B>,
  params: Record<F, number>, buffers: { [K in B]: GPUBuffer | undefined }, workgroups: [number, number?, number?]): void {
  const where = `${spec.kernel}.${spec.entry}`;
  if (pipe.name !== pipelineName(spec) && pipe.name !== pipelineName(spec, true)) throw new GpuError(`${where}: dispatched with the pipeline '${pipe.name}' (pipelineOf makes the spec's own)`);
  const names = Object.keys(spec.buffers) as B[];
  for (const k of Object.keys(buffers)) {
    if (!(k in spec.buffers)) throw new GpuError(`${where}: no binding '${k}'`);
  }
  const dummies: GPUBuffer[] = [];
  const bound = names.map((k) => {
    const b = buffers[k];
    if (b) return b;
    if (spec.buffers[k] !== 'read?') throw new GpuError(`${where}: binding '${k}' not given`);
    const d = g.pool.acquire(16, `${spec.kernel} dummy ${k}`);
    dummies.push(d);
    return d;
  });
  names.forEach((k, i) => {
    if (spec.buffers[k] !== 'read_write') return;
    const j = bound.findIndex((b, jj) => jj !== i && b === bound[i]);
    if (j >= 0) throw new GpuError(`${where}: '${k}' is written and also bound as '${names[j]}' (no in-place use)`);
  });
  g.dispatch(pipe, packParams(spec.params, params, where), bound, workgroups);
  for (const d of dummies) g.pool.release(d);
}

/**
 * A launch of `count` invocations as a 2-D grid of `wg`-wide workgroups, folded into y past the
 * adapter's workgroups-per-dimension limit. Kernels index `id.x + id.y * stride`.
 */
export function grid(g: Gpu, count: number, wg: number): { wx: number; wy: number; stride: number } {
  const [wx, wy] = fold(g, Math.ceil(count / wg));
  return { wx, wy, stride: wx * wg };
}

/** `groups` workgroups as [x, y], x within the adapter's workgroups-per-dimension limit. */
export function fold(g: Gpu, groups: number): [number, number] {
  const max = g.limits.maxComputeWorkgroupsPerDimension;
  const x = Math.max(1, Math.min(groups, max));
  return [x, groups === 0 ? 0 : Math.ceil(groups / x)];
}

/**
 * The vec4 kernels read whole vec4s, so a buffer holding n floats must span ceil(n/4) vec4s.
 * Pool buffers always do (their sizes are multiples of 256 bytes); anything else is caught here.
 */
export function checkVec4(kernel: string, n: number, ...bufs: GPUBuffer[]): void {
  if (!Number.isInteger(n) || n < 0) throw new Error(`${kernel}: bad element count ${n}`);
  const need = Math.ceil(n / 4) * 16;
  for (const b of bufs) {
    if (b.size < need) throw new Error(`${kernel}: buffer of ${b.size} bytes is too small for ${n} floats (${need} bytes as vec4)`);
  }
}
