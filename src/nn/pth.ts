// PyTorch `.pth` state_dicts (torch.save's zip format, the default since PyTorch 1.6), read without
// Python: the zip's `<name>/data.pkl` is a pickle of {name: tensor}, each tensor a call of
// torch._utils._rebuild_tensor_v2 on a storage whose bytes are the entry `<name>/data/<key>`.
//
// A pickle is a program: unpickling one can call any function it names. This reader runs only
// the opcodes a state_dict uses and knows only the few globals torch writes for one
// (OrderedDict, the tensor and parameter rebuilders, the typed storage classes); anything else is
// refused as "not a plain state_dict", so a crafted file can do nothing but fail. Only stored
// (uncompressed) zip entries are read, which is what torch.save writes.
import type { StDtype, StTensor } from './safetensors.js';

class PthError extends Error {}
function fail(file: string, msg: string): never { throw new PthError(`${file}: ${msg}`); }

/** The entries of a zip archive (stored entries only), by name. */
function readZip(bytes: Uint8Array, file: string): Map<string, Uint8Array> {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // End of central directory: the last PK\x05\x06 within the final 64 KiB + 22 bytes.
  let eocd = -1;
  for (let i = bytes.length - 22; i >= Math.max(0, bytes.length - 65557); i--) {
    if (dv.getUint32(i, true) === 0x06054b50) { eocd = i; break; }
  }
  if (eocd < 0) fail(file, 'not a zip archive (torch.save writes one)');
  let count = dv.getUint16(eocd + 10, true);
  let cdOffset = dv.getUint32(eocd + 16, true);
  // ZIP64: the counts and offset live in the ZIP64 end record, located just before.
  if (cdOffset === 0xffffffff || count === 0xffff) {
    const loc = eocd - 20;
    if (loc < 0 || dv.getUint32(loc, true) !== 0x07064b50) fail(file, 'damaged ZIP64 archive');
    const rec = Number(dv.getBigUint64(loc + 8, true));
    if (rec + 56 > bytes.length || dv.getUint32(rec, true) !== 0x06064b50) fail(file, 'damaged ZIP64 archive');
    count = Number(dv.getBigUint64(rec + 32, true));
    cdOffset = Number(dv.getBigUint64(rec + 48, true));
  }
  const out = new Map<string, Uint8Array>();
  let p = cdOffset;
  const dec = new TextDecoder();
  for (let k = 0; k < count; k++) {
    if (p + 46 > bytes.length || dv.getUint32(p, true) !== 0x02014b50) fail(file, 'damaged zip central directory');
    const method = dv.getUint16(p + 10, true);
    let size = dv.getUint32(p + 20, true);
    const nameLen = dv.getUint16(p + 28, true), extraLen = dv.getUint16(p + 30, true), commentLen = dv.getUint16(p + 32, true);
    let local = dv.getUint32(p + 42, true);
    const name = dec.decode(bytes.subarray(p + 46, p + 46 + nameLen));
    // ZIP64 extra field (id 1): the 64-bit sizes/offset that were 0xffffffff, in this order.
    for (let e = p + 46 + nameLen; e + 4 <= p + 46 + nameLen + extraLen;) {
      const id = dv.getUint16(e, true), len = dv.getUint16(e + 2, true);
      if (id === 1) {
        let q = e + 4;
        if (dv.getUint32(p + 24, true) === 0xffffffff) q += 8; // uncompressed size comes first
        if (size === 0xffffffff) { size = Number(dv.getBigUint64(q, true)); q += 8; }
        if (local === 0xffffffff) local = Number(dv.getBigUint64(q, true));
      }
      e += 4 + len;
    }
    if (method !== 0) fail(file, `zip entry ${name} is compressed (method ${method}); torch.save stores entries uncompressed`);
    if (local + 30 > bytes.length || dv.getUint32(local, true) !== 0x04034b50) fail(file, `damaged zip entry ${name}`);
    const start = local + 30 + dv.getUint16(local + 26, true) + dv.getUint16(local + 28, true);
    if (start + size > bytes.length) fail(file, `zip entry ${name} runs past the end of the file`);
    out.set(name, bytes.subarray(start, start + size));
    p += 46 + nameLen + extraLen + commentLen;
  }
  return out;
}

