// PyTorch .pth state_dicts read without Python, against the values PyTorch wrote them from
// (test/fixtures/make_pth.py made tensors.pth and tensors.json with python3-torch 1.13),
// and crafted files that must fail with a one-line error.
import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parsePth, isZip } from '../../src/nn/pth.js';
import { toFloat32 } from '../../src/nn/safetensors.js';
import { CRAFTED_PTH } from '../pth-builder.js';

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
    it('a well-formed record reads (the builder is right), and each crafted record or pickle is refused in one line, quickly', () => {
      for (const c of CRAFTED_PTH) {
        const re = c.error(c.name.replace('.', '\\.'));
        const t0 = performance.now();
        let msg = '';
        let t: ReturnType<typeof parsePth> | null = null;
        try { t = parsePth(c.bytes(), c.name); } catch (e) { msg = (e as Error).message; }
        if (!re) { expect(t!.get('w')!.shape, c.name).toEqual([2, 2]); continue; }
        expect(msg, c.name).toMatch(new RegExp(`^${re.source}`));
        expect(msg).not.toContain('\n');
        expect(performance.now() - t0, `${c.name}: refusal time`).toBeLessThan(2000);
      }
    });
  });
});
