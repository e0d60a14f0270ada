// safetensors reading/writing, half-precision conversion and the PyTorch layout helpers (CPU only).
import { describe, expect, it } from 'vitest';
import {
  f16BitsToF32, f32ToF16Bits, fromFloat32, hwioToOihw, oihwToHwio, parseSafetensors, serializeSafetensors,
  toFloat32, transpose2d, type StTensor,
} from '../../src/nn/safetensors.js';

import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rng } from '../../src/nn/random.js';
import { readSafetensors, readSafetensorsHeader, serializeChecked, writeAtomic } from '../../src/node/state.js';
import { toDisk, fromDisk, diskShape, CHECKSUM_KEY, highestIndex } from '../../src/nn/state.js';
import { firstNonFinite, parseSafetensorsHeader } from '../../src/nn/safetensors.js';
import type { Tensor } from '../../src/nn/tensor.js';

function randomBytes(n: number, seed: number): Uint8Array {
  const r = rng(seed);
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = Math.floor(r() * 256);
  return b;
}

/** A file from raw header text and data bytes, built by hand (no serializer involved). */
function rawFile(header: string, data: Uint8Array | number[] = [], lengthField?: bigint): Uint8Array {
  const h = new TextEncoder().encode(header);
  const out = new Uint8Array(8 + h.length + data.length);
  let len = lengthField ?? BigInt(h.length);
  for (let i = 0; i < 8; i++) { out[i] = Number(len & 0xffn); len >>= 8n; }
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

/** Expects parse to throw a plain one-line Error mentioning each of `parts`. */
function expectParseError(bytes: Uint8Array, file: string, ...parts: Array<string | RegExp>): string {
  let err: unknown = null;
  try {
    parseSafetensors(bytes, file);
  } catch (e) {
    err = e;
  }
  expect(err, 'should throw').toBeInstanceOf(Error);
  const e = err as Error;
  expect(e.constructor, `a plain Error, not ${e.constructor.name}: ${e.message}`).toBe(Error);
  expect(e.message).not.toMatch(/[\r\n]/);
  expect(e.message.startsWith(`${file}: `)).toBe(true);
  for (const p of parts) {
    if (typeof p === 'string') expect(e.message).toContain(p);
    else expect(e.message).toMatch(p);
  }
  return e.message;
}

const f32Bytes = (...v: number[]) => new Uint8Array(new Float32Array(v).buffer);

describe('safetensors round trip', () => {
  const tensors: Array<[string, StTensor]> = [
    ['conv.weight', fromFloat32(Float32Array.from({ length: 3 * 5 * 7 }, (_, i) => Math.sin(i) * 3), [3, 5, 7])],
    ['half.odd', fromFloat32(Float32Array.from({ length: 7 }, (_, i) => i / 3 - 1), [7], 'F16')],
    ['scalar', fromFloat32(new Float32Array([Math.PI]), [])],
    ['empty', { dtype: 'F32', shape: [0, 4], data: new Uint8Array(0) }],
    ['bytes', { dtype: 'U8', shape: [3], data: new Uint8Array([0, 127, 255]) }],
    ['i64', { dtype: 'I64', shape: [2], data: randomBytes(16, 1) }],
    ['bf16', { dtype: 'BF16', shape: [1, 3], data: randomBytes(6, 2) }],
    ['f64', { dtype: 'F64', shape: [2, 1], data: new Uint8Array(new Float64Array([1e300, -0.1]).buffer) }],
    ['i32', { dtype: 'I32', shape: [1], data: new Uint8Array(new Int32Array([-5]).buffer) }],
    ['ünïcode name', fromFloat32(new Float32Array([-0, NaN, Infinity]), [3])],
  ];
  const metadata = { format: 'pt', note: 'a "quoted" value\nwith a newline' };

  it('writes and reads back every tensor bit for bit, with metadata', () => {
    const file = serializeSafetensors(tensors, metadata);
    const n = Number(new DataView(file.buffer).getBigUint64(0, true));
    expect(n % 8).toBe(0);
    expect(file[8]).toBe('{'.charCodeAt(0));
    const { tensors: back, metadata: meta } = parseSafetensors(file, 'rt.safetensors');
    expect(meta).toEqual(metadata);
    expect([...back.keys()]).toEqual(tensors.map(([k]) => k));
    for (const [name, t] of tensors) {
      const b = back.get(name)!;
      expect(b.dtype, name).toBe(t.dtype);
      expect(b.shape, name).toEqual(t.shape);
      expect(Array.from(b.data), name).toEqual(Array.from(t.data));
    }
    // the data are laid out in the given order, back to back
    expect(back.get('conv.weight')!.data.byteOffset).toBe(8 + n);
    expect(back.get('half.odd')!.data.byteOffset).toBe(8 + n + 3 * 5 * 7 * 4);
    expect(back.get('scalar')!.data.byteOffset).toBe(8 + n + 3 * 5 * 7 * 4 + 7 * 2);
    // writing what was read gives the same bytes
    expect(Array.from(serializeSafetensors(back, meta))).toEqual(Array.from(file));
    // a Map keeps insertion order too
    expect(Array.from(serializeSafetensors(new Map(tensors), metadata))).toEqual(Array.from(file));
  });

  it('keeps float32 bit patterns (NaN payload, -0) and decodes F16/BF16/F64 to float32', () => {
    const bits = new Uint32Array([0x7fc01234, 0x80000000, 0x00000001, 0x7f7fffff, 0x3f800000]);
    const f = new Float32Array(bits.buffer);
    const t = fromFloat32(f, [5]);
    const back = parseSafetensors(serializeSafetensors([['x', t]]), 'f.st').tensors.get('x')!;
    expect(Array.from(new Uint32Array(toFloat32(back, 'x').buffer))).toEqual(Array.from(bits));

    const h = fromFloat32(new Float32Array([1, -2, 0.5, 65504, 1e-7]), [5], 'F16');
    expect(Array.from(toFloat32(h, 'h'))).toEqual([1, -2, 0.5, 65504, 2 ** -24 * 2]);

    const bf: StTensor = { dtype: 'BF16', shape: [3], data: new Uint8Array([0x80, 0x3f, 0x00, 0xc0, 0x49, 0x40]) };
    expect(Array.from(toFloat32(bf, 'bf'))).toEqual([1, -2, Math.fround(3.140625)]);

    const d: StTensor = { dtype: 'F64', shape: [2], data: new Uint8Array(new Float64Array([0.1, 1e40]).buffer) };
    expect(Array.from(toFloat32(d, 'd'))).toEqual([Math.fround(0.1), Infinity]);

    // unaligned views decode too
    const buf = new Uint8Array(9);
    buf.set(f32Bytes(1.5, -3), 1);
    expect(Array.from(toFloat32({ dtype: 'F32', shape: [2], data: buf.subarray(1) }, 'u'))).toEqual([1.5, -3]);

    expect(() => toFloat32({ dtype: 'I32', shape: [1], data: new Uint8Array(4) }, 'layer.count')).toThrow(/"layer\.count".*I32/);
    expect(() => toFloat32({ dtype: 'F32', shape: [3], data: new Uint8Array(8) }, 'short')).toThrow(/"short"/);
  });

  it('refuses to write inconsistent tensors', () => {
    expect(() => serializeSafetensors([['a', { dtype: 'F32', shape: [3], data: new Uint8Array(8) }]])).toThrow(/"a"/);
    expect(() => serializeSafetensors([['a', fromFloat32(new Float32Array(1), [1])], ['a', fromFloat32(new Float32Array(1), [1])]])).toThrow(/twice/);
    expect(() => serializeSafetensors([['__metadata__', fromFloat32(new Float32Array(1), [1])]])).toThrow(/reserved/);
    expect(() => fromFloat32(new Float32Array(5), [2, 3])).toThrow();
  });

  it('parses a file written byte by byte (unpadded header, metadata last, F32 + 0-d F16 + empty U8)', () => {
    const header = '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F16","shape":[],"data_offsets":[8,10]},'
      + '"c":{"dtype":"U8","shape":[0],"data_offsets":[10,10]},"__metadata__":{"format":"pt"}}';
    const data = [0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0xc0, 0x00, 0x3c];
    const { tensors, metadata } = parseSafetensors(rawFile(header, data), 'hand.safetensors');
    expect(metadata).toEqual({ format: 'pt' });
    expect(tensors.size).toBe(3);
    const a = tensors.get('a')!;
    expect(a.dtype).toBe('F32');
    expect(a.shape).toEqual([2]);
    expect(Array.from(toFloat32(a, 'a'))).toEqual([1, -2]);
    const b = tensors.get('b')!;
    expect(b.shape).toEqual([]);
    expect(Array.from(toFloat32(b, 'b'))).toEqual([1]);
    expect(tensors.get('c')!.data.length).toBe(0);
    // header is JSON: leading whitespace inside the padding region after "}" is fine too
    const padded = parseSafetensors(rawFile('{"x":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}   ', [7]), 'p.st');
    expect(Array.from(padded.tensors.get('x')!.data)).toEqual([7]);
    // an empty file: no tensors at all
    expect(parseSafetensors(rawFile('{}'), 'e.st').tensors.size).toBe(0);
  });
});

describe('safetensors corruption', () => {
  const F = 'bad.safetensors';
  const good = '{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}';

  it('file too short / header length beyond the file / huge', () => {
    expectParseError(new Uint8Array(5), F, 'fewer than');
    expectParseError(rawFile(good, f32Bytes(1, 2)).subarray(0, 30), F, 'header length', 'past the end');
    expectParseError(rawFile(good, f32Bytes(1, 2), 1n << 62n), F, 'header length');
    expectParseError(rawFile(good, f32Bytes(1, 2), 0xffffffffffffffffn), F, 'header length');
  });

  it('truncated data', () => {
    const file = serializeSafetensors([['first', fromFloat32(new Float32Array(4), [4])], ['last.weight', fromFloat32(new Float32Array(3), [3])]]);
    expectParseError(file.subarray(0, file.length - 1), F, '"last.weight"', 'past the end');
    expectParseError(file.subarray(0, file.length - 12), F, '"last.weight"');
  });

  it('header not JSON, not an object, not UTF-8', () => {
    expectParseError(rawFile('{"w":{"dtype":"F32",', f32Bytes(1, 2)), F, 'not valid JSON');
    expectParseError(rawFile('{"w":{"dtype":"F32"}}}', f32Bytes(1, 2)), F, 'not valid JSON');
    expectParseError(rawFile('[1, 2]', []), F, 'start');
    expectParseError(rawFile('{"w": 3}', []), F, '"w"', 'not an object');
    const bad = rawFile('{"\u00e9":{}}');
    bad[10] = 0xff;
    expectParseError(bad, F, 'UTF-8');
  });

  it('bad dtype, bad shape', () => {
    expectParseError(rawFile('{"w":{"dtype":"F99","shape":[2],"data_offsets":[0,8]}}', f32Bytes(1, 2)), F, '"w"', 'unknown dtype', 'F99');
    expectParseError(rawFile('{"w":{"dtype":"BOOL","shape":[8],"data_offsets":[0,8]}}', f32Bytes(1, 2)), F, '"w"', 'BOOL', 'not supported');
    expectParseError(rawFile('{"w":{"shape":[2],"data_offsets":[0,8]}}', f32Bytes(1, 2)), F, '"w"', 'dtype');
    expectParseError(rawFile('{"w":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}', f32Bytes(1, 2)), F, '"w"', 'shape');
    expectParseError(rawFile('{"w":{"dtype":"F32","shape":[1.5],"data_offsets":[0,8]}}', f32Bytes(1, 2)), F, '"w"', 'shape');
    expectParseError(rawFile('{"w":{"dtype":"F32","shape":"2","data_offsets":[0,8]}}', f32Bytes(1, 2)), F, '"w"', 'shape');
    expectParseError(rawFile('{"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}}', f32Bytes(1, 2)), F, '"w"');
  });

  it('bad data_offsets: missing, non-integer, reversed, past the end', () => {
    expectParseError(rawFile('{"w":{"dtype":"F32","shape":[2]}}', f32Bytes(1, 2)), F, '"w"', 'data_offsets');
    expectParseError(rawFile('{"w":{"dtype":"F32","shape":[2],"data_offsets":[0]}}', f32Bytes(1, 2)), F, '"w"', 'data_offsets');
    expectParseError(rawFile('{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,"8"]}}', f32Bytes(1, 2)), F, '"w"', 'data_offsets');
    expectParseError(rawFile('{"w":{"dtype":"F32","shape":[2],"data_offsets":[0.5,8]}}', f32Bytes(1, 2)), F, '"w"', 'data_offsets');
    expectParseError(rawFile('{"w":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}}', f32Bytes(1, 2)), F, '"w"', 'reversed');
    expectParseError(rawFile('{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,16]}}', f32Bytes(1, 2)), F, '"w"', 'past the end');
    expectParseError(rawFile('{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,1e300]}}', f32Bytes(1, 2)), F, '"w"', 'data_offsets');
  });

  it('byte length that disagrees with the shape', () => {
    expectParseError(rawFile('{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}', f32Bytes(1, 2)), F, '"w"', '8 bytes', 'needs 12');
    expectParseError(rawFile('{"w":{"dtype":"F16","shape":[2],"data_offsets":[0,8]}}', f32Bytes(1, 2)), F, '"w"', 'needs 4');
  });

  it('overlapping ranges, holes, uncovered trailing bytes', () => {
    const d = f32Bytes(1, 2, 3);
    expectParseError(rawFile('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}', d), F, '"b"', 'overlap', '"a"');
    expectParseError(rawFile('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}', f32Bytes(1, 2)), F, 'overlap');
    expectParseError(rawFile('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}', d), F, '"b"', 'hole');
    expectParseError(rawFile('{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', f32Bytes(1, 2)), F, '"a"', 'hole');
    expectParseError(rawFile('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}', d), F, 'trailing', '"a"');
  });

  it('metadata that is not string -> string', () => {
    expectParseError(rawFile('{"__metadata__":{"epoch":3}}'), F, '__metadata__', '"epoch"');
    expectParseError(rawFile('{"__metadata__":["x"]}'), F, '__metadata__');
    expectParseError(rawFile('{"__metadata__":"x"}'), F, '__metadata__');
  });

  it('random damage to a valid file: a parse or a one-line Error naming the file, never a crash', () => {
    const base = serializeSafetensors([
      ['a', fromFloat32(Float32Array.from({ length: 6 }, (_, i) => i), [2, 3])],
      ['b', fromFloat32(new Float32Array([1, 2, 3]), [3], 'F16')],
    ], { k: 'v' });
    const r = rng(7);
    for (let iter = 0; iter < 2000; iter++) {
      const f = base.slice(0, iter % 5 === 0 ? Math.floor(r() * base.length) : base.length);
      const flips = 1 + Math.floor(r() * 3);
      for (let k = 0; k < flips && f.length > 0; k++) f[Math.floor(r() * Math.min(f.length, 120))] = Math.floor(r() * 256);
      try {
        parseSafetensors(f, 'fuzz.st');
      } catch (e) {
        expect((e as Error).constructor).toBe(Error);
        expect((e as Error).message.startsWith('fuzz.st: ')).toBe(true);
        expect((e as Error).message).not.toMatch(/[\r\n]/);
      }
    }
  });
});

// -------------------------------------------------------------------------------------------------
// Half precision

/** Positive finite halves in increasing order (bits 0..0x7bff). */
const HALF_VALUES = Array.from({ length: 0x7c00 }, (_, h) => f16BitsToF32(h));

/** Independent reference: nearest half by search over all values, ties to the even bit pattern. */
function refF16(x: number): number {
  if (Number.isNaN(x)) return 0x7e00;
  const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
  const a = Math.abs(x);
  if (a >= 65520) return sign | 0x7c00; // 65504 + half an ulp (16): ties go to the "even" infinity
  let lo = 0, hi = 0x7bff;
  while (lo < hi) { // last h with value <= a
    const mid = (lo + hi + 1) >> 1;
    if (HALF_VALUES[mid] <= a) lo = mid; else hi = mid - 1;
  }
  if (lo === 0x7bff || HALF_VALUES[lo] === a) return sign | lo;
  const dLo = a - HALF_VALUES[lo], dHi = HALF_VALUES[lo + 1] - a;
  if (dLo < dHi) return sign | lo;
  if (dHi < dLo) return sign | (lo + 1);
  return sign | ((lo & 1) === 0 ? lo : lo + 1);
}

describe('header alone, checksum, atomic write', () => {
  const dir = mkdtempSync(join(tmpdir(), 'st-header-'));
  const tensors: Array<[string, StTensor]> = [
    ['a', fromFloat32(Float32Array.from([1, 2, 3, 4, 5, 6]), [2, 3])],
    ['b', fromFloat32(Float32Array.from([0.5, -0.25]), [2], 'F16')],
  ];

  it('the header alone gives every entry and the metadata, checked against the file size', async () => {
    const bytes = serializeSafetensors(tensors, { note: 'x' });
    const p = join(dir, 'h.safetensors');
    writeFileSync(p, bytes);
    const h = await readSafetensorsHeader(p);
    expect(h.metadata).toEqual({ note: 'x' });
    expect([...h.entries.keys()]).toEqual(['a', 'b']);
    expect(h.entries.get('b')).toEqual({ dtype: 'F16', shape: [2], begin: 24, end: 28 });
    expect(h.dataStart).toBe(bytes.length - 28);
    // only the header bytes are needed: a header promising more data than the file has is refused from it
    const head = bytes.subarray(0, h.dataStart);
    expect(parseSafetensorsHeader(head, bytes.length, p).entries.size).toBe(2);
    expect(() => parseSafetensorsHeader(head, bytes.length - 4, p)).toThrow(/run past the end of the data .*truncated file/);
    writeFileSync(join(dir, 'cut.safetensors'), bytes.subarray(0, bytes.length - 4));
    await expect(readSafetensorsHeader(join(dir, 'cut.safetensors'))).rejects.toThrow(/cut\.safetensors: tensor "b": data_offsets \[24, 28\] run past the end/);
    await expect(readSafetensorsHeader(join(dir, 'none'))).rejects.toThrow(/none: no such file$/);
    writeFileSync(join(dir, 'tiny'), 'abc');
    await expect(readSafetensorsHeader(join(dir, 'tiny'))).rejects.toThrow(/tiny: not a safetensors file: 3 bytes/);
  });

  it('a checksum of the data in the metadata is verified on reading; files without one still read', async () => {
    const p = join(dir, 'c.safetensors');
    writeFileSync(p, serializeChecked(tensors, { note: 'y' }));
    const r = await readSafetensors(p);
    expect(r.checked).toBe(true);
    expect(r.metadata[CHECKSUM_KEY]).toMatch(/^[0-9a-f]{64}$/);
    const bad = readFileSync(p);
    bad[bad.length - 1] ^= 0x01;
    writeFileSync(p, bad);
    await expect(readSafetensors(p)).rejects.toThrow(new RegExp(`^${p}: checksum mismatch`));
    writeFileSync(p, serializeSafetensors(tensors));
    expect((await readSafetensors(p)).checked).toBe(false);
  });

  it('writeAtomic replaces the file whole and leaves no temporary behind', async () => {
    const p = join(dir, 'atomic.bin');
    await writeAtomic(p, new Uint8Array([1, 2, 3]));
    await writeAtomic(p, new Uint8Array([4, 5]));
    expect([...readFileSync(p)]).toEqual([4, 5]);
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    await expect(writeAtomic(join(dir, 'no', 'such', 'dir'), new Uint8Array(1))).rejects.toThrow(/ENOENT/);
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('firstNonFinite finds NaN and infinities in any float dtype', () => {
    expect(firstNonFinite(tensors[0][1], 'a')).toBe(-1);
    expect(firstNonFinite(fromFloat32(Float32Array.from([0, 1, NaN]), [3]), 'n')).toBe(2);
    expect(firstNonFinite(fromFloat32(Float32Array.from([0, -Infinity]), [2], 'F16'), 'h')).toBe(1);
    expect(firstNonFinite(fromFloat32(Float32Array.from([1e5]), [1], 'F16'), 'h')).toBe(0); // overflows half: inf
    // read from the bits: the largest finite values, subnormals and -0 pass; BF16 and F64 too
    expect(firstNonFinite(fromFloat32(Float32Array.from([65504, -65504, 6e-8, -0]), [4], 'F16'), 'h')).toBe(-1);
    expect(firstNonFinite(fromFloat32(Float32Array.from([3.4e38, 1e-45, -0, Infinity]), [4]), 'f')).toBe(3);
    const bf = (bits: number[]) => ({ dtype: 'BF16' as const, shape: [bits.length], data: new Uint8Array(Uint16Array.from(bits).buffer) });
    expect(firstNonFinite(bf([0x3f80, 0x7f7f, 0xff80]), 'b')).toBe(2); // 1, the largest finite, -inf
    expect(firstNonFinite(bf([0x3f80, 0x7fc0]), 'b')).toBe(1); // NaN
    const f64 = (v: number[]) => ({ dtype: 'F64' as const, shape: [v.length], data: new Uint8Array(Float64Array.from(v).buffer) });
    expect(firstNonFinite(f64([1, 1e30, NaN]), 'd')).toBe(2);
    expect(firstNonFinite(f64([1, 1e300]), 'd')).toBe(1); // judged as the engine reads it: rounded to float32, infinite
    expect(() => firstNonFinite({ dtype: 'F16', shape: [3], data: new Uint8Array(4) }, 'short')).toThrow(/4 bytes do not match shape \[3\]/);
  });
});

describe('highestIndex (numbered children read off state-dict names)', () => {
  it('the highest N, not the count of matches; -1 for none; capped so that N + 1 stays a safe integer', () => {
    const names = ['body.0.weight', 'body.10.weight', 'body.2.bias', 'body.x.weight', 'tail.99.weight'];
    expect(highestIndex(names, /^body\.(\d+)\./)).toBe(10);
    expect(highestIndex(names, /^body\.(\d+)\.bias$/)).toBe(2);
    expect(highestIndex(names, /^head\.(\d+)\./)).toBe(-1);
    expect(highestIndex(['blocks.99999999999999999999.w'], /^blocks\.(\d+)\./) + 1).toBe(Number.MAX_SAFE_INTEGER);
  });
});

describe('float16', () => {
  it('known values', () => {
    const cases: Array<[number, number]> = [
      [1, 0x3c00], [-2, 0xc000], [0.5, 0x3800], [65504, 0x7bff], [2 ** -14, 0x0400], [6.1e-5, 0x03ff],
      [5.96e-8, 0x0001], [2 ** -24, 0x0001], [0, 0x0000], [-0, 0x8000], [Infinity, 0x7c00], [-Infinity, 0xfc00],
      [1 / 3, 0x3555], [1e-9, 0x0000], [-1e-9, 0x8000], [1e6, 0x7c00], [65519.99, 0x7bff], [65520, 0x7c00],
      // ties to even
      [1 + 2 ** -11, 0x3c00], [1 + 3 * 2 ** -11, 0x3c02], [2049, 0x6800], [2051, 0x6802],
      [2 ** -25, 0x0000], [3 * 2 ** -25, 0x0002], [5 * 2 ** -25, 0x0002], [2 ** -14 - 2 ** -25, 0x0400],
      // just off a tie
      [1 + 2 ** -11 + 2 ** -20, 0x3c01], [2 ** -25 + 2 ** -40, 0x0001],
    ];
    for (const [x, h] of cases) expect(f32ToF16Bits(x).toString(16), `f16(${x})`).toBe(h.toString(16));
    const nan = f32ToF16Bits(NaN);
    expect(nan & 0x7c00).toBe(0x7c00);
    expect(nan & 0x3ff).not.toBe(0);
    expect(Number.isNaN(f16BitsToF32(nan))).toBe(true);
    expect(f16BitsToF32(0x3c00)).toBe(1);
    expect(f16BitsToF32(0xc000)).toBe(-2);
    expect(f16BitsToF32(0x7bff)).toBe(65504);
    expect(f16BitsToF32(0x0001)).toBe(2 ** -24);
    expect(f16BitsToF32(0x03ff)).toBe(1023 * 2 ** -24);
    expect(f16BitsToF32(0x0400)).toBe(2 ** -14);
    expect(f16BitsToF32(0x7c00)).toBe(Infinity);
    expect(f16BitsToF32(0xfc00)).toBe(-Infinity);
    expect(Object.is(f16BitsToF32(0x8000), -0)).toBe(true);
    expect(Number.isNaN(f16BitsToF32(0x7c01))).toBe(true);
  });

  it('every half survives half -> float -> half', () => {
    for (let h = 0; h < 65536; h++) {
      const v = f16BitsToF32(h);
      if (Number.isNaN(v)) expect(Number.isNaN(f16BitsToF32(f32ToF16Bits(v)))).toBe(true);
      else if (f32ToF16Bits(v) !== h) throw new Error(`half ${h.toString(16)} -> ${v} -> ${f32ToF16Bits(v).toString(16)}`);
    }
  });

  it('matches a brute-force nearest-even reference on random floats and on midpoints', () => {
    const r = rng(3);
    const bits = new Uint32Array(1), f = new Float32Array(bits.buffer);
    const check = (x: number) => {
      const got = f32ToF16Bits(x), want = refF16(x);
      if (got !== want) throw new Error(`f16(${x}): got ${got.toString(16)}, want ${want.toString(16)}`);
    };
    for (let i = 0; i < 100_000; i++) {
      // exponents around the half range (subnormals, normals, overflow), random mantissa and sign
      const exp = 95 + Math.floor(r() * 55);
      bits[0] = ((r() < 0.5 ? 1 : 0) << 31) | (exp << 23) | Math.floor(r() * 0x800000);
      check(f[0]);
    }
    for (let h = 0; h < 0x7bff; h++) { // exact midpoints between neighbouring halves (all representable in f32)
      const mid = (HALF_VALUES[h] + HALF_VALUES[h + 1]) / 2;
      check(mid);
      check(-mid);
    }
    // bulk conversion agrees with the scalar one
    const data = Float32Array.from({ length: 1000 }, () => (r() - 0.5) * 2 ** (Math.floor(r() * 40) - 25));
    const t = fromFloat32(data, [10, 100], 'F16');
    const dv = new DataView(t.data.buffer);
    for (let i = 0; i < data.length; i++) expect(dv.getUint16(2 * i, true)).toBe(f32ToF16Bits(data[i]));
  });
});

// -------------------------------------------------------------------------------------------------
// Layouts

/** Element of a row-major array of the given shape. */
function at(a: Float32Array, shape: number[], idx: number[]): number {
  let off = 0;
  for (let i = 0; i < shape.length; i++) {
    if (idx[i] < 0 || idx[i] >= shape[i]) throw new Error('index out of range');
    off = off * shape[i] + idx[i];
  }
  return a[off];
}

describe('layout helpers', () => {
  it('hwioToOihw / oihwToHwio: out[co,ci,kh,kw] = in[kh,kw,ci,co]', () => {
    for (const [K, Cin, Cout] of [[3, 2, 5], [1, 4, 3], [5, 3, 1], [9, 3, 64]]) {
      const w = Float32Array.from({ length: K * K * Cin * Cout }, (_, i) => i + 0.25);
      const o = hwioToOihw(w, K, Cin, Cout);
      for (let co = 0; co < Cout; co++) for (let ci = 0; ci < Cin; ci++) for (let kh = 0; kh < K; kh++) for (let kw = 0; kw < K; kw++) {
        const want = at(w, [K, K, Cin, Cout], [kh, kw, ci, co]);
        if (at(o, [Cout, Cin, K, K], [co, ci, kh, kw]) !== want) throw new Error(`K=${K} Cin=${Cin} Cout=${Cout} [${co},${ci},${kh},${kw}]`);
      }
      expect(Array.from(oihwToHwio(o, K, Cin, Cout))).toEqual(Array.from(w));
    }
    // a tiny case spelled out: K=1, Cin=2, Cout=3 is a transpose of [2,3]
    expect(Array.from(hwioToOihw(new Float32Array([1, 2, 3, 4, 5, 6]), 1, 2, 3))).toEqual([1, 4, 2, 5, 3, 6]);
    expect(() => hwioToOihw(new Float32Array(5), 3, 1, 1)).toThrow(/expected 9/);
  });

  it('transpose2d: out[c,r] = in[r,c] and back', () => {
    const w = Float32Array.from({ length: 7 * 3 }, (_, i) => i * 1.5);
    const t = transpose2d(w, 7, 3);
    for (let r = 0; r < 7; r++) for (let c = 0; c < 3; c++) expect(at(t, [3, 7], [c, r])).toBe(at(w, [7, 3], [r, c]));
    expect(Array.from(transpose2d(t, 3, 7))).toEqual(Array.from(w));
    expect(Array.from(transpose2d(new Float32Array([1, 2, 3, 4, 5, 6]), 2, 3))).toEqual([1, 4, 2, 5, 3, 6]);
    expect(() => transpose2d(new Float32Array(5), 2, 3)).toThrow();
  });

  it("dense-chw (the discriminator's dense1): file[o, (c*H + h)*W + w] = engine[(h*W + w)*C + c, o], and back", () => {
    const [C, H, W, O] = [3, 2, 5, 4];
    const t = { shape: [H * W * C, O] } as unknown as Tensor; // only the shape is read
    const layout = { kind: 'dense-chw' as const, chw: [C, H, W] as [number, number, number] };
    const eng = Float32Array.from({ length: H * W * C * O }, (_, i) => i * 0.5 - 7);
    const file = toDisk(eng, t, layout);
    expect(diskShape(t, layout)).toEqual([O, C * H * W]);
    for (let o = 0; o < O; o++) for (let c = 0; c < C; c++) for (let h = 0; h < H; h++) for (let w = 0; w < W; w++) {
      expect(file[o * C * H * W + (c * H + h) * W + w]).toBe(eng[((h * W + w) * C + c) * O + o]);
    }
    expect(Array.from(fromDisk(file, t, layout))).toEqual(Array.from(eng));
  });
});
