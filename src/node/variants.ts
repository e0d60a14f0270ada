// The measured kernel-variant table (src/kernels/variants.ts) in Node: one JSON file in the user's
// cache folder, holding a table per machine. It is a cache: deleting it (or `node dist/tune.js
// --reset`) only brings back the built-in tiles; a damaged file is reported on one line and ignored.
//
// Where: $SRGAN_VARIANTS (a file path, or 'off' to use no table), else
// $XDG_CACHE_HOME/srgan-webgpu/variants.json, else ~/.cache/srgan-webgpu/variants.json.
// Machine key: the adapter as Dawn describes it and, for a software adapter (whose speed is the
// CPU's), the CPU model, core count and vector extensions: lavapipe reports the same adapter on an
// AVX-512 and an AVX2 CPU, and they want different tiles.
import { mkdir, readFile, unlink } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { cpus, homedir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Gpu } from '../gpu/gpu.js';
import { tuneVariants, type TuneResult, type VariantTable } from '../kernels/variants.js';
import { tuneCases } from '../kernels/tune-cases.js';
import { writeAtomic } from './state.js';

const FORMAT = 'srgan-webgpu kernel variants 1';

interface MachineEntry { measured: string; table: VariantTable; results?: TuneResult[] }
interface VariantsFile { format: string; machines: Record<string, MachineEntry> }

/** The table's file, or null when $SRGAN_VARIANTS is 'off'. */
export function variantsPath(): string | null {
  const env = process.env.SRGAN_VARIANTS;
  if (env === 'off') return null;
  if (env) return env;
  const base = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(base, 'srgan-webgpu', 'variants.json');
}

/** The CPU's vector extensions (Linux), which decide how LLVM compiles lavapipe's kernels. */
function cpuVectorFlags(): string {
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8').split('\n').find((l) => l.startsWith('flags'));
    const flags = new Set((line ?? '').split(':')[1]?.trim().split(/\s+/) ?? []);
    return ['avx512f', 'avx512bw', 'avx512vl', 'avx2', 'fma', 'avx', 'neon', 'asimd'].filter((f) => flags.has(f)).join(',');
  } catch {
    return '';
  }
}

/** Which machine a table was measured on. */
export function machineKey(g: Gpu): string {
  const adapter = g.describe();
  if (!g.info.isFallback && g.info.architecture !== 'software') return adapter;
  const c = cpus();
  return `${adapter} | ${c[0]?.model ?? 'cpu'} x${c.length} ${cpuVectorFlags()}`.trim();
}

async function readFileEntries(path: string): Promise<VariantsFile | null> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new Error(`${path}: cannot be read (${(e as Error).message})`);
  }
  let f: VariantsFile;
  try {
    f = JSON.parse(text) as VariantsFile;
  } catch {
    throw new Error(`${path}: not JSON`);
  }
  if (f?.format !== FORMAT || typeof f.machines !== 'object' || f.machines === null) throw new Error(`${path}: not a kernel-variants file (${FORMAT})`);
  return f;
}

/** Checks that a stored table names override constants as small positive integers. */
function validTable(t: unknown): t is VariantTable {
  if (typeof t !== 'object' || t === null) return false;
  return Object.entries(t).every(([k, v]) => /^[a-z0-9_]+\|[a-zA-Z0-9]+$/.test(k) && typeof v === 'object' && v !== null &&
    Object.values(v).every((x) => Number.isInteger(x) && (x as number) >= 1 && (x as number) <= 1024));
}

/**
 * Installs this machine's measured table on `g`. Returns what happened, for the caller to say:
 * 'loaded', 'none' (no table for this machine, or $SRGAN_VARIANTS=off), or a one-line problem
 * (the file is then ignored and the built-in tiles are used).
 */
export async function loadVariants(g: Gpu, path = variantsPath()): Promise<'loaded' | 'none' | { problem: string }> {
  if (!path) return 'none';
  try {
    const f = await readFileEntries(path);
    const entry = f?.machines[machineKey(g)];
    if (!entry) return 'none';
    if (!validTable(entry.table)) return { problem: `${path}: the table for this machine is malformed; using the built-in kernel tiles (delete the file to measure again)` };
    g.variants = { ...entry.table };
    return 'loaded';
  } catch (e) {
    return { problem: `${(e as Error).message}; using the built-in kernel tiles (delete the file to measure again)` };
  }
}

/** Stores a table for this machine (other machines' tables in the file are kept). */
export async function saveVariants(g: Gpu, table: VariantTable, results: TuneResult[], path = variantsPath()): Promise<string | null> {
  if (!path) return null;
  let f: VariantsFile | null = null;
  try { f = await readFileEntries(path); } catch { f = null; } // a damaged file is replaced
  f ??= { format: FORMAT, machines: {} };
  f.machines[machineKey(g)] = { measured: new Date().toISOString(), table, results };
  await mkdir(dirname(path), { recursive: true });
  await writeAtomic(path, new TextEncoder().encode(JSON.stringify(f, null, 1) + '\n'));
  return path;
}

/** Forgets the table of this machine (all of them with `all`); true if something was removed. */
export async function resetVariants(g: Gpu | null, path = variantsPath(), all = false): Promise<boolean> {
  if (!path) return false;
  if (all || !g) return unlink(path).then(() => true, () => false);
  let f: VariantsFile | null;
  try { f = await readFileEntries(path); } catch { return unlink(path).then(() => true, () => false); }
  if (!f || !f.machines[machineKey(g)]) return false;
  delete f.machines[machineKey(g)];
  await writeAtomic(path, new TextEncoder().encode(JSON.stringify(f, null, 1) + '\n'));
  return true;
}

/**
 * Measures this machine's tiles (every tune case), stores them in `path` and installs them on `g`:
 * what `node dist/tune.js` does, and what train.js does when the machine has no table.
 */
export async function tuneAndSave(g: Gpu, path: string, o: Parameters<typeof tuneVariants>[2] = {}): Promise<TuneResult[]> {
  const { table, results } = await tuneVariants(g, tuneCases(), o);
  await saveVariants(g, table, results, path);
  g.variants = { ...table };
  return results;
}
