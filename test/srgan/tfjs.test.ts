// TensorFlow.js model loader: the shared VGG19 copies (uint8-quantised and partial float32) and a
// synthetic model for the error cases. CPU only.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { f32ToF16Bits } from '../../src/nn/safetensors.js';
import { loadTfjsModel, VGG19_KERAS_CONVS, type TfjsWeights } from '../../src/node/tfjs.js';

const WEIGHTS = fileURLToPath(new URL('../../../shared/weights/', import.meta.url));
const U8_DIR = join(WEIGHTS, 'vgg19_tfjs_uint8');
const FP32_DIR = join(WEIGHTS, 'vgg19_tfjs_fp32_partial');
// ../shared is part of every checkout's surroundings (CI included): its absence must fail, not skip.

const CONV_NAMES = VGG19_KERAS_CONVS.map(([n]) => n);
/** [name, cin, cout] for VGG19's 16 convs. */
const CONVS: Array<[string, number, number]> = VGG19_KERAS_CONVS.map(([n, c], i) => [n, i === 0 ? 3 : VGG19_KERAS_CONVS[i - 1][1], c]);

async function loadError(p: Promise<unknown>): Promise<string> {
  let err: unknown = null;
  try {
    await p;
  } catch (e) {
    err = e;
  }
  expect(err, 'should throw').toBeInstanceOf(Error);
  const msg = (err as Error).message;
  expect(msg).not.toMatch(/[\r\n]/);
  return msg;
}

interface ManifestEntry { name: string; shape: number[]; dtype: string; quantization?: { dtype: string; scale: number; min: number } }
function manifestOf(dir: string): Array<{ paths: string[]; weights: ManifestEntry[] }> {
  return JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')).weightsManifest;
}

describe('shared VGG19, uint8-quantised copy', () => {
  let u8: TfjsWeights;
  beforeAll(async () => {
    u8 = await loadTfjsModel(join(U8_DIR, 'model.json'), { only: CONV_NAMES });
  });

  it('has all 16 conv layers with the VGG19 shapes', () => {
    expect(u8.format).toBe('layers-model');
    expect(u8.layerNames).toEqual(CONV_NAMES);
    expect(u8.missing).toEqual([]);
    expect(u8.tensors.size).toBe(32);
    for (const [name, cin, cout] of CONVS) {
      const k = u8.tensors.get(`${name}/kernel`)!, b = u8.tensors.get(`${name}/bias`)!;
      expect(k.shape, name).toEqual([3, 3, cin, cout]);
      expect(k.data.length).toBe(9 * cin * cout);
      expect(b.shape, name).toEqual([cout]);
      expect(b.data.length).toBe(cout);
      expect(u8.quantization.get(`${name}/kernel`)!.dtype).toBe('uint8');
      let sum = 0, sq = 0;
      let finite = true;
      for (const v of k.data) { finite &&= Number.isFinite(v); sum += v; sq += v * v; }
      expect(finite, name).toBe(true);
      const std = Math.sqrt(sq / k.data.length - (sum / k.data.length) ** 2);
      expect(std, `${name} kernel std`).toBeGreaterThan(1e-3); // real weights, not zeros
      expect(std).toBeLessThan(1);
    }
  });

  it('dequantises as code * scale + min, checked against the raw shard bytes', () => {
    const group = manifestOf(U8_DIR)[0];
    const SHARD = 1 << 20; // this copy's shards are 1 MiB each
    let offset = 0;
    const checked: string[] = [];
    for (const spec of group.weights) {
      const count = spec.shape.reduce((a, b) => a * b, 1);
      const t = u8.tensors.get(spec.name);
      if (t) {
        const { scale, min } = spec.quantization!;
        expect(spec.quantization!.dtype).toBe('uint8');
        for (const i of [0, 1, Math.floor(count / 2), count - 1]) {
          const byte = offset + i; // one byte per element
          const shard = readFileSync(join(U8_DIR, group.paths[Math.floor(byte / SHARD)]));
          const code = shard[byte % SHARD];
          expect(t.data[i], `${spec.name}[${i}]`).toBe(Math.fround(code * scale + min));
        }
        checked.push(spec.name);
      }
      offset += count;
    }
    expect(checked.length).toBe(32);
    // block1_conv1/kernel starts the first shard
    const q = manifestOf(U8_DIR)[0].weights[0].quantization!;
    const raw = readFileSync(join(U8_DIR, 'group1-shard1of138.bin'));
    const k = u8.tensors.get('block1_conv1/kernel')!.data;
    for (let i = 0; i < 1728; i += 97) expect(k[i]).toBe(Math.fround(raw[i] * q.scale + q.min));
  });

  it('without `only`: loads the convs, lists the FC weights of the absent shards, and keeps what exists of fc1', async () => {
    const all = await loadTfjsModel(join(U8_DIR, 'model.json'));
    expect(all.layerNames).toEqual(CONV_NAMES);
    expect(all.missing).toEqual(['fc1/kernel', 'fc1/bias', 'fc2/kernel', 'fc2/bias', 'predictions/kernel', 'predictions/bias']);
    expect([...all.tensors.keys()]).toEqual([...u8.tensors.keys()]);
    const fc1 = all.partial.get('fc1/kernel')!;
    expect(fc1.shape).toEqual([25088, 4096]);
    expect(fc1.pieces.length).toBe(1);
    expect(fc1.pieces[0].start).toBe(0);
    expect(fc1.pieces[0].data.length).toBe(20 * (1 << 20) - 20_024_384); // the rest of shard 20
    expect(all.partial.has('fc2/kernel')).toBe(false);
  });

  it('strict: names the first weight that lies in an absent shard, and the shard', async () => {
    const msg = await loadError(loadTfjsModel(join(U8_DIR, 'model.json'), { strict: true }));
    expect(msg).toContain('model.json');
    expect(msg).toContain('"fc1/kernel"');
    expect(msg).toContain('group1-shard21of138.bin');
    const msg2 = await loadError(loadTfjsModel(join(U8_DIR, 'model.json'), { only: ['block5_conv4', 'fc2/bias'] }));
    expect(msg2).toContain('"fc2/bias"');
  });
});

