// Saving and loading a module's parameters and buffers as safetensors, in PyTorch's conventions
// (conv OIHW, dense [out, in] with inputs in C,H,W order), under PyTorch-style dotted names.
// Platform-neutral: files are read and written by src/node/state.ts (Node) or fetched (a page).
import { gpu } from '../gpu/gpu.js';
import type { DiskLayout, Entry } from './module.js';
import {
  parseSafetensors, headerLength, toFloat32, fromFloat32, hwioToOihw, oihwToHwio, transpose2d, type StTensor,
} from './safetensors.js';
import { sha256Hex } from './sha256.js';
import type { Tensor } from './tensor.js';

/**
 * The highest index N among state-dict names that `re` matches (its first group: N's digits, e.g.
 * /^body\.(\d+)\./), capped so that N + 1 is a safe integer; -1 when none matches. Counts numbered
 * children (blocks.N, body.N) when a file's configuration is read off its names.
 */
export function highestIndex(names: Iterable<string>, re: RegExp): number {
  let n = -1;
  for (const k of names) { const m = re.exec(k); if (m) n = Math.max(n, Math.min(Number(m[1]), Number.MAX_SAFE_INTEGER - 1)); }
  return n;
}

/** The on-disk shape of an engine tensor. */
export function diskShape(t: Tensor, layout: DiskLayout): number[] {
  const s = [...t.shape];
  switch (layout.kind) {
    case 'conv': return [s[3], s[2], s[0], s[1]];
    case 'dense': case 'dense-chw': return [s[1], s[0]];
    default: return s;
  }
}

/**
 * Dense weights whose inputs are a C,H,W feature map: the engine stores [H*W*C (NHWC order), out],
 * the file [out, C*H*W] (PyTorch's flatten order). `toFile` picks the direction.
 */
function permuteDenseChw(data: Float32Array, chw: [number, number, number], outF: number, toFile: boolean): Float32Array {
  const [C, H, W] = chw;
  const res = new Float32Array(data.length);
  for (let h = 0; h < H; h++) for (let w = 0; w < W; w++) for (let c = 0; c < C; c++) {
    const e = (h * W + w) * C + c, d = (c * H + h) * W + w;
    for (let o = 0; o < outF; o++) {
      const eng = e * outF + o, file = o * H * W * C + d;
      if (toFile) res[file] = data[eng]; else res[eng] = data[file];
    }
  }
  return res;
}

/** Engine layout -> file layout (PyTorch conventions). */
export function toDisk(data: Float32Array, t: Tensor, layout: DiskLayout): Float32Array {
  const s = t.shape;
  switch (layout.kind) {
    case 'conv': return hwioToOihw(data, s[0], s[2], s[3]);
    case 'dense': return transpose2d(data, s[0], s[1]);
    case 'dense-chw': return permuteDenseChw(data, layout.chw, s[1], true);
    default: return data;
  }
}

/** File layout -> engine layout; the inverse of toDisk. */
export function fromDisk(data: Float32Array, t: Tensor, layout: DiskLayout): Float32Array {
  const s = t.shape;
  switch (layout.kind) {
    case 'conv': return oihwToHwio(data, s[0], s[2], s[3]);
    case 'dense': return transpose2d(data, s[1], s[0]);
    case 'dense-chw': return permuteDenseChw(data, layout.chw, s[1], false);
    default: return data;
  }
}

/** Reads back every parameter and buffer as disk tensors (names prefixed with `prefix`). */
export async function stateTensors(entries: Array<[string, Entry]>, prefix = '', dtype: 'F32' | 'F16' = 'F32'): Promise<Array<[string, StTensor]>> {
  const out: Array<[string, StTensor]> = [];
  for (const [name, e] of entries) {
    const data = await e.tensor.data();
    const isBuffer = e.layout.kind === 'plain' && !e.tensor.requiresGrad;
    // running statistics stay float32 even in an f16 file: they are few and precision-sensitive
    out.push([prefix + name, fromFloat32(toDisk(data, e.tensor, e.layout), diskShape(e.tensor, e.layout), isBuffer ? 'F32' : dtype)]);
  }
  return out;
}

/** Writes tensors into the given entries, checking names and shapes. */
export function loadTensors(entries: Array<[string, Entry]>, tensors: Map<string, StTensor>, file: string, prefix = ''): void {
  const want = new Set(entries.map(([n]) => prefix + n));
  for (const [name, e] of entries) {
    const key = prefix + name;
    const st = tensors.get(key);
    if (!st) throw new Error(`${file}: tensor '${key}' is missing (is this a checkpoint of the same model configuration?)`);
    const shape = diskShape(e.tensor, e.layout);
    if (st.shape.length !== shape.length || st.shape.some((d, i) => d !== shape[i])) {
      throw new Error(`${file}: tensor '${key}' has shape [${st.shape}], the model expects [${shape}]`);
    }
    if (st.dtype !== 'F32' && st.dtype !== 'F16' && st.dtype !== 'BF16') {
      throw new Error(`${file}: tensor '${key}' has dtype ${st.dtype}, expected F32 or F16`);
    }
    const data = fromDisk(toFloat32(st, key), e.tensor, e.layout);
    gpu().write(e.tensor.buffer, data);
  }
  if (prefix === '') {
    const extra = [...tensors.keys()].filter((k) => !want.has(k));
    if (extra.length) throw new Error(`${file}: unexpected tensor '${extra[0]}'${extra.length > 1 ? ` (and ${extra.length - 1} more)` : ''} not in the model`);
  }
}

/** Temporary files of writeAtomic: `<name>.<pid>.<ms>.tmp` (a crash can leave one behind). */
export const TMP_FILE = /\.\d+\.\d+\.tmp$/;

/** The metadata entry holding the SHA-256 (hex) of a file's data buffer: the tensors' bytes in file order. */
export const CHECKSUM_KEY = 'data_sha256';

/**
 * Parses a safetensors file's bytes. When its metadata holds a data checksum (files this project
 * writes), the data must match it; `checked` says whether there was one to verify. `sha256` hashes
 * the data buffer (Node passes node:crypto's, which is faster).
 */
export function parseSafetensorsChecked(bytes: Uint8Array, name: string, sha256: (data: Uint8Array) => string = sha256Hex): {
  tensors: Map<string, StTensor>; metadata: Record<string, string>; checked: boolean;
} {
  const { tensors, metadata } = parseSafetensors(bytes, name);
  const want = metadata[CHECKSUM_KEY];
  if (want === undefined) return { tensors, metadata, checked: false };
  // the data buffer as stored: the writer hashed the same bytes, tensor after tensor
  const got = sha256(bytes.subarray(8 + headerLength(bytes, bytes.length, name)));
  if (got !== want) throw new Error(`${name}: checksum mismatch: the tensor data do not match the SHA-256 in its metadata (the file is corrupt or was altered)`);
  return { tensors, metadata, checked: true };
}
