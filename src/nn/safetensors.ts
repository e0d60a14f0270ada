// The safetensors format (https://github.com/huggingface/safetensors), read and written on the CPU.
//
// Layout: an 8-byte little-endian u64 N, then N bytes of UTF-8 JSON
//   {"__metadata__": {str: str} (optional), name: {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...}
// then the data buffer. Offsets are relative to the start of the data buffer; the tensors' byte
// ranges must cover it exactly, back to back, with no overlap and no hole (as the reference
// implementation checks). All data is little-endian.
//
// Also here: IEEE half-precision conversion, and the layout changes between the engine's weight
// layouts (conv HWIO, dense [in, out]) and PyTorch's (conv OIHW, dense [out, in]).

export type StDtype = 'F32' | 'F16' | 'BF16' | 'F64' | 'I64' | 'I32' | 'U8';

export interface StTensor {
  dtype: StDtype;
  shape: number[];
  /** Raw little-endian bytes, prod(shape) * dtypeSize(dtype) of them. */
  data: Uint8Array;
}

const DTYPE_SIZE: Record<StDtype, number> = { F32: 4, F16: 2, BF16: 2, F64: 8, I64: 8, I32: 4, U8: 1 };

/** Dtypes the format defines but this reader does not handle (named as such in errors). */
const OTHER_SPEC_DTYPES = new Set([
  'BOOL', 'I8', 'I16', 'U16', 'U32', 'U64', 'F8_E4M3', 'F8_E5M2', 'F8_E8M0', 'F6_E2M3', 'F6_E3M2', 'F4', 'C64',
]);

/** The reference implementation refuses headers larger than this. */
const MAX_HEADER_BYTES = 100_000_000;

export function dtypeSize(dtype: StDtype): number {
  return DTYPE_SIZE[dtype];
}

function isDtype(s: unknown): s is StDtype {
  return typeof s === 'string' && Object.prototype.hasOwnProperty.call(DTYPE_SIZE, s);
}

/** Names quoted for one-line error messages (JSON escaping keeps control characters out). */
function q(name: string): string {
  return JSON.stringify(name);
}

function oneLine(s: string): string {
  return s.replace(/\s*[\r\n]+\s*/g, ' ');
}

function isNonNegInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

/** prod(shape), or -1 when it is not a safe integer. */
function elementCount(shape: number[]): number {
  let n = 1;
  for (const d of shape) {
    n *= d;
    if (!Number.isSafeInteger(n)) return -1;
  }
  return n;
}

/** One tensor's header entry: its data are bytes [begin, end) of the data buffer. */
export interface StEntry { dtype: StDtype; shape: number[]; begin: number; end: number }

/** A safetensors header, parsed and checked on its own (no tensor data needed). */
export interface StHeader {
  metadata: Record<string, string>;
  entries: Map<string, StEntry>;
  /** Byte offset of the data buffer in the file (8 + header length). */
  dataStart: number;
}

/** The header length a file's first 8 bytes declare, checked against the file's size. */
export function headerLength(first8: Uint8Array, fileSize: number, fileName: string): number {
  const fail = (msg: string): never => { throw new Error(oneLine(`${fileName}: ${msg}`)); };
  if (fileSize < 8 || first8.length < 8) fail(`not a safetensors file: ${fileSize} bytes, fewer than the 8-byte header length`);
  const nBig = new DataView(first8.buffer, first8.byteOffset, 8).getBigUint64(0, true);
  if (nBig > BigInt(fileSize - 8)) {
    fail(`header length ${nBig} runs past the end of the file (${fileSize} bytes): truncated or not a safetensors file`);
  }
  const n = Number(nBig);
  if (n > MAX_HEADER_BYTES) fail(`header length ${n} exceeds the ${MAX_HEADER_BYTES}-byte limit`);
  if (n < 2) fail(`header length ${n} is too small to hold a JSON object`);
  return n;
}