describe('shared VGG19, partial float32 copy', () => {
  let fp: TfjsWeights;
  let u8: TfjsWeights;
  beforeAll(async () => {
    fp = await loadTfjsModel(join(FP32_DIR, 'model.json'));
    u8 = await loadTfjsModel(join(U8_DIR, 'model.json'), { only: CONV_NAMES });
  });

  it('has block1_conv1..block3_conv4 complete, block4/5 biases, and the block4/5 kernel tails', () => {
    expect(fp.format).toBe('layers-model'); // no "format" field: inferred from the Keras topology
    expect(fp.layerNames).toEqual(CONV_NAMES.slice(0, 8));
    for (const [name, cin, cout] of CONVS) {
      const b = fp.tensors.get(`${name}/bias`)!;
      expect(b.shape, name).toEqual([cout]);
      const k = fp.tensors.get(`${name}/kernel`);
      const full = 9 * cin * cout;
      if (name.startsWith('block4') || name.startsWith('block5')) {
        expect(k, name).toBeUndefined();
        expect(fp.missing).toContain(`${name}/kernel`);
        const p = fp.partial.get(`${name}/kernel`)!;
        expect(p.shape).toEqual([3, 3, cin, cout]);
        expect(p.pieces.length).toBe(1);
        const tail = name === 'block4_conv1' ? 131_072 : 262_144;
        expect(p.pieces[0].data.length).toBe(tail);
        expect(p.pieces[0].start).toBe(full - tail);
      } else {
        expect(k!.shape).toEqual([3, 3, cin, cout]);
        expect(k!.data.length).toBe(full);
      }
    }
    expect(fp.missing).toEqual([...CONV_NAMES.slice(8).map((n) => `${n}/kernel`), 'fc1/kernel', 'fc1/bias', 'fc2/kernel', 'fc2/bias', 'predictions/kernel', 'predictions/bias']);
    expect(fp.quantization.size).toBe(0);
  });

  it('float32 values are the raw shard bytes', () => {
    const raw = readFileSync(join(FP32_DIR, 'group1-shard1of1'));
    const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    const k = fp.tensors.get('block1_conv1/kernel')!.data, b = fp.tensors.get('block1_conv1/bias')!.data;
    for (let i = 0; i < 1728; i++) expect(k[i]).toBe(dv.getFloat32(4 * i, true));
    for (let i = 0; i < 64; i++) expect(b[i]).toBe(dv.getFloat32(4 * (1728 + i), true));
    // group 9: only the last shard; the bias is its last 2048 bytes
    const g9 = readFileSync(join(FP32_DIR, 'group9-shard2of2'));
    const dv9 = new DataView(g9.buffer, g9.byteOffset, g9.byteLength);
    const b41 = fp.tensors.get('block4_conv1/bias')!.data;
    for (let i = 0; i < 512; i += 37) expect(b41[i]).toBe(dv9.getFloat32(g9.length - 2048 + 4 * i, true));
    expect(fp.partial.get('block4_conv1/kernel')!.pieces[0].data[0]).toBe(dv9.getFloat32(0, true));
  });

  it('agrees with the uint8 copy to within half a quantisation step', () => {
    let checked = 0;
    const compare = (name: string, exact: Float32Array, start: number) => {
      const q = u8.quantization.get(name)!;
      const deq = u8.tensors.get(name)!.data;
      const tol = q.scale! / 2 + 1e-6 * q.scale! + 1e-7;
      let worst = 0;
      for (let i = 0; i < exact.length; i++) worst = Math.max(worst, Math.abs(exact[i] - deq[start + i]));
      expect(worst, name).toBeLessThanOrEqual(tol);
      checked++;
      return worst;
    };
    const w = compare('block1_conv1/kernel', fp.tensors.get('block1_conv1/kernel')!.data, 0);
    expect(w).toBeGreaterThan(0); // two different encodings of the same weights
    for (const name of CONV_NAMES) {
      compare(`${name}/bias`, fp.tensors.get(`${name}/bias`)!.data, 0);
      const k = fp.tensors.get(`${name}/kernel`);
      if (k) compare(`${name}/kernel`, k.data, 0);
      else for (const p of fp.partial.get(`${name}/kernel`)!.pieces) compare(`${name}/kernel`, p.data, p.start);
    }
    expect(checked).toBe(33);
  });

  it('strict or `only` on an incomplete layer: an error naming the weight and the absent shard', async () => {
    const msg = await loadError(loadTfjsModel(join(FP32_DIR, 'model.json'), { strict: true }));
    expect(msg).toContain('"block4_conv1/kernel"');
    expect(msg).toContain('group9-shard1of2');
    const ok = await loadTfjsModel(join(FP32_DIR, 'model.json'), { only: CONV_NAMES.slice(0, 8) });
    expect(ok.layerNames).toEqual(CONV_NAMES.slice(0, 8));
    expect(ok.tensors.size).toBe(16);
    const msg2 = await loadError(loadTfjsModel(join(FP32_DIR, 'model.json'), { only: ['block1_conv1', 'block5_conv4/kernel'] }));
    expect(msg2).toContain('"block5_conv4/kernel"');
    expect(msg2).toContain('group16-shard1of3');
    // bias alone is complete
    const b = await loadTfjsModel(join(FP32_DIR, 'model.json'), { only: ['block5_conv4/bias'] });
    expect([...b.tensors.keys()]).toEqual(['block5_conv4/bias']);
    expect(b.layerNames).toEqual([]);
  });
});