const STORAGES: Record<string, StDtype> = {
  FloatStorage: 'F32', HalfStorage: 'F16', BFloat16Storage: 'BF16', DoubleStorage: 'F64', LongStorage: 'I64', IntStorage: 'I32', ByteStorage: 'U8',
};
const SIZES: Record<StDtype, number> = { F32: 4, F16: 2, BF16: 2, F64: 8, I64: 8, I32: 4, U8: 1 };

interface Global { global: string }
interface Storage { storage: StDtype; key: string }
interface Call { fn: string; args: unknown[] }
const MARK = Symbol('mark');

/**
 * Bounds on the pickle machine, far above what a state_dict of any generator needs (x4plus: about
 * 2,000 objects): a few KB of crafted opcodes cannot cost gigabytes or minutes.
 */
const MAX_STACK = 100_000, MAX_MEMO = 1_000_000, MAX_OBJECTS = 2_000_000;

/** Runs the restricted pickle VM; returns the unpickled object. */
function unpickle(pkl: Uint8Array, file: string): unknown {
  const dv = new DataView(pkl.buffer, pkl.byteOffset, pkl.byteLength);
  const dec = new TextDecoder();
  const stack: unknown[] = [];
  const memo = new Map<number, unknown>();
  let p = 0;
  const need = (n: number) => { if (p + n > pkl.length) fail(file, 'data.pkl ends early'); };
  let objects = 0;
  const made = () => { if (++objects > MAX_OBJECTS || stack.length > MAX_STACK) fail(file, `data.pkl: more than ${MAX_OBJECTS} objects or ${MAX_STACK} stack entries: not a state_dict`); };
  const remember = (k: number) => { if (memo.size >= MAX_MEMO && !memo.has(k)) fail(file, `data.pkl: more than ${MAX_MEMO} memo entries: not a state_dict`); memo.set(k, stack[stack.length - 1]); };
  const u8 = () => { need(1); return pkl[p++]; };
  const u16 = () => { need(2); const v = dv.getUint16(p, true); p += 2; return v; };
  const u32 = () => { need(4); const v = dv.getUint32(p, true); p += 4; return v; };
  const i32 = () => { need(4); const v = dv.getInt32(p, true); p += 4; return v; };
  const str = (n: number) => { need(n); const s = dec.decode(pkl.subarray(p, p + n)); p += n; return s; };
  const line = () => { const e = pkl.indexOf(0x0a, p); if (e < 0) fail(file, 'data.pkl ends early'); const s = dec.decode(pkl.subarray(p, e)); p = e + 1; return s; };
  const pop = () => { if (!stack.length) fail(file, 'data.pkl: stack underflow'); return stack.pop(); };
  const popMark = () => {
    const i = stack.lastIndexOf(MARK);
    if (i < 0) fail(file, 'data.pkl: no mark');
    const items = stack.splice(i);
    items.shift();
    return items;
  };
  const global = (mod: string, name: string): Global => {
    const g = `${mod}.${name}`;
    const ok = g === 'collections.OrderedDict' || g === 'torch._utils._rebuild_tensor_v2' || g === 'torch._utils._rebuild_parameter' ||
      (mod === 'torch' && name in STORAGES);
    if (!ok) fail(file, `not a plain state_dict: the pickle names ${g}`);
    return { global: g };
  };
  const setItems = (d: unknown, kv: unknown[]) => {
    if (!(d instanceof Map)) fail(file, 'data.pkl: SETITEM on a non-dict');
    for (let i = 0; i + 1 < kv.length; i += 2) (d as Map<unknown, unknown>).set(kv[i], kv[i + 1]);
  };
  for (;;) {
    const op = u8();
    made();
    switch (op) {
      case 0x80: u8(); break;                                   // PROTO
      case 0x95: need(8); p += 8; break;                        // FRAME
      case 0x2e: return pop();                                  // STOP
      case 0x28: stack.push(MARK); break;                       // MARK
      case 0x7d: stack.push(new Map()); break;                  // EMPTY_DICT
      case 0x5d: stack.push([]); break;                         // EMPTY_LIST
      case 0x29: stack.push([]); break;                         // EMPTY_TUPLE
      case 0x74: stack.push(popMark()); break;                  // TUPLE
      case 0x85: stack.push([pop()]); break;                    // TUPLE1
      case 0x86: { const b = pop(), a = pop(); stack.push([a, b]); break; }        // TUPLE2
      case 0x87: { const c = pop(), b = pop(), a = pop(); stack.push([a, b, c]); break; } // TUPLE3
      case 0x4e: stack.push(null); break;                       // NONE
      case 0x88: stack.push(true); break;                       // NEWTRUE
      case 0x89: stack.push(false); break;                      // NEWFALSE
      case 0x4b: stack.push(u8()); break;                       // BININT1
      case 0x4d: stack.push(u16()); break;                      // BININT2
      case 0x4a: stack.push(i32()); break;                      // BININT
      case 0x8a: {                                              // LONG1
        const n = u8(); need(n);
        let v = 0n;
        for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(pkl[p + i]);
        if (n && pkl[p + n - 1] & 0x80) v -= 1n << BigInt(8 * n);
        p += n;
        stack.push(Number(v));
        break;
      }
      case 0x47: { need(8); stack.push(dv.getFloat64(p, false)); p += 8; break; } // BINFLOAT
      case 0x58: stack.push(str(u32())); break;                 // BINUNICODE
      case 0x8c: stack.push(str(u8())); break;                  // SHORT_BINUNICODE
      case 0x8d: { need(8); const n = Number(dv.getBigUint64(p, true)); p += 8; stack.push(str(n)); break; } // BINUNICODE8
      case 0x71: remember(u8()); break;                         // BINPUT
      case 0x72: remember(u32()); break;                        // LONG_BINPUT
      case 0x94: remember(memo.size); break;                    // MEMOIZE
      case 0x68: { const k = u8(); if (!memo.has(k)) fail(file, 'data.pkl: bad memo reference'); stack.push(memo.get(k)); break; } // BINGET
      case 0x6a: { const k = u32(); if (!memo.has(k)) fail(file, 'data.pkl: bad memo reference'); stack.push(memo.get(k)); break; } // LONG_BINGET
      case 0x63: { const mod = line(); stack.push(global(mod, line())); break; }  // GLOBAL
      case 0x93: { const name = pop() as string, mod = pop() as string; stack.push(global(mod, name)); break; } // STACK_GLOBAL
      case 0x51: {                                              // BINPERSID: ('storage', type, key, location, numel)
        const t = pop();
        // the key a string (torch writes '0', '1', ...): a crafted nested object would cost its whole graph to print
        if (!Array.isArray(t) || t[0] !== 'storage' || !(t[1] as Global)?.global || typeof t[2] !== 'string' || t[2].length > 64) fail(file, 'data.pkl: unknown persistent id');
        const cls = (t as [string, Global, string])[1].global.slice('torch.'.length);
        stack.push({ storage: STORAGES[cls], key: String((t as unknown[])[2]) } satisfies Storage);
        break;
      }
      case 0x52: {                                              // REDUCE
        const args = pop(), fn = pop() as Global;
        if (!fn?.global || !Array.isArray(args)) fail(file, 'data.pkl: bad call');
        stack.push(fn.global === 'collections.OrderedDict' ? new Map() : { fn: fn.global, args: args as unknown[] } satisfies Call);
        break;
      }
      case 0x73: { const v = pop(), k = pop(); setItems(stack[stack.length - 1], [k, v]); break; } // SETITEM
      case 0x75: { const kv = popMark(); setItems(stack[stack.length - 1], kv); break; }          // SETITEMS
      case 0x61: { const v = pop(); (stack[stack.length - 1] as unknown[]).push(v); break; }       // APPEND
      case 0x65: { const vs = popMark(); (stack[stack.length - 1] as unknown[]).push(...vs); break; } // APPENDS
      case 0x62: pop(); break;                                  // BUILD: instance state (_metadata), not needed
      default: fail(file, `data.pkl: opcode 0x${op.toString(16)} is not used by plain state_dicts`);
    }
  }
}

