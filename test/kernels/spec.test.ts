// Every kernel's contract (src/kernels/spec.ts) against its WGSL: the uniform struct field by field
// (name, type, order) and the storage bindings each entry point uses (binding numbers 1..n, names,
// read or read_write). Parsed from shaders/*.wgsl, so a field renamed, added or moved on one side
// fails here instead of reading the wrong words on the GPU. Also the packing and binding rules of
// `run`, and grid folding at the adapter's limit.
import { describe, test, expect } from 'vitest';
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ALL_ENTRY_SPECS, packParams, struct, grid, fold, run, kernelSpec, type EntrySpec } from '../../src/kernels/spec.js';
import type { Gpu } from '../../src/gpu/gpu.js';
import { testGpu } from '../helpers.js';
// every launcher module, so that ALL_ENTRY_SPECS holds every spec
import { ACTIVATION } from '../../src/kernels/activation.js';
import { ADAM } from '../../src/kernels/adam.js';
import { BATCHNORM } from '../../src/kernels/batchnorm.js';
import { BROADCAST } from '../../src/kernels/broadcast.js';
import { CONV2D_FWD, CONV2D_BWD_INPUT, CONV2D_BWD_WEIGHT, CONV2D_UTIL } from '../../src/kernels/conv2d.js';
import { ELEMENTWISE } from '../../src/kernels/elementwise.js';
import { LOSS } from '../../src/kernels/loss.js';
import { MATMUL, MATMUL_SG_SPEC } from '../../src/kernels/matmul.js';
import { MAXPOOL } from '../../src/kernels/maxpool.js';
import { PIXEL_SHUFFLE } from '../../src/kernels/pixel_shuffle.js';
import { REDUCE } from '../../src/kernels/reduce.js';
import { UPSAMPLE, UPSAMPLE_BILINEAR } from '../../src/kernels/upsample.js';
import { WINOGRAD } from '../../src/kernels/winograd.js';
import { SPLIT9 } from '../../src/kernels/split9.js';
import { CONCAT_CHANNELS } from '../../src/kernels/concat_channels.js';

const SHADERS = fileURLToPath(new URL('../../shaders/', import.meta.url));
const wgsl = (name: string) => readFileSync(`${SHADERS}${name}.wgsl`, 'utf8');
const PRELUDE = 'prelude_share';

interface Global { binding: number; name: string; access: 'uniform' | 'read' | 'read_write'; type: string }

/** What a WGSL module declares: structs, bindings, functions (with bodies) and compute entry points. */
function parse(src: string) {
  const code = src.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/[^\n]*/g, '');
  const structs = new Map<string, Array<[string, string]>>();
  for (const m of code.matchAll(/struct\s+(\w+)\s*\{([^}]*)\}/g)) {
    structs.set(m[1], m[2].split(',').map((f) => f.trim()).filter(Boolean).map((f) => {
      const [n, t] = f.split(':').map((x) => x.trim());
      return [n, t] as [string, string];
    }));
  }
  const globals: Global[] = [];
  for (const m of code.matchAll(/@group\(0\)\s*@binding\((\d+)\)\s*var<([^>]+)>\s*(\w+)\s*:\s*([\w<>]+)/g)) {
    const space = m[2].replace(/\s/g, '');
    const access = space === 'uniform' ? 'uniform' : space === 'storage,read_write' ? 'read_write' : space === 'storage,read' || space === 'storage' ? 'read' : null;
    if (!access) throw new Error(`unknown address space ${m[2]}`);
    globals.push({ binding: Number(m[1]), name: m[3], access, type: m[4] });
  }
  const fns = new Map<string, string>();
  const entries: string[] = [];
  for (const m of code.matchAll(/(@compute[^\n]*\s*)?fn\s+(\w+)\s*\(/g)) {
    let i = code.indexOf('{', m.index! + m[0].length);
    const start = i;
    let depth = 0;
    for (; i < code.length; i++) {
      if (code[i] === '{') depth++;
      else if (code[i] === '}' && --depth === 0) break;
    }
    fns.set(m[2], code.slice(start, i + 1));
    if (m[1]) entries.push(m[2]);
  }
  return { structs, globals, fns, entries };
}