// -------------------------------------------------------------------------------------------------
// Synthetic model

describe('synthetic TensorFlow.js model', () => {
  let dir = '';
  let modelPath = '';
  const denseK = Float32Array.from({ length: 12 }, (_, i) => i * 0.5 - 2.25);
  const denseB = new Float32Array([0.1, -0.2, 1e-30, 3e38]);
  const qk = { scale: 0.01, min: -1.27, codes: [0, 1, 127, 128, 254, 255] };
  const halfBias = [1, -0.5, 65504];
  const qi = { scale: 0.5, min: -3, codes: [0, 65535] };

  function manifest(): Record<string, unknown> {
    return {
      format: 'layers-model',
      modelTopology: { class_name: 'Sequential' },
      weightsManifest: [
        {
          paths: ['g1-a.bin', 'sub/g1-b'], // shard boundary at byte 40: inside dense/kernel
          weights: [
            { name: 'dense/kernel', shape: [3, 4], dtype: 'float32' },
            { name: 'dense/bias', shape: [4], dtype: 'float32' },
          ],
        },
        {
          paths: ['g2.bin'],
          weights: [
            { name: 'q/kernel', shape: [1, 1, 2, 3], dtype: 'float32', quantization: { dtype: 'uint8', scale: qk.scale, min: qk.min } },
            { name: 'q/bias', shape: [3], dtype: 'float32', quantization: { dtype: 'float16' } },
            { name: 'steps', shape: [2], dtype: 'int32' },
            { name: 'flags', shape: [3], dtype: 'bool' },
            { name: 'qi', shape: [2], dtype: 'int32', quantization: { dtype: 'uint16', scale: qi.scale, min: qi.min } },
            { name: 'scalar', shape: [], dtype: 'float32' },
          ],
        },
      ],
    };
  }

  function writeModel(m: Record<string, unknown> = manifest()): void {
    rmSync(dir, { recursive: true, force: true });
    dir = mkdtempSync(join(tmpdir(), 'tfjs-test-'));
    modelPath = join(dir, 'model.json');
    writeFileSync(modelPath, JSON.stringify(m));
    const g1 = new Uint8Array(64);
    g1.set(new Uint8Array(denseK.buffer), 0);
    g1.set(new Uint8Array(denseB.buffer), 48);
    writeFileSync(join(dir, 'g1-a.bin'), g1.subarray(0, 40));
    mkdirSync(join(dir, 'sub'));
    writeFileSync(join(dir, 'sub', 'g1-b'), g1.subarray(40));
    const g2 = new Uint8Array(6 + 6 + 8 + 3 + 4 + 4);
    const dv = new DataView(g2.buffer);
    g2.set(qk.codes, 0);
    halfBias.forEach((v, i) => dv.setUint16(6 + 2 * i, f32ToF16Bits(v), true));
    dv.setInt32(12, -7, true);
    dv.setInt32(16, 2 ** 31 - 1, true);
    g2.set([0, 1, 2], 20);
    dv.setUint16(23, qi.codes[0], true); // unaligned on purpose
    dv.setUint16(25, qi.codes[1], true);
    dv.setFloat32(27, -42.5, true);
    writeFileSync(join(dir, 'g2.bin'), g2);
  }

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'tfjs-test-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('decodes float32 across a shard boundary, uint8/uint16/float16 quantisation, int32, bool, 0-d', async () => {
    writeModel();
    const m = await loadTfjsModel(modelPath);
    expect(m.format).toBe('layers-model');
    expect(m.missing).toEqual([]);
    expect([...m.tensors.keys()]).toEqual(['dense/kernel', 'dense/bias', 'q/kernel', 'q/bias', 'steps', 'flags', 'qi', 'scalar']);
    expect(m.layerNames).toEqual(['q']); // the only rank-4 kernel
    expect(m.tensors.get('dense/kernel')!.shape).toEqual([3, 4]);
    expect(Array.from(m.tensors.get('dense/kernel')!.data)).toEqual(Array.from(denseK));
    expect(Array.from(m.tensors.get('dense/bias')!.data)).toEqual(Array.from(denseB));
    expect(Array.from(m.tensors.get('q/kernel')!.data)).toEqual(qk.codes.map((c) => Math.fround(c * qk.scale + qk.min)));
    expect(Array.from(m.tensors.get('q/bias')!.data)).toEqual(halfBias);
    expect(Array.from(m.tensors.get('steps')!.data)).toEqual([-7, 2 ** 31]); // int32 as float32 (rounded)
    expect(Array.from(m.tensors.get('flags')!.data)).toEqual([0, 1, 1]);
    expect(Array.from(m.tensors.get('qi')!.data)).toEqual([-3, Math.round(65535 * 0.5 - 3)]);
    expect(m.tensors.get('scalar')!.shape).toEqual([]);
    expect(Array.from(m.tensors.get('scalar')!.data)).toEqual([-42.5]);
    expect(m.quantization.get('q/kernel')).toEqual({ dtype: 'uint8', scale: qk.scale, min: qk.min });
    // a URL works as well as a path
    const viaUrl = await loadTfjsModel(new URL(`file://${modelPath}`), { only: ['q'] });
    expect([...viaUrl.tensors.keys()]).toEqual(['q/kernel', 'q/bias']);
  });

  it('missing model.json, bad JSON, no weightsManifest', async () => {
    writeModel();
    const none = join(dir, 'nope', 'model.json');
    const m1 = await loadError(loadTfjsModel(none));
    expect(m1).toContain(none);
    expect(m1).toContain('no such file');
    writeFileSync(modelPath, '{"weightsManifest": [');
    const m2 = await loadError(loadTfjsModel(modelPath));
    expect(m2).toContain(modelPath);
    expect(m2).toContain('not valid JSON');
    writeFileSync(modelPath, JSON.stringify({ modelTopology: {} }));
    const m3 = await loadError(loadTfjsModel(modelPath));
    expect(m3).toContain(modelPath);
    expect(m3).toContain('weightsManifest');
    writeFileSync(modelPath, '[]');
    expect(await loadError(loadTfjsModel(modelPath))).toContain('not a JSON object');
  });

  it('a missing shard: an error naming the weight and the file (strict / only), else listed as missing', async () => {
    writeModel();
    unlinkSync(join(dir, 'sub', 'g1-b'));
    const msg = await loadError(loadTfjsModel(modelPath, { strict: true }));
    expect(msg).toContain(modelPath);
    expect(msg).toContain('"dense/kernel"'); // its last 8 bytes are in the absent shard
    expect(msg).toContain('sub/g1-b');
    const msg2 = await loadError(loadTfjsModel(modelPath, { only: ['dense/bias'] }));
    expect(msg2).toContain('"dense/bias"');
    // the other group does not need the absent shard
    const q = await loadTfjsModel(modelPath, { only: ['q', 'steps'] });
    expect(q.tensors.size).toBe(3);
    const lenient = await loadTfjsModel(modelPath);
    expect(lenient.missing).toEqual(['dense/kernel', 'dense/bias']);
    expect(lenient.tensors.has('q/kernel')).toBe(true);
    const p = lenient.partial.get('dense/kernel')!;
    expect(p.pieces.map((x) => [x.start, Array.from(x.data)])).toEqual([[0, Array.from(denseK.subarray(0, 10))]]);

    // first shard absent, second present: it is placed from the end of the group
    writeModel();
    unlinkSync(join(dir, 'g1-a.bin'));
    const tail = await loadTfjsModel(modelPath);
    expect(tail.missing).toEqual(['dense/kernel']);
    expect(Array.from(tail.tensors.get('dense/bias')!.data)).toEqual(Array.from(denseB));
    expect(tail.partial.get('dense/kernel')!.pieces.map((x) => [x.start, Array.from(x.data)])).toEqual([[10, Array.from(denseK.subarray(10))]]);
    const msg3 = await loadError(loadTfjsModel(modelPath, { only: ['dense'] }));
    expect(msg3).toContain('"dense/kernel"');
    expect(msg3).toContain('g1-a.bin');

    // nothing at all
    unlinkSync(join(dir, 'sub', 'g1-b'));
    unlinkSync(join(dir, 'g2.bin'));
    const msg4 = await loadError(loadTfjsModel(modelPath));
    expect(msg4).toContain('no weight could be loaded');
  });

  it('truncated or oversized shards, sizes that disagree with shapes', async () => {
    writeModel();
    const g2 = readFileSync(join(dir, 'g2.bin'));
    writeFileSync(join(dir, 'g2.bin'), g2.subarray(0, g2.length - 1));
    const m1 = await loadError(loadTfjsModel(modelPath));
    expect(m1).toContain(modelPath);
    expect(m1).toContain('"scalar"');
    expect(m1).toContain('truncated');
    // truncation is an error even when the cut weight is not requested
    expect(await loadError(loadTfjsModel(modelPath, { only: ['q/kernel'] }))).toContain('"scalar"');

    writeModel();
    const a = readFileSync(join(dir, 'g1-a.bin'));
    writeFileSync(join(dir, 'g1-a.bin'), a.subarray(0, 30)); // which shard is short cannot be told: the total is
    expect(await loadError(loadTfjsModel(modelPath))).toMatch(/"dense\/bias".*hold only 54.*truncated/);

    writeModel();
    writeFileSync(join(dir, 'g2.bin'), Buffer.concat([g2, Buffer.from([0])]));
    expect(await loadError(loadTfjsModel(modelPath))).toMatch(/disagrees/);

    const bad = manifest();
    (bad.weightsManifest as Array<{ weights: Array<{ shape: number[] }> }>)[0].weights[0].shape = [2, 4];
    writeModel(bad);
    expect(await loadError(loadTfjsModel(modelPath))).toMatch(/disagrees/);
    (bad.weightsManifest as Array<{ weights: Array<{ shape: number[] }> }>)[0].weights[0].shape = [4, 4];
    writeModel(bad);
    expect(await loadError(loadTfjsModel(modelPath))).toContain('"dense/bias"');
  });

  it('bad manifest entries and unknown names', async () => {
    const cases: Array<[(m: any) => void, string]> = [
      [(m) => { m.weightsManifest[0].weights[0].shape = [3, -4]; }, '"dense/kernel"'],
      [(m) => { m.weightsManifest[1].weights[0].quantization = { dtype: 'uint8', scale: 'x', min: 0 }; }, '"q/kernel"'],
      [(m) => { m.weightsManifest[1].weights[0].quantization = { dtype: 'int4' }; }, '"q/kernel"'],
      [(m) => { m.weightsManifest[1].weights[2].dtype = 'string'; }, '"steps"'],
      [(m) => { m.weightsManifest[1].weights[1].name = 'q/kernel'; }, 'twice'],
      [(m) => { m.weightsManifest[1].paths = 'g2.bin'; }, 'paths'],
    ];
    for (const [edit, want] of cases) {
      const m = manifest();
      edit(m);
      writeModel(m);
      const msg = await loadError(loadTfjsModel(modelPath));
      expect(msg).toContain(modelPath);
      expect(msg).toContain(want);
    }
    writeModel();
    expect(await loadError(loadTfjsModel(modelPath, { only: ['nothing'] }))).toContain('"nothing"');
  });
});