/** A rebuilt tensor's bytes, contiguous, from its storage (offset, shape and strides in elements). */
function tensorOf(call: Call, entries: Map<string, Uint8Array>, prefix: string, file: string, name: string): StTensor {
  let c = call;
  if (c.fn === 'torch._utils._rebuild_parameter') c = c.args[0] as Call;
  if (c?.fn !== 'torch._utils._rebuild_tensor_v2') fail(file, `${name}: not a tensor`);
  const [st, offset, shape, stride] = c.args as [Storage, unknown, unknown, unknown];
  if (!st?.storage) fail(file, `${name}: unsupported storage type`);
  // every field checked before it is used or printed: flat tuples of whole numbers, a storage offset
  // inside the storage, one stride per dimension
  const whole = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
  if (!whole(offset)) fail(file, `${name}: storage offset is not a whole number`);
  if (!Array.isArray(shape) || shape.length > 8 || !shape.every((d) => whole(d) && d <= 2 ** 31)) fail(file, `${name}: its shape is not a tuple of up to 8 whole numbers`);
  if (!Array.isArray(stride) || stride.length !== shape.length || !stride.every(whole)) fail(file, `${name}: its strides are not one whole number per dimension`);
  const data = entries.get(`${prefix}data/${st.key}`) ?? fail(file, `${name}: storage ${st.key} is missing`);
  const es = SIZES[st.storage];
  const n = (shape as number[]).reduce((a, b) => a * b, 1);
  // a saved tensor never holds more elements than its storage (a stride-0 view of a tiny storage
  // expanded to a huge shape would cost gigabytes to materialise)
  if (n > data.length / es) fail(file, `${name}: shape [${shape}] has ${n} elements, more than its storage's ${Math.floor(data.length / es)}`);
  if (n > 0 && (offset as number) >= data.length / es) fail(file, `${name}: storage offset ${offset} is past the end of its storage`);
  const out = new Uint8Array(n * es);
  const idx = new Array(shape.length).fill(0);
  for (let i = 0; i < n; i++) {
    let src = offset;
    for (let d = 0; d < shape.length; d++) src += idx[d] * stride[d];
    if ((src + 1) * es > data.length) fail(file, `${name}: reads past its storage`);
    out.set(data.subarray(src * es, (src + 1) * es), i * es);
    for (let d = shape.length - 1; d >= 0 && ++idx[d] === shape[d]; d--) idx[d] = 0;
  }
  return { dtype: st.storage, shape: [...(shape as number[])], data: out };
}

