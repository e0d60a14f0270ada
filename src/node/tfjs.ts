// Loader for TensorFlow.js models (model.json + binary weight shards), on the CPU.
//
// model.json's `weightsManifest` is a list of groups, each {paths: [shard files], weights: [{name,
// shape, dtype, quantization?}]}. Within a group the shards, joined in `paths` order, form one
// little-endian buffer holding the weights back to back, in list order, with no padding. Shard paths
// are relative to model.json (their names vary: "group1-shard1of138.bin", "group1-shard1of1", ...).
//
// Storage: float32 (4 bytes), int32 (4), bool (1); or, with `quantization`, uint8/uint16 codes that
// decode as code * scale + min (affine, one per tensor; int32 weights round the result), or
// float16 (an IEEE half per element). Everything is returned as float32.
//
// Missing shards are expected with the copies in shared/weights (see its SOURCES.md): the loader
// locates the shards it has from the start of each group (consecutive present shards) and from its
// end (the group's total size is known from the manifest), loads every weight that lies wholly in
// those bytes, and reports the others in `missing` (with whatever part of them exists in `partial`).
// `only` restricts the load to some weights and turns a missing one among them into an error;
// `strict` makes any missing weight an error. Truncated or oversized shards are always an error.
import { readFile, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { f16BitsToF32 } from '../nn/safetensors.js';

export interface TfjsTensor {
  shape: number[];
  data: Float32Array;
}

export interface TfjsQuantization {
  dtype: 'uint8' | 'uint16' | 'float16';
  scale?: number;
  min?: number;
}

/** What exists of a weight whose bytes are only partly present: runs of elements, each starting at `start`. */
export interface TfjsPartial {
  shape: number[];
  pieces: Array<{ start: number; data: Float32Array }>;
}

export interface TfjsWeights {
  /** Loaded weights by manifest name ("block1_conv1/kernel", ...), float32, in manifest order. */
  tensors: Map<string, { shape: number[]; data: Float32Array }>;
  /**
   * Conv layers in model (manifest) order whose weights all loaded: layers with a rank-4 "<layer>/kernel",
   * e.g. block1_conv1. A layer with a missing kernel or bias is left out.
   */
  layerNames: string[];
  /** model.json's "format" ("layers-model", "graph-model"), or "layers-model" when absent and a Keras topology is present. */
  format: string;
  /** Requested weights left out because their bytes lie (at least partly) in shard files that are absent. */
  missing: string[];
  /** For weights in `missing`: the parts that are present (e.g. the tail of a kernel whose first shards are absent). */
  partial: Map<string, TfjsPartial>;
  /** Quantisation of each loaded weight that had one (the manifest's entry). */
  quantization: Map<string, TfjsQuantization>;
}

export interface TfjsLoadOptions {
  /**
   * Load only these: exact weight names ("block1_conv1/kernel") or layer names ("block1_conv1",
   * meaning every "block1_conv1/..." weight). Each must match something in the manifest, and every
   * matched weight must be present (else an error naming it). Other weights' shards are never read.
   */
  only?: string[];
  /** Without `only`: throw on the first weight whose shard is absent instead of listing it in `missing`. */
  strict?: boolean;
}

interface ManifestWeight {
  name: string;
  shape: number[];
  dtype: string;
  quantization?: TfjsQuantization;
  /** element count, bytes per stored element, byte offset in the group, byte length */
  count: number;
  elemBytes: number;
  offset: number;
  bytes: number;
}

interface ShardLoc {
  path: string; // as written in the manifest
  file: string; // resolved
  start: number; // byte offset in the group buffer
  size: number;
}

function isNonNegInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

/** Loads a TensorFlow.js model's weights (see the file comment for what happens with absent shards). */
export async function loadTfjsModel(modelJsonPath: string | URL, options: TfjsLoadOptions = {}): Promise<TfjsWeights> {
  const jsonPath = modelJsonPath instanceof URL ? fileURLToPath(modelJsonPath) : modelJsonPath;
  const fail = (msg: string): never => { throw new Error(`${jsonPath}: ${msg}`.replace(/\s*[\r\n]+\s*/g, ' ')); };
  const w = (name: string) => `weight ${JSON.stringify(name)}`;

  let text: string;
  try {
    text = await readFile(jsonPath, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return fail(code === 'ENOENT' ? 'no such file (TensorFlow.js model.json)' : `cannot read model.json (${(e as Error).message})`);
  }
  let model: unknown;
  try {
    model = JSON.parse(text);
  } catch (e) {
    return fail(`not valid JSON (${(e as Error).message})`);
  }
  if (typeof model !== 'object' || model === null || Array.isArray(model)) fail('not a JSON object (TensorFlow.js model.json)');
  const m = model as Record<string, unknown>;
  const manifest = m.weightsManifest;
  if (!Array.isArray(manifest)) fail('no "weightsManifest" array: not a TensorFlow.js model.json with weights');
  const topo = m.modelTopology as Record<string, unknown> | undefined;
  const format = typeof m.format === 'string' ? m.format
    : topo && typeof topo === 'object' && ('model_config' in topo || 'class_name' in topo) ? 'layers-model'
    : topo && typeof topo === 'object' && 'node' in topo ? 'graph-model' : 'unknown';
  const baseDir = dirname(resolve(jsonPath));

  // Parse the manifest: every weight's place in its group.
  const groups: Array<{ index: number; paths: string[]; weights: ManifestWeight[]; total: number }> = [];
  const byName = new Map<string, ManifestWeight>();
  (manifest as unknown[]).forEach((g, gi) => {
    const gname = `weightsManifest[${gi}]`;
    if (typeof g !== 'object' || g === null) fail(`${gname} is not an object`);
    const { paths, weights } = g as Record<string, unknown>;
    if (!Array.isArray(paths) || !paths.every((p) => typeof p === 'string' && p.length > 0)) fail(`${gname}.paths is not a list of file names`);
    if (!Array.isArray(weights)) fail(`${gname}.weights is not a list`);
    let offset = 0;
    const list: ManifestWeight[] = [];
    for (const spec of weights as unknown[]) {
      if (typeof spec !== 'object' || spec === null || typeof (spec as { name?: unknown }).name !== 'string') fail(`${gname}: a weight entry has no name`);
      const { name, shape, dtype, quantization } = spec as Record<string, unknown> & { name: string };
      if (byName.has(name)) fail(`${w(name)} appears twice in the manifest`);
      if (!Array.isArray(shape) || !shape.every(isNonNegInt)) fail(`${w(name)}: shape ${JSON.stringify(shape)} is not a list of non-negative integers`);
      const count = (shape as number[]).reduce((a, b) => a * b, 1);
      if (!Number.isSafeInteger(count)) fail(`${w(name)}: shape [${shape}] is too large`);
      let elemBytes: number;
      let quant: TfjsQuantization | undefined;
      if (quantization !== undefined && quantization !== null) {
        const qz = quantization as Record<string, unknown>;
        if (qz.dtype === 'uint8' || qz.dtype === 'uint16') {
          if (typeof qz.scale !== 'number' || typeof qz.min !== 'number' || !Number.isFinite(qz.scale) || !Number.isFinite(qz.min)) {
            fail(`${w(name)}: ${qz.dtype} quantization needs finite numeric "scale" and "min"`);
          }
          if (dtype !== 'float32' && dtype !== 'int32') fail(`${w(name)}: ${qz.dtype} quantization of dtype ${String(dtype)} is not supported`);
          elemBytes = qz.dtype === 'uint8' ? 1 : 2;
          quant = { dtype: qz.dtype, scale: qz.scale as number, min: qz.min as number };
        } else if (qz.dtype === 'float16') {
          if (dtype !== 'float32') fail(`${w(name)}: float16 quantization of dtype ${String(dtype)} is not supported`);
          elemBytes = 2;
          quant = { dtype: 'float16' };
        } else {
          return fail(`${w(name)}: unsupported quantization dtype ${JSON.stringify(qz.dtype)}`);
        }
      } else if (dtype === 'float32' || dtype === 'int32') {
        elemBytes = 4;
      } else if (dtype === 'bool') {
        elemBytes = 1;
      } else {
        return fail(`${w(name)}: unsupported dtype ${JSON.stringify(dtype)} (float32, int32, bool, or uint8/uint16/float16-quantised)`);
      }
      const mw: ManifestWeight = { name, shape: [...(shape as number[])], dtype: dtype as string, quantization: quant, count, elemBytes, offset, bytes: count * elemBytes };
      offset += mw.bytes;
      list.push(mw);
      byName.set(name, mw);
    }
    groups.push({ index: gi, paths: paths as string[], weights: list, total: offset });
  });

  // Which weights are wanted.
  let wanted: Set<string>;
  if (options.only) {
    wanted = new Set();
    for (const o of options.only) {
      const hits = byName.has(o) ? [o] : [...byName.keys()].filter((n) => n.startsWith(`${o}/`));
      if (hits.length === 0) fail(`no weight or layer named ${JSON.stringify(o)} in weightsManifest`);
      for (const h of hits) wanted.add(h);
    }
  } else {
    wanted = new Set(byName.keys());
  }
  const mustHave = options.only !== undefined || options.strict === true;

  const tensors = new Map<string, TfjsTensor>();
  const missing: string[] = [];
  const partial = new Map<string, TfjsPartial>();
  const quantization = new Map<string, TfjsQuantization>();
  const fileCache = new Map<string, Uint8Array>();
  let firstAbsent = ''; // the first absent shard file that kept a weight out
  const readShard = async (s: ShardLoc): Promise<Uint8Array> => {
    let b = fileCache.get(s.file);
    if (!b) {
      try {
        b = new Uint8Array(await readFile(s.file));
      } catch (e) {
        return fail(`cannot read shard ${s.path} (${(e as Error).message})`);
      }
      if (b.length !== s.size) fail(`shard ${s.path} changed size while loading`);
      fileCache.set(s.file, b);
    }
    return b;
  };
  const sizeOf = async (file: string): Promise<number | null> => {
    try {
      const st = await stat(file);
      return st.isFile() ? st.size : null;
    } catch {
      return null;
    }
  };

  for (const g of groups) {
    const need = g.weights.filter((x) => wanted.has(x.name));
    if (need.length === 0) continue;
    const gdesc = `weightsManifest[${g.index}]`;
    const files = g.paths.map((p) => resolve(baseDir, p));
    const n = files.length;
    // Present shards from the front ...
    const located: ShardLoc[] = [];
    let front = 0;
    let i = 0;
    for (; i < n; i++) {
      const size = await sizeOf(files[i]);
      if (size === null) break;
      located.push({ path: g.paths[i], file: files[i], start: front, size });
      front += size;
    }
    const firstMissing = i < n ? i : -1;
    // ... and, when one is absent, from the back.
    let back = 0;
    if (firstMissing >= 0) {
      const tail: Array<{ idx: number; size: number }> = [];
      for (let j = n - 1; j > firstMissing; j--) {
        const size = await sizeOf(files[j]);
        if (size === null) break;
        tail.push({ idx: j, size });
        back += size;
      }
      let end = g.total;
      for (const t of tail) {
        end -= t.size;
        located.push({ path: g.paths[t.idx], file: files[t.idx], start: end, size: t.size });
      }
      if (front + back > g.total) {
        fail(`${gdesc}: its present shards hold ${front + back} bytes but its weights need only ${g.total}: shards do not match the manifest`);
      }
    } else if (front !== g.total) {
      if (front < g.total) {
        const cut = g.weights.find((x) => x.offset + x.bytes > front)!;
        fail(`${w(cut.name)} needs bytes [${cut.offset}, ${cut.offset + cut.bytes}) of ${gdesc}, but its shards (${g.paths.join(', ')}) hold only ${front}: truncated shard?`);
      }
      const last = g.weights[g.weights.length - 1];
      fail(`${gdesc}: shards hold ${front} bytes but the weights (last ${last ? w(last.name) : 'none'}) need ${g.total}: a weight's size disagrees with its shape/dtype`);
    }
    const regions: Array<[number, number]> = [[0, front]];
    if (back > 0) regions.push([g.total - back, g.total]);

    const readRange = async (a: number, b: number): Promise<Uint8Array> => {
      const out = new Uint8Array(b - a);
      for (const s of located) {
        const lo = Math.max(a, s.start), hi = Math.min(b, s.start + s.size);
        if (lo >= hi) continue;
        const buf = await readShard(s);
        out.set(buf.subarray(lo - s.start, hi - s.start), lo - a);
      }
      return out;
    };

    for (const x of need) {
      const a = x.offset, b = x.offset + x.bytes;
      if (regions.some(([lo, hi]) => a >= lo && b <= hi)) {
        tensors.set(x.name, { shape: x.shape, data: decode(await readRange(a, b), x) });
        if (x.quantization) quantization.set(x.name, x.quantization);
        continue;
      }
      if (mustHave) {
        fail(`${w(x.name)} lies in bytes [${a}, ${b}) of ${gdesc}, but shard file ${g.paths[firstMissing]} is missing (${files[firstMissing]})`);
      }
      missing.push(x.name);
      if (!firstAbsent) firstAbsent = files[firstMissing];
      const pieces: TfjsPartial['pieces'] = [];
      for (const [lo, hi] of regions) {
        // whole elements inside [max(a, lo), min(b, hi))
        const e0 = Math.ceil((Math.max(a, lo) - a) / x.elemBytes);
        const e1 = Math.floor((Math.min(b, hi) - a) / x.elemBytes);
        if (e1 > e0) {
          const bytes = await readRange(a + e0 * x.elemBytes, a + e1 * x.elemBytes);
          pieces.push({ start: e0, data: decode(bytes, x) });
        }
      }
      if (pieces.length > 0) partial.set(x.name, { shape: x.shape, pieces });
    }
  }
  if (tensors.size === 0 && wanted.size > 0) {
    fail(`no weight could be loaded: ${w(missing[0])} and the rest lie in absent shard files (first: ${firstAbsent})`);
  }

  // Conv layers whose every weight loaded, in manifest order.
  const layerWeights = new Map<string, string[]>();
  for (const name of byName.keys()) {
    const slash = name.lastIndexOf('/');
    if (slash <= 0) continue;
    const layer = name.slice(0, slash);
    if (!layerWeights.has(layer)) layerWeights.set(layer, []);
    layerWeights.get(layer)!.push(name);
  }
  const layerNames: string[] = [];
  for (const [layer, names] of layerWeights) {
    const k = tensors.get(`${layer}/kernel`);
    if (k && k.shape.length === 4 && names.every((nm) => tensors.has(nm))) layerNames.push(layer);
  }
  return { tensors, layerNames, format, missing, partial, quantization };
}

/** Stored bytes of (part of) a weight -> float32 values. */
function decode(bytes: Uint8Array, x: ManifestWeight): Float32Array {
  const n = bytes.length / x.elemBytes;
  const out = new Float32Array(n);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const qz = x.quantization;
  if (qz && (qz.dtype === 'uint8' || qz.dtype === 'uint16')) {
    // As tfjs-core's decodeWeights: computed in double precision, stored as float32; int32 rounds.
    const scale = qz.scale!, min = qz.min!;
    const code = (i: number): number => (qz.dtype === 'uint8' ? bytes[i] : dv.getUint16(2 * i, true));
    if (x.dtype === 'int32') for (let i = 0; i < n; i++) out[i] = Math.round(code(i) * scale + min);
    else if (qz.dtype === 'uint8') for (let i = 0; i < n; i++) out[i] = bytes[i] * scale + min;
    else for (let i = 0; i < n; i++) out[i] = code(i) * scale + min;
  } else if (qz && qz.dtype === 'float16') {
    for (let i = 0; i < n; i++) out[i] = f16BitsToF32(dv.getUint16(2 * i, true));
  } else if (x.dtype === 'float32') {
    for (let i = 0; i < n; i++) out[i] = dv.getFloat32(4 * i, true);
  } else if (x.dtype === 'int32') {
    for (let i = 0; i < n; i++) out[i] = dv.getInt32(4 * i, true);
  } else {
    for (let i = 0; i < n; i++) out[i] = bytes[i] !== 0 ? 1 : 0; // bool
  }
  return out;
}

/** Keras VGG19's conv layers in order, with their output channels (block1_conv1 ... block5_conv4). */
export const VGG19_KERAS_CONVS: ReadonlyArray<readonly [string, number]> = [
  ['block1_conv1', 64], ['block1_conv2', 64],
  ['block2_conv1', 128], ['block2_conv2', 128],
  ['block3_conv1', 256], ['block3_conv2', 256], ['block3_conv3', 256], ['block3_conv4', 256],
  ['block4_conv1', 512], ['block4_conv2', 512], ['block4_conv3', 512], ['block4_conv4', 512],
  ['block5_conv1', 512], ['block5_conv2', 512], ['block5_conv3', 512], ['block5_conv4', 512],
];
