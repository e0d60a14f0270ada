// A builder of torch.save-like .pth files with a hand-written pickle, for the tests that feed the
// reader crafted tensor records and pickles (test/nn/pth.test.ts, test/hostile-corpus.test.ts).
/** A stored (uncompressed) zip of the given entries, as torch.save lays them out. */
export const zip = (entries: Array<[string, Uint8Array]>): Uint8Array => {
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
/** A .pth holding the pickle and one 16-byte float storage '0'. */
export const craftedPth = (pkl: Buffer, storageBytes = 16) => zip([['archive/data.pkl', new Uint8Array(pkl)], ['archive/data/0', new Uint8Array(storageBytes)]]);

/** The pickle writer's pieces, for cases of one's own. */
export const pkl = { u, int, float, op, MARK, TUPLE, GLOBAL, tuple, record };

/** list i holds list i-1 twice (memo references), 40 levels: printing it would walk 2^40 paths. */
function sharedListGraph(): Buffer {
  const graph: Buffer[] = [op(0x5d), op(0x71, 0)];
  for (let i = 1; i <= 40; i++) graph.push(op(0x5d), MARK, op(0x68, i - 1), op(0x68, i - 1), op(0x65), op(0x71, i));
  return Buffer.concat(graph);
}

/**
 * Crafted .pth files (issue 29, classes 1 and 2), each with the error its refusal must give
 * (`NAME` stands for the file's name): a tensor record that lies, or a pickle built to cost memory
 * or time. A well-formed record comes first (the builder itself is right).
 */
export const CRAFTED_PTH: Array<{ name: string; bytes: () => Uint8Array; error: (name: string) => RegExp | null }> = [
  { name: 'ok.pth', bytes: () => craftedPth(record(int(0), tuple(int(2), int(2)), tuple(int(2), int(1)))), error: () => null },
  { name: 'neg.pth', bytes: () => craftedPth(record(int(-4), tuple(int(2), int(2)), tuple(int(2), int(1)))), error: (n) => new RegExp(`${n}: w: storage offset is not a whole number$`) },
  { name: 'nan.pth', bytes: () => craftedPth(record(float(NaN), tuple(int(2), int(2)), tuple(int(2), int(1)))), error: (n) => new RegExp(`${n}: w: storage offset is not a whole number$`) },
  { name: 'stride.pth', bytes: () => craftedPth(record(int(0), tuple(int(2), int(2)), tuple(int(2)))), error: (n) => new RegExp(`${n}: w: its strides are not one whole number per dimension$`) },
  { name: 'expand.pth', bytes: () => craftedPth(record(int(0), tuple(int(16384), int(16384)), tuple(int(0), int(0)))), error: (n) => new RegExp(`${n}: w: shape \\[16384,16384\\] has 268435456 elements, more than its storage's 4$`) },
  { name: 'past.pth', bytes: () => craftedPth(record(int(9), tuple(int(1)), tuple(int(1)))), error: (n) => new RegExp(`${n}: w: storage offset 9 is past the end of its storage$`) },
  { name: 'nested.pth', bytes: () => craftedPth(record(int(0), tuple(tuple(int(1)), int(2)), tuple(int(1), int(1)))), error: (n) => new RegExp(`${n}: w: its shape is not a tuple of up to 8 whole numbers$`) },
  { name: 'graph.pth', bytes: () => craftedPth(record(int(0), tuple(int(2)), tuple(int(1)), sharedListGraph())), error: (n) => new RegExp(`${n}: data\\.pkl: unknown persistent id$`) },
  { name: 'dicts.pth', bytes: () => craftedPth(Buffer.concat([op(0x80, 2), Buffer.alloc(2_000_000, 0x7d), op(0x2e)])), error: (n) => new RegExp(`${n}: data\\.pkl: more than 2000000 objects or 100000 stack entries: not a state_dict$`) },
];