/**
 * Parses and checks a header from the file's first 8 + N bytes (`head`, more is fine) and the
 * file's total size: every check parseSafetensors makes, before any tensor data is read, so a
 * caller can refuse a file (or size its allocations) from the header alone.
 */
export function parseSafetensorsHeader(head: Uint8Array, fileSize: number, fileName: string): StHeader {
  const fail = (msg: string): never => { throw new Error(oneLine(`${fileName}: ${msg}`)); };
  const n = headerLength(head, fileSize, fileName);
  if (head.length < 8 + n) fail(`only ${head.length} of the ${8 + n} header bytes were read`);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(head.subarray(8, 8 + n));
  } catch {
    return fail('header is not valid UTF-8');
  }
  if (!text.startsWith('{')) fail('header does not start with "{" (not a safetensors file?)');
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    return fail(`header is not valid JSON (${(e as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) fail('header is not a JSON object');

  const dataStart = 8 + n;
  const dataLen = fileSize - dataStart;
  const metadata: Record<string, string> = {};
  const entries = new Map<string, StEntry>();

  for (const [name, info] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (info === null) continue; // the reference accepts a null metadata
      if (typeof info !== 'object' || Array.isArray(info)) fail('"__metadata__" is not an object of strings');
      for (const [k, v] of Object.entries(info as Record<string, unknown>)) {
        if (typeof v !== 'string') fail(`"__metadata__" entry ${q(k)} is not a string (got ${v === null ? 'null' : typeof v})`);
        metadata[k] = v as string;
      }
      continue;
    }
    const t = `tensor ${q(name)}`;
    if (typeof info !== 'object' || info === null || Array.isArray(info)) fail(`${t}: entry is not an object`);
    const { dtype, shape, data_offsets: offs } = info as Record<string, unknown>;
    if (!isDtype(dtype)) {
      if (typeof dtype === 'string' && OTHER_SPEC_DTYPES.has(dtype)) fail(`${t}: dtype ${dtype} is not supported (supported: ${Object.keys(DTYPE_SIZE).join(', ')})`);
      fail(`${t}: unknown dtype ${JSON.stringify(dtype) ?? 'undefined'}`);
    }
    if (!Array.isArray(shape) || !shape.every(isNonNegInt)) fail(`${t}: shape ${JSON.stringify(shape) ?? 'undefined'} is not an array of non-negative integers`);
    if (!Array.isArray(offs) || offs.length !== 2) fail(`${t}: data_offsets ${JSON.stringify(offs) ?? 'missing'} is not a [begin, end] pair`);
    const [begin, end] = offs as unknown[];
    if (!isNonNegInt(begin) || !isNonNegInt(end)) fail(`${t}: data_offsets ${JSON.stringify(offs)} are not non-negative integers`);
    if ((begin as number) > (end as number)) fail(`${t}: data_offsets [${begin}, ${end}] are reversed`);
    if ((end as number) > dataLen) fail(`${t}: data_offsets [${begin}, ${end}] run past the end of the data (${dataLen} bytes): truncated file?`);
    const count = elementCount(shape as number[]);
    const dt = dtype as StDtype;
    const want = count < 0 ? -1 : count * DTYPE_SIZE[dt];
    if (want < 0 || !Number.isSafeInteger(want)) fail(`${t}: shape [${shape}] has too many elements`);
    const got = (end as number) - (begin as number);
    if (got !== want) fail(`${t}: holds ${got} bytes, but shape [${shape}] of ${dt} needs ${want}`);
    entries.set(name, { dtype: dt, shape: [...(shape as number[])], begin: begin as number, end: end as number });
  }

  // The ranges must tile [0, dataLen) exactly.
  const sorted = [...entries].sort(([, a], [, b]) => a.begin - b.begin || a.end - b.end);
  let pos = 0;
  let prev: string | null = null;
  for (const [name, e] of sorted) {
    if (e.begin < pos) fail(`tensor ${q(name)}: data_offsets [${e.begin}, ${e.end}] overlap tensor ${q(prev!)} (which ends at ${pos})`);
    if (e.begin > pos) fail(`tensor ${q(name)}: data_offsets [${e.begin}, ${e.end}] leave a hole at bytes [${pos}, ${e.begin}) of the data`);
    pos = e.end;
    prev = name;
  }
  if (pos !== dataLen) {
    fail(`data buffer has ${dataLen} bytes but the tensors cover only ${pos}${prev !== null ? ` (last: tensor ${q(prev)})` : ''}: trailing bytes not in any tensor`);
  }
  return { metadata, entries, dataStart };
}

/**
 * Parses a safetensors file. Tensor data are views into `bytes` (no copy). Throws an Error with a
 * one-line message naming `fileName` (and the tensor, where one is at fault) on any violation.
 */
export function parseSafetensors(bytes: Uint8Array, fileName: string): { tensors: Map<string, StTensor>; metadata: Record<string, string> } {
  const { metadata, entries, dataStart } = parseSafetensorsHeader(bytes, bytes.length, fileName);
  const tensors = new Map<string, StTensor>();
  for (const [name, e] of entries) {
    tensors.set(name, { dtype: e.dtype, shape: e.shape, data: bytes.subarray(dataStart + e.begin, dataStart + e.end) });
  }
  return { tensors, metadata };
}

/** The first element of a float tensor that is NaN or infinite (as float32), or -1. */
export function firstNonFinite(t: StTensor, name: string): number {
  // float16, bfloat16, float32: from the bits (exponent all ones), without decoding a model's weights
  const bits = ({ F16: [2, 0x7c00], BF16: [2, 0x7f80], F32: [4, 0x7f800000] } as Partial<Record<StDtype, [number, number]>>)[t.dtype];
  if (!bits) {
    const v = toFloat32(t, name);
    for (let i = 0; i < v.length; i++) if (!Number.isFinite(v[i])) return i;
    return -1;
  }
  checkTensorBytes(t, name);
  const [size, mask] = bits, n = t.data.length / size;
  const dv = new DataView(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  for (let i = 0; i < n; i++) if (((size === 2 ? dv.getUint16(2 * i, true) : dv.getUint32(4 * i, true)) & mask) === mask) return i;
  return -1;
}

/** A known dtype whose byte count fits the shape (toFloat32's checks), without decoding. */
function checkTensorBytes(t: StTensor, name: string): void {
  const size = DTYPE_SIZE[t.dtype];
  if (size === undefined) throw new Error(`tensor ${q(name)}: unknown dtype ${String(t.dtype)}`);
  const n = t.data.length / size;
  if (!Number.isInteger(n) || n !== elementCount(t.shape)) {
    throw new Error(`tensor ${q(name)}: ${t.data.length} bytes do not match shape [${t.shape}] of ${t.dtype}`);
  }
}

/**
 * Writes a safetensors file. Tensors are laid out in the data buffer in the order given (a Map's
 * insertion order), with no padding between them, and listed in the header in the same order after
 * "__metadata__" (written only when metadata has entries). The header JSON is padded with spaces so
 * that the data starts at a multiple of 8 bytes, as the reference implementation does. Element
 * alignment inside the data holds only if the larger dtypes come first (the reference sorts by
 * dtype for that reason); this module's reader does not need it.
 */
export function serializeSafetensors(tensors: Array<[string, StTensor]> | Map<string, StTensor>, metadata?: Record<string, string>): Uint8Array {
  const list = tensors instanceof Map ? [...tensors.entries()] : tensors;
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length > 0) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') throw new Error(`safetensors: metadata ${q(k)} is not a string`);
    }
    header.__metadata__ = { ...metadata };
  }
  const seen = new Set<string>();
  let offset = 0;
  for (const [name, t] of list) {
    if (name === '__metadata__') throw new Error('safetensors: "__metadata__" is reserved and cannot name a tensor');
    if (seen.has(name)) throw new Error(`safetensors: tensor ${q(name)} appears twice`);
    seen.add(name);
    if (!isDtype(t.dtype)) throw new Error(`safetensors: tensor ${q(name)}: unknown dtype ${String(t.dtype)}`);
    if (!Array.isArray(t.shape) || !t.shape.every(isNonNegInt)) throw new Error(`safetensors: tensor ${q(name)}: bad shape ${JSON.stringify(t.shape)}`);
    const want = elementCount(t.shape) * DTYPE_SIZE[t.dtype];
    if (t.data.length !== want) throw new Error(`safetensors: tensor ${q(name)}: ${t.data.length} bytes of data, shape [${t.shape}] of ${t.dtype} needs ${want}`);
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + want] };
    offset += want;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const pad = (8 - (json.length % 8)) % 8;
  const dataStart = 8 + json.length + pad;
  const out = new Uint8Array(dataStart + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length + pad), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, dataStart);
  let p = dataStart;
  for (const [, t] of list) {
    out.set(t.data, p);
    p += t.data.length;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Half precision

const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);
const HOST_LE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** float32 bit pattern -> IEEE binary16 bit pattern, rounding to nearest, ties to even. */
function f32BitsToF16Bits(b: number): number {
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  const mant = b & 0x7fffff;
  if (exp === 0xff) return mant !== 0 ? sign | 0x7e00 | (mant >>> 13) : sign | 0x7c00; // NaN (quiet, payload kept) / inf
  const e = exp - 112; // binary16 biased exponent (127 - 15 = 112)
  if (e >= 0x1f) return sign | 0x7c00; // overflow
  if (e <= 0) {
    // Subnormal half (or zero): value = full * 2^(exp-150) = m * 2^-24, so m = full >> (126 - exp).
    const shift = 126 - exp; // >= 14
    if (shift > 24) return sign; // < 2^-25: rounds to (signed) zero; float32 subnormals land here too
    const full = mant | 0x800000;
    let m = full >>> shift;
    const rem = full & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && (m & 1) !== 0)) m++; // may carry into the smallest normal: correct
    return sign | m;
  }
  let h = sign | (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (h & 1) !== 0)) h++; // a carry moves to the next binade, or to inf
  return h;
}

/** A number (rounded to float32 first) -> IEEE binary16 bits, round-to-nearest-even. */
export function f32ToF16Bits(x: number): number {
  f32Scratch[0] = x;
  return f32BitsToF16Bits(u32Scratch[0]);
}

/** IEEE binary16 bits -> its value (exact). */
export function f16BitsToF32(h: number): number {
  const s = (h & 0x8000) !== 0 ? -1 : 1;
  const e = (h >>> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 0x1f) return m !== 0 ? NaN : s * Infinity;
  return s * (1024 + m) * 2 ** (e - 25);
}

let f16Table: Float32Array | null = null;
function f16Lut(): Float32Array {
  if (!f16Table) {
    f16Table = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) f16Table[h] = f16BitsToF32(h);
  }
  return f16Table;
}

/** Little-endian bytes -> a fresh, aligned copy as the given typed array. */
function alignedCopy(bytes: Uint8Array): ArrayBuffer {
  const c = new Uint8Array(bytes.length);
  c.set(bytes);
  return c.buffer;
}

/** Decodes a tensor to float32: F32 copied, F16/BF16 widened exactly, F64 rounded. Other dtypes throw. */
export function toFloat32(t: StTensor, name: string): Float32Array {
  checkTensorBytes(t, name);
  const n = t.data.length / DTYPE_SIZE[t.dtype]!;
  const dv = new DataView(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  switch (t.dtype) {
    case 'F32': {
      if (HOST_LE) return new Float32Array(alignedCopy(t.data));
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = dv.getFloat32(4 * i, true);
      return out;
    }
    case 'F16': {
      const lut = f16Lut();
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = lut[dv.getUint16(2 * i, true)];
      return out;
    }
    case 'BF16': {
      const out = new Float32Array(n);
      const bits = new Uint32Array(out.buffer);
      for (let i = 0; i < n; i++) bits[i] = dv.getUint16(2 * i, true) << 16;
      return out;
    }
    case 'F64': {
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = dv.getFloat64(8 * i, true);
      return out;
    }
    default:
      throw new Error(`tensor ${q(name)}: dtype ${t.dtype} cannot be read as float32 (expected F32, F16, BF16 or F64)`);
  }
}

/** Encodes float32 data as an F32 (bit-exact) or F16 (round-to-nearest-even) tensor. */
export function fromFloat32(data: Float32Array, shape: number[], dtype: 'F32' | 'F16' = 'F32'): StTensor {
  if (!shape.every(isNonNegInt) || elementCount(shape) !== data.length) {
    throw new Error(`fromFloat32: ${data.length} values do not fill shape [${shape}]`);
  }
  const n = data.length;
  const bits = new Uint32Array(data.buffer, data.byteOffset, n); // Float32Array views are 4-byte aligned
  if (dtype === 'F32') {
    const out = new Uint8Array(4 * n);
    if (HOST_LE) out.set(new Uint8Array(data.buffer, data.byteOffset, 4 * n));
    else { const dv = new DataView(out.buffer); for (let i = 0; i < n; i++) dv.setUint32(4 * i, bits[i], true); }
    return { dtype, shape: [...shape], data: out };
  }
  if (dtype === 'F16') {
    const out = new Uint8Array(2 * n);
    for (let i = 0; i < n; i++) {
      const h = f32BitsToF16Bits(bits[i]);
      out[2 * i] = h & 0xff;
      out[2 * i + 1] = h >>> 8;
    }
    return { dtype, shape: [...shape], data: out };
  }
  throw new Error(`fromFloat32: unsupported dtype ${String(dtype)}`);
}

// ---------------------------------------------------------------------------------------------
// Layouts

function checkLen(w: Float32Array, n: number, what: string): void {
  if (w.length !== n) throw new Error(`${what}: got ${w.length} values, expected ${n}`);
}

/** Conv weight, engine [KH, KW, Cin, Cout] (K = KH = KW) -> PyTorch [Cout, Cin, KH, KW]. */
export function hwioToOihw(w: Float32Array, K: number, Cin: number, Cout: number): Float32Array {
  checkLen(w, K * K * Cin * Cout, `hwioToOihw(K=${K}, Cin=${Cin}, Cout=${Cout})`);
  const out = new Float32Array(w.length);
  for (let kh = 0; kh < K; kh++) for (let kw = 0; kw < K; kw++) for (let ci = 0; ci < Cin; ci++) {
    const src = ((kh * K + kw) * Cin + ci) * Cout;
    for (let co = 0; co < Cout; co++) out[((co * Cin + ci) * K + kh) * K + kw] = w[src + co];
  }
  return out;
}

/** Conv weight, PyTorch [Cout, Cin, KH, KW] -> engine [KH, KW, Cin, Cout]. */
export function oihwToHwio(w: Float32Array, K: number, Cin: number, Cout: number): Float32Array {
  checkLen(w, K * K * Cin * Cout, `oihwToHwio(K=${K}, Cin=${Cin}, Cout=${Cout})`);
  const out = new Float32Array(w.length);
  for (let kh = 0; kh < K; kh++) for (let kw = 0; kw < K; kw++) for (let ci = 0; ci < Cin; ci++) {
    const dst = ((kh * K + kw) * Cin + ci) * Cout;
    for (let co = 0; co < Cout; co++) out[dst + co] = w[((co * Cin + ci) * K + kh) * K + kw];
  }
  return out;
}

/** Row-major [rows, cols] -> [cols, rows] (dense [in, out] <-> [out, in]). */
export function transpose2d(w: Float32Array, rows: number, cols: number): Float32Array {
  checkLen(w, rows * cols, `transpose2d(${rows}, ${cols})`);
  const out = new Float32Array(w.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = w[r * cols + c];
  return out;
}
