// PyTorch .pth state_dicts read without Python, against the values PyTorch wrote them from
// (test/fixtures/make_pth.py made tensors.pth and tensors.json with python3-torch 1.13),
// and crafted files that must fail with a one-line error.
import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parsePth, isZip } from '../../src/nn/pth.js';
import { toFloat32 } from '../../src/nn/safetensors.js';

const dir = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures');
const bytes = new Uint8Array(readFileSync(join(dir, 'tensors.pth')));
const expected = JSON.parse(readFileSync(join(dir, 'tensors.json'), 'utf8')) as
  Record<string, { shape: number[]; dtype: string; values: number[] }>;

describe('parsePth', () => {
  it('reads every tensor of a torch.save state_dict: names in order, shapes, dtypes, values, strides', () => {
    expect(isZip(bytes)).toBe(true);
    const t = parsePth(bytes, 'tensors.pth');
    expect([...t.keys()]).toEqual(Object.keys(expected));
    for (const [name, e] of Object.entries(expected)) {
      const got = t.get(name)!;
      expect(got.shape, name).toEqual(e.shape);
      const dtype = { 'torch.float32': 'F32', 'torch.float16': 'F16', 'torch.int64': 'I64' }[e.dtype];
      expect(got.dtype, name).toBe(dtype);
      if (got.dtype === 'I64') {
        const v = new BigInt64Array(got.data.buffer, got.data.byteOffset, got.data.length / 8);
        expect(Array.from(v, Number), name).toEqual(e.values);
      } else {
        expect(Array.from(toFloat32(got, name)), name).toEqual(e.values); // k/64: exact in f16 and f32
      }
    }
    // the transposed view was gathered through its strides, not read as stored
    expect(t.get('extra.transposed')!.shape).toEqual([5, 3]);
  });

  it('refuses what is not a plain state_dict, in one line naming the file', () => {
    const oneLine = (f: () => unknown, re: RegExp) => {
      let msg = '';
      try { f(); } catch (e) { msg = (e as Error).message; }
      expect(msg).toMatch(re);
      expect(msg).not.toContain('\n');
    };
    oneLine(() => parsePth(new Uint8Array([1, 2, 3, 4, 5]), 'junk.pth'), /^junk\.pth: not a zip archive/);
    oneLine(() => parsePth(bytes.slice(0, bytes.length - 30), 'cut.pth'), /^cut\.pth: /);
    // a pickle that names another global (here os.system in place of collections.OrderedDict)
    const evil = bytes.slice();
    const at = Buffer.from(evil).indexOf('collections\nOrderedDict');
    expect(at).toBeGreaterThan(0);
    evil.set(new TextEncoder().encode('os         \nsystem     '), at);
    oneLine(() => parsePth(evil, 'evil.pth'), /^evil\.pth: not a plain state_dict: the pickle names os {9}\.system/);
  });

  describe('crafted tensor records and pickles (issue 29: nothing taken on faith)', () => {
    /** A stored (uncompressed) zip of the given entries, as torch.save lays them out. */
    const zip = (entries: Array<[string, Uint8Array]>): Uint8Array => {
      const parts: Buffer[] = [], central: Buffer[] = [];
      let off = 0;
      for (const [name, data] of entries) {
        const n = Buffer.from(name), h = Buffer.alloc(30);
        h.writeUInt32LE(0x04034b50, 0); h.writeUInt32LE(data.length, 18); h.writeUInt32LE(data.length, 22); h.writeUInt16LE(n.length, 26);
        const c = Buffer.alloc(46);
        c.writeUInt32LE(0x02014b50, 0); c.writeUInt32LE(data.length, 20); c.writeUInt32LE(data.length, 24); c.writeUInt16LE(n.length, 28); c.writeUInt32LE(off, 42);
        parts.push(h, n, Buffer.from(data)); central.push(c, n);
        off += 30 + n.length + data.length;
      }
      const cd = Buffer.concat(central), e = Buffer.alloc(22);
      e.writeUInt32LE(0x06054b50, 0); e.writeUInt16LE(entries.length, 8); e.writeUInt16LE(entries.length, 10); e.writeUInt32LE(cd.length, 12); e.writeUInt32LE(off, 16);
      return new Uint8Array(Buffer.concat([...parts, cd, e]));
    };
    // pickle opcodes
    const u = (s: string) => { const b = Buffer.from(s); const h = Buffer.alloc(5); h[0] = 0x58; h.writeUInt32LE(b.length, 1); return Buffer.concat([h, b]); };
    const int = (v: number) => { const b = Buffer.alloc(5); b[0] = 0x4a; b.writeInt32LE(v, 1); return b; };
    const float = (v: number) => { const b = Buffer.alloc(9); b[0] = 0x47; b.writeDoubleBE(v, 1); return b; };
    const op = (...codes: number[]) => Buffer.from(codes);
    const MARK = op(0x28), TUPLE = op(0x74), GLOBAL = (m: string, n: string) => Buffer.concat([op(0x63), Buffer.from(`${m}\n${n}\n`)]);
    const tuple = (...items: Buffer[]) => Buffer.concat([MARK, ...items, TUPLE]);
    /** A state_dict {'w': tensor} whose _rebuild_tensor_v2 arguments are given as pickled items. */
    const record = (offset: Buffer, shape: Buffer, stride: Buffer, key: Buffer = u('0')) => Buffer.concat([
      op(0x80, 2), op(0x7d), MARK, u('w'),
      GLOBAL('torch._utils', '_rebuild_tensor_v2'),
      MARK, tuple(u('storage'), GLOBAL('torch', 'FloatStorage'), key, u('cpu'), int(4)), op(0x51),
      offset, shape, stride, op(0x89), op(0x4e), TUPLE, op(0x52),
      op(0x75), op(0x2e),
    ]);
    const file = (pkl: Buffer, storageBytes = 16) => zip([['archive/data.pkl', new Uint8Array(pkl)], ['archive/data/0', new Uint8Array(storageBytes)]]);
    const refused = (bytes: Uint8Array, name: string, re: RegExp) => {
      const t0 = performance.now();
      let msg = '';
      try { parsePth(bytes, name); } catch (e) { msg = (e as Error).message; }
      expect(msg, name).toMatch(re);
      expect(msg).not.toContain('\n');
      expect(performance.now() - t0, `${name}: refusal time`).toBeLessThan(2000);
    };
    it('a well-formed record reads (the builder is right), and each crafted field is refused before it is used', () => {
      const ok = parsePth(file(record(int(0), tuple(int(2), int(2)), tuple(int(2), int(1)))), 'ok.pth');
      expect(ok.get('w')!.shape).toEqual([2, 2]);
      refused(file(record(int(-4), tuple(int(2), int(2)), tuple(int(2), int(1)))), 'neg.pth', /^neg\.pth: w: storage offset is not a whole number$/);
      refused(file(record(float(NaN), tuple(int(2), int(2)), tuple(int(2), int(1)))), 'nan.pth', /^nan\.pth: w: storage offset is not a whole number$/);
      refused(file(record(int(0), tuple(int(2), int(2)), tuple(int(2)))), 'stride.pth', /^stride\.pth: w: its strides are not one whole number per dimension$/);
      refused(file(record(int(0), tuple(int(16384), int(16384)), tuple(int(0), int(0)))), 'expand.pth', /^expand\.pth: w: shape \[16384,16384\] has 268435456 elements, more than its storage's 4$/);
      refused(file(record(int(9), tuple(int(1)), tuple(int(1)))), 'past.pth', /^past\.pth: w: storage offset 9 is past the end of its storage$/);
      refused(file(record(int(0), tuple(tuple(int(1)), int(2)), tuple(int(1), int(1)))), 'nested.pth', /^nested\.pth: w: its shape is not a tuple of up to 8 whole numbers$/);
    });
    it('pickles that would cost memory or time are refused quickly: a key made of a 40-level shared-list graph, 2 MB of empty dicts', () => {
      // list i holds list i-1 twice (memo references), 40 levels: printing it would walk 2^40 paths
      const graph: Buffer[] = [op(0x5d), op(0x71, 0)];
      for (let i = 1; i <= 40; i++) graph.push(op(0x5d), MARK, op(0x68, i - 1), op(0x68, i - 1), op(0x65), op(0x71, i));
      const key = Buffer.concat([...graph]);
      refused(file(record(int(0), tuple(int(2)), tuple(int(1)), key)), 'graph.pth', /^graph\.pth: data\.pkl: unknown persistent id$/);
      const dicts = Buffer.concat([op(0x80, 2), Buffer.alloc(2_000_000, 0x7d), op(0x2e)]);
      refused(file(dicts), 'dicts.pth', /^dicts\.pth: data\.pkl: more than 2000000 objects or 100000 stack entries: not a state_dict$/);
    });
  });
});
