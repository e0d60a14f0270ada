// ncnn models (.param text + .bin weights), as Upscayl and realesrgan-ncnn-vulkan ship Real-ESRGAN's
// generators, read without ncnn. The .param is a layer list: a magic line 7767517, "layers blobs",
// then per layer: type, name, input and output counts, input and output blob names, and k=v
// parameters (an array value is -23300-k=n,v1,...,vn). The .bin holds each weighted layer's data in
// layer order: a Convolution's weights (a 4-byte tag: 0x01306B47 float16, 0 float32), OIHW, padded to
// 4 bytes, then its bias as raw float32 when it has one; a PReLU's slopes as raw float32.
// Files are untrusted: sizes are checked against the file before anything is read, and a layer or
// storage this reader does not know is one error naming the file and the layer.
import type { StTensor } from './safetensors.js';

export interface NcnnLayer {
  type: string; name: string;
  inputs: string[]; outputs: string[];
  /** k=v parameters: numbers, or arrays for -23300-k keys (stored under k). */
  params: Map<number, number | number[]>;
}

const MAGIC = '7767517';
/** Bounds that keep a crafted file from asking for absurd allocations before the .bin is checked. */
const MAX_LAYERS = 100_000;

const fail = (file: string, msg: string): never => { throw new Error(`${file}: ${msg}`); };

/** Parses a .param text (the ncnn layer list). */
export function parseNcnnParam(text: string, file: string): NcnnLayer[] {
  const lines = text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l.length > 0);
  if (lines[0] !== MAGIC) fail(file, `not an ncnn .param file (the first line is ${JSON.stringify(lines[0]?.slice(0, 20) ?? '')}, expected ${MAGIC})`);
  const head = (lines[1] ?? '').split(/\s+/).map(Number);
  if (head.length !== 2 || !head.every((n) => Number.isInteger(n) && n > 0 && n <= MAX_LAYERS)) fail(file, `line 2: expected "layer_count blob_count", got ${JSON.stringify(lines[1] ?? '')}`);
  const [count] = head;
  if (lines.length - 2 !== count) fail(file, `declares ${count} layers but holds ${lines.length - 2}`);
  const layers: NcnnLayer[] = [];
  for (let i = 2; i < lines.length; i++) {
    const t = lines[i].split(/\s+/);
    const [type, name] = t;
    const nin = Number(t[2]), nout = Number(t[3]);
    if (!type || !name || !Number.isInteger(nin) || !Number.isInteger(nout) || nin < 0 || nout < 0 || 4 + nin + nout > t.length) {
      fail(file, `line ${i + 1}: not a layer line (type name inputs outputs blobs... params)`);
    }
    const params = new Map<number, number | number[]>();
    for (const kv of t.slice(4 + nin + nout)) {
      const m = /^(-?\d+)=(.*)$/.exec(kv);
      if (!m) fail(file, `layer ${name}: parameter ${JSON.stringify(kv)} is not k=v`);
      const k = Number(m![1]);
      if (k <= -23300) {
        const vals = m![2].split(',').map(Number);
        if (vals.length < 1 || vals[0] !== vals.length - 1 || vals.some((v) => !Number.isFinite(v))) fail(file, `layer ${name}: array parameter ${k} is malformed`);
        params.set(-23300 - k, vals.slice(1));
      } else {
        const v = Number(m![2]);
        if (!Number.isFinite(v)) fail(file, `layer ${name}: parameter ${k}=${m![2]} is not a number`);
        params.set(k, v);
      }
    }
    layers.push({ type, name, inputs: t.slice(4, 4 + nin), outputs: t.slice(4 + nin, 4 + nin + nout), params });
  }
  return layers;
}

const F16_TAG = 0x01306b47;

/**
 * Reads the weights of the weighted layers (Convolution, PReLU) from the .bin in layer order:
 * name -> { weight, bias? } as float32 tensors in ncnn's (PyTorch's) layouts. Every size is checked
 * against the .bin's length, and the .bin must end where the last layer's data does.
 */
export function readNcnnWeights(layers: NcnnLayer[], bin: Uint8Array, file: string): Map<string, { weight: StTensor; bias?: StTensor }> {
  const dv = new DataView(bin.buffer, bin.byteOffset, bin.byteLength);
  let at = 0;
  const need = (n: number, layer: string) => { if (at + n > bin.length) fail(file, `layer ${layer}: its weights run past the end of the .bin (${bin.length} bytes)`); };
  const f32 = (n: number, layer: string): Float32Array => {
    need(4 * n, layer);
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = dv.getFloat32(at + 4 * i, true);
    at += 4 * n;
    return out;
  };
  const out = new Map<string, { weight: StTensor; bias?: StTensor }>();
  const tensor = (v: Float32Array, shape: number[]): StTensor => ({ dtype: 'F32', shape, data: new Uint8Array(v.buffer) });
  for (const l of layers) {
    if (l.type === 'Convolution') {
      const cout = num(l, 0, file), k = num(l, 1, file), size = num(l, 6, file), bias = (l.params.get(5) ?? 0) === 1;
      if (size % (cout * k * k) !== 0) fail(file, `layer ${l.name}: weight_data_size ${size} is not a multiple of ${cout} outputs x ${k}x${k}`);
      const cin = size / (cout * k * k);
      need(4, l.name);
      const tag = dv.getUint32(at, true);
      at += 4;
      let w: StTensor;
      if (tag === F16_TAG) {
        // kept as float16 (a view of the .bin): decoded once, where the network is built (toFloat32)
        need(2 * size, l.name);
        w = { dtype: 'F16', shape: [cout, cin, k, k], data: bin.subarray(at, at + 2 * size) };
        at += (2 * size + 3) & ~3; // padded to 4 bytes
      } else if (tag === 0) {
        w = tensor(f32(size, l.name), [cout, cin, k, k]);
      } else {
        fail(file, `layer ${l.name}: weight storage tag 0x${tag.toString(16)} is not float16 (0x01306b47) or float32 (0); quantised ncnn models are not supported`);
      }
      out.set(l.name, { weight: w!, ...(bias ? { bias: tensor(f32(cout, l.name), [cout]) } : {}) });
    } else if (l.type === 'PReLU') {
      const n = num(l, 0, file);
      out.set(l.name, { weight: tensor(f32(n, l.name), [n]) });
    }
  }
  if (at !== bin.length) fail(file, `the .bin holds ${bin.length} bytes, the layers use ${at}: it does not belong to this .param`);
  return out;
}

function num(l: NcnnLayer, k: number, file: string): number {
  const v = l.params.get(k);
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 2 ** 28) fail(file, `layer ${l.name}: parameter ${k} is ${JSON.stringify(v) ?? 'missing'}, expected a positive integer`);
  return v as number;
}