/** The tensors of a torch.save'd state_dict (a .pth / .pt zip), by name. */
export function parsePth(bytes: Uint8Array, file: string): Map<string, StTensor> {
  const entries = readZip(bytes, file);
  const pklName = [...entries.keys()].find((k) => /^[^/]+\/data\.pkl$/.test(k)) ?? fail(file, 'no data.pkl: not a torch.save archive');
  const prefix = pklName.slice(0, -'data.pkl'.length);
  const obj = unpickle(entries.get(pklName)!, file);
  if (!(obj instanceof Map)) fail(file, 'not a state_dict (the pickle is not a dict of tensors)');
  // BasicSR and Real-ESRGAN save {'params_ema': state_dict} or {'params': state_dict}: the moving average first
  let sd = obj as Map<unknown, unknown>;
  for (const key of ['params_ema', 'params']) {
    const inner = sd.get(key);
    if (inner instanceof Map) { sd = inner as Map<unknown, unknown>; break; }
  }
  const out = new Map<string, StTensor>();
  for (const [k, v] of sd) {
    if (typeof k !== 'string') fail(file, 'not a state_dict (a key is not a string)');
    out.set(k, tensorOf(v as Call, entries, prefix, file, k));
  }
  return out;
}

/** Whether bytes start like a zip archive (a .pth) rather than a safetensors header. */
export const isZip = (bytes: Uint8Array): boolean => bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 0x03 && bytes[3] === 0x04;