/** The module-scope bindings an entry point uses, directly or through the functions it calls. */
function usedGlobals(mod: ReturnType<typeof parse>, entry: string): Global[] {
  const seen = new Set<string>([entry]);
  const todo = [entry];
  let text = '';
  while (todo.length) {
    const body = mod.fns.get(todo.pop()!)!;
    text += body;
    for (const m of body.matchAll(/\b(\w+)\s*\(/g)) {
      if (mod.fns.has(m[1]) && !seen.has(m[1])) { seen.add(m[1]); todo.push(m[1]); }
    }
  }
  // storage arrays are indexed (name[...]) or passed to arrayLength(&name); uniforms read as name.field
  return mod.globals.filter((g) => new RegExp(g.access === 'uniform' ? `\\b${g.name}\\.` : `(\\b${g.name}\\s*\\[|&${g.name}\\b)`).test(text))
    .sort((a, b) => a.binding - b.binding);
}

/** Disagreements between a spec and the WGSL source it describes; [] when they agree. */
function contractErrors(spec: EntrySpec, src: string): string[] {
  const where = `${spec.kernel}.${spec.prelude ? 'main (prelude)' : spec.entry}`;
  const mod = parse(src);
  if (!mod.entries.includes(spec.entry)) return [`${where}: no @compute fn ${spec.entry}`];
  const errors: string[] = [];
  const used = usedGlobals(mod, spec.entry);
  const uniforms = used.filter((g) => g.access === 'uniform');
  if (uniforms.length !== 1 || uniforms[0].binding !== 0) {
    errors.push(`${where}: uses ${uniforms.length} uniform blocks (${uniforms.map((u) => `@binding(${u.binding})`).join(', ')}), expected one at binding 0`);
  } else {
    const type = uniforms[0].type;
    if (type !== spec.params.name) errors.push(`${where}: uniform struct is ${type}, the spec says ${spec.params.name}`);
    const fields = (mod.structs.get(type) ?? []).map(([n, t]) => `${n}: ${t}`).join(', ');
    const want = Object.entries(spec.params.fields).map(([n, t]) => `${n}: ${t}`).join(', ');
    if (fields !== want) errors.push(`${where}: struct ${type} { ${fields} } but the spec packs { ${want} }`);
  }
  const storage = used.filter((g) => g.access !== 'uniform');
  const got = storage.map((g) => `${g.binding}:${g.name}:${g.access}`).join(', ');
  const want = Object.entries(spec.buffers).map(([n, a], i) => `${i + 1}:${n}:${a === 'read_write' ? 'read_write' : 'read'}`).join(', ');
  if (got !== want) errors.push(`${where}: bindings [${got}] but the spec binds [${want}]`);
  return errors;
}

const sourceOf = (spec: EntrySpec) => (spec.prelude ? wgsl(PRELUDE) + '\n' : '') + wgsl(spec.kernel);

describe('kernel specs against the WGSL', () => {
  test('every spec matches its shader: uniform fields by name, type and order; bindings by number, name and access', () => {
    expect(ALL_ENTRY_SPECS.length).toBeGreaterThan(40);
    const errors = ALL_ENTRY_SPECS.flatMap((s) => contractErrors(s, sourceOf(s)));
    expect(errors).toEqual([]);
  });

  test('every entry point of every shader has a spec', () => {
    const have = new Set(ALL_ENTRY_SPECS.map((s) => `${s.kernel}.${s.entry}`));
    const missing: string[] = [];
    for (const f of readdirSync(SHADERS).filter((f) => f.endsWith('.wgsl')).map((f) => f.slice(0, -5))) {
      if (f.startsWith('prelude_')) continue;
      const mod = parse(wgsl(f));
      const entries = mod.fns.has('kernel') && mod.entries.length === 0 ? ['main'] : mod.entries;
      for (const e of entries) if (!have.has(`${f}.${e}`)) missing.push(`${f}.${e}`);
    }
    expect(missing).toEqual([]);
  });

  test('the check fails when one side changes (a field renamed, moved or retyped; a binding renamed or reordered)', () => {
    const conv = CONV2D_FWD.main as EntrySpec;
    const src = sourceOf(conv);
    expect(contractErrors(conv, src)).toEqual([]);
    const mutations: Array<[string, string]> = [
      ['has_bias: u32, has_res: u32', 'has_biases: u32, has_res: u32'], // renamed in WGSL
      ['gx: u32, alpha: f32', 'gx: u32, alpha: u32'],                   // retyped
      ['K: u32, S: u32', 'S: u32, K: u32'],                              // moved
      ['var<storage, read> bias: array<f32>', 'var<storage, read> biases: array<f32>'],
      ['@binding(5) var<storage, read> slope', '@binding(7) var<storage, read> slope'],
      ['var<storage, read_write> out: array<f32>', 'var<storage, read> out: array<f32>'],
    ];
    for (const [a, b] of mutations) {
      expect(src.includes(a), a).toBe(true);
      const changed = src.replace(a, b).replace(/\bbias\[/g, b.includes('biases') ? 'biases[' : 'bias[');
      expect(contractErrors(conv, changed).length, `${a} -> ${b}`).toBeGreaterThan(0);
    }
    // and on the spec's side: a field renamed, a binding dropped
    const { N, ...rest } = conv.params.fields;
    expect(contractErrors({ ...conv, params: struct('Params', { n: N, ...rest }) }, src).length).toBeGreaterThan(0);
    const { res, ...fewer } = conv.buffers;
    expect(res).toBe('read?');
    expect(contractErrors({ ...conv, buffers: fewer }, src).length).toBeGreaterThan(0);
  });

  test('the spec objects the launchers use are the ones checked', () => {
    const all = new Set(ALL_ENTRY_SPECS);
    const launcherSpecs = [ACTIVATION, ADAM, BATCHNORM, BROADCAST, CONV2D_FWD, CONV2D_BWD_INPUT, CONV2D_BWD_WEIGHT, CONV2D_UTIL,
      ELEMENTWISE, LOSS, MATMUL, MATMUL_SG_SPEC, MAXPOOL, PIXEL_SHUFFLE, REDUCE, UPSAMPLE, UPSAMPLE_BILINEAR, WINOGRAD, SPLIT9, CONCAT_CHANNELS].flatMap((k) => Object.values(k) as EntrySpec[]);
    expect(launcherSpecs.every((s) => all.has(s))).toBe(true);
    expect(launcherSpecs.length).toBe(ALL_ENTRY_SPECS.length);
  });

  test('every launcher takes its pipelines from its specs (pipelineOf), never from a name and a source of its own', () => {
    const dir = fileURLToPath(new URL('../../src/kernels/', import.meta.url));
    const own = readdirSync(dir).filter((f) => f.endsWith('.ts') && f !== 'spec.ts')
      .filter((f) => /\.pipeline(Checked)?\(/.test(readFileSync(dir + f, 'utf8')));
    expect(own).toEqual([]);
    expect(readFileSync(dir + 'winograd.ts', 'utf8')).toMatch(/pipelineOf\(g, WINOGRAD\[entry\]/); // the check reads real launchers
  });
});

describe('packing and binding by name', () => {
  const P = struct('Params', { n: 'u32', off: 'i32', a: 'f32' });
  test('fields packed in declaration order with their types; missing, extra and unrepresentable values refused', () => {
    const buf = packParams(P, { a: 0.1, n: 7, off: -3 });
    expect(buf.byteLength).toBe(16);
    expect(new Uint32Array(buf)[0]).toBe(7);
    expect(new Int32Array(buf)[1]).toBe(-3);
    expect(new Float32Array(buf)[2]).toBe(Math.fround(0.1));
    expect(() => packParams(P, { n: 7, off: 0 } as never)).toThrow(/'a' not given/);
    expect(() => packParams(P, { n: 7, off: 0, a: 1, b: 2 } as never)).toThrow(/no uniform field 'b'/);
    expect(() => packParams(P, { n: -1, off: 0, a: 1 })).toThrow(/'n' \(u32\) cannot hold -1/);
    expect(() => packParams(P, { n: 1.5, off: 0, a: 1 })).toThrow(/'n' \(u32\) cannot hold 1\.5/);
    expect(() => packParams(P, { n: 2 ** 32, off: 0, a: 1 })).toThrow(/cannot hold/);
    expect(() => packParams(P, { n: 0, off: 2 ** 31, a: 1 })).toThrow(/'off' \(i32\) cannot hold/);
    expect(packParams(struct('Big', Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`f${i}`, 'u32' as const]))), Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`f${i}`, i]))).byteLength).toBe(80);
  });

  test('run: names checked, optional bindings get dummies, a written buffer bound twice is refused', async () => {
    const g = await testGpu();
    const spec = kernelSpec('test_only', { e: { params: P, buffers: { x: 'read', opt: 'read?', y: 'read_write' } } });
    ALL_ENTRY_SPECS.splice(ALL_ENTRY_SPECS.indexOf(spec.e), 1); // not a real shader
    const calls: Array<{ bufs: GPUBuffer[] }> = [];
    const fake = { pool: g.pool, dispatch: (_p: unknown, _u: unknown, bufs: GPUBuffer[]) => { calls.push({ bufs }); } } as unknown as Gpu;
    const x = g.pool.acquire(64), y = g.pool.acquire(64);
    const params = { n: 1, off: 0, a: 0 };
    const pipe = { name: 'test_only.e' } as never;
    run(fake, pipe, spec.e, params, { x, opt: undefined, y }, [1]);
    expect(calls[0].bufs[0]).toBe(x);
    expect(calls[0].bufs[2]).toBe(y);
    expect(calls[0].bufs[1].size).toBeGreaterThanOrEqual(16); // a dummy in the optional slot
    expect(() => run(fake, pipe, spec.e, params, { x: y, opt: undefined, y }, [1])).toThrow(/'y' is written and also bound as 'x' \(no in-place use\)/);
    expect(() => run(fake, pipe, spec.e, params, { x, opt: undefined, y: undefined }, [1])).toThrow(/binding 'y' not given/);
    expect(() => run(fake, pipe, spec.e, params, { x, opt: undefined, y, z: x } as never, [1])).toThrow(/no binding 'z'/);
    // a pipeline of another entry (or kernel) is refused: the spec names the pipeline it binds for
    expect(() => run(fake, { name: 'test_only.f' } as never, spec.e, params, { x, opt: undefined, y }, [1])).toThrow(/test_only\.e: dispatched with the pipeline 'test_only\.f'/);
    expect(calls).toHaveLength(1);
    g.pool.release(x); g.pool.release(y);
  });
});

describe('grid folding at the adapter limit', () => {
  const gpu = (max: number) => ({ limits: { maxComputeWorkgroupsPerDimension: max } }) as unknown as Gpu;
  test('2-D beyond the per-dimension limit, covering every invocation', () => {
    expect(grid(gpu(65535), 1000, 256)).toEqual({ wx: 4, wy: 1, stride: 1024 });
    const g2 = grid(gpu(65535), 65536 * 256 + 7, 256);
    expect([g2.wx, g2.wy]).toEqual([65535, 2]);
    expect(g2.wx * g2.wy * 256).toBeGreaterThanOrEqual(65536 * 256 + 7);
    expect(grid(gpu(65535), 0, 256).wy).toBe(0);
    // a smaller adapter limit folds earlier
    expect(fold(gpu(100), 250)).toEqual([100, 3]);
    expect(grid(gpu(100), 100 * 64 + 1, 64)).toEqual({ wx: 100, wy: 2, stride: 6400 });
  });
});
