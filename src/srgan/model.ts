// Loading a generator checkpoint written by train.js (generator.safetensors), a PyTorch state_dict
// with the same tensor names (safetensors, or torch.save's .pth zip), or the shipped default.
// Files are untrusted input: checked from the header before anything is allocated (a .pth has no
// header: its pickle is read with the restricted reader of src/nn/pth.ts, within a size cap).
// Platform-neutral: this file works on bytes; src/node/model.ts reads files (header first).
import { parseSafetensorsChecked } from '../nn/state.js';
import { firstNonFinite, parseSafetensorsHeader, toFloat32, type StTensor } from '../nn/safetensors.js';
import { parsePth, isZip } from '../nn/pth.js';
import { parseNcnnParam, readNcnnWeights, type NcnnLayer } from '../nn/ncnn.js';
import {
  ARCHS, NORMS, SKIPS, UPSAMPLINGS, alternatives, archOf, architectureOfTensors, configFromTensorShapes, generatorConfigError, generatorTensorShapes, normOf, normalGenerator, skipOf, tailOf, upsamplingOf,
  type Arch, type GeneratorConfig, type Norm, type Skip, type Upsampling,
} from './generator.js';
import { growthOf } from './rrdb.js';
import { FoldedGenerator } from './inference.js';

/** Sane bounds for a generator read from a file: checked before any shape table or model is built. */
export const GENERATOR_LIMITS = { channels: 1024, blocks: 256 };

/**
 * A generator configuration from untrusted JSON, checked and normalised to {channels, blocks, scale}
 * plus `upsample` where it is not 'shuffle', `norm: 'none'`, `skip: 'bilinear'` where it is that (absent means the
 * paper's pixel shuffle, BN and no skip, so files written before the options read, and compare, as they did).
 */
export function checkGeneratorConfig(cfg: unknown, file: string): GeneratorConfig {
  const o = (cfg && typeof cfg === 'object' && !Array.isArray(cfg) ? cfg : {}) as Record<string, unknown>;
  const { arch, channels, blocks, scale, upsample, norm, skip, growth } = o;
  if (arch !== undefined && !ARCHS.includes(arch as Arch)) throw new Error(`${file}: generator arch ${JSON.stringify(arch)} is not ${alternatives(ARCHS)}`);
  const int = (v: unknown, lo: number, hi: number) => typeof v === 'number' && Number.isInteger(v) && v >= lo && v <= hi;
  if (!int(channels, 1, GENERATOR_LIMITS.channels)) throw new Error(`${file}: generator channels ${JSON.stringify(channels)} is not an integer in 1..${GENERATOR_LIMITS.channels}`);
  if (!int(blocks, 0, GENERATOR_LIMITS.blocks)) throw new Error(`${file}: generator blocks ${JSON.stringify(blocks)} is not an integer in 0..${GENERATOR_LIMITS.blocks}`);
  if (scale !== 2 && scale !== 4) throw new Error(`${file}: generator scale ${JSON.stringify(scale)} is not 2 or 4`);
  if (growth !== undefined && !int(growth, 1, GENERATOR_LIMITS.channels)) throw new Error(`${file}: generator growth ${JSON.stringify(growth)} is not an integer in 1..${GENERATOR_LIMITS.channels}`);
  if (upsample !== undefined && !UPSAMPLINGS.includes(upsample as Upsampling)) throw new Error(`${file}: generator upsample ${JSON.stringify(upsample)} is not ${alternatives(UPSAMPLINGS)}`);
  if (norm !== undefined && !NORMS.includes(norm as Norm)) throw new Error(`${file}: generator norm ${JSON.stringify(norm)} is not ${alternatives(NORMS)}`);
  if (skip !== undefined && !SKIPS.includes(skip as Skip)) throw new Error(`${file}: generator skip ${JSON.stringify(skip)} is not ${alternatives(SKIPS)}`);
  const out = normalGenerator({ arch: arch as Arch | undefined, growth: growth as number | undefined, channels: channels as number, blocks: blocks as number, scale, upsample: upsample as Upsampling | undefined,
    norm: norm as Norm | undefined, skip: skip as Skip | undefined });
  const bad = generatorConfigError({ ...out, ...(archOf(out) !== 'srresnet' ? { upsample: upsample as Upsampling | undefined, norm: norm as Norm | undefined, skip: skip as Skip | undefined } : {}),
    ...(archOf(out) !== 'rrdb' && growth !== undefined ? { growth: growth as number } : {}) });
  if (bad) throw new Error(`${file}: ${bad}`);
  return out;
}

/** Whether two generator configurations describe the same network (an absent option is the paper's). */
export function sameGenerator(a: GeneratorConfig, b: GeneratorConfig): boolean {
  return archOf(a) === archOf(b) && (archOf(a) !== 'rrdb' || growthOf(a) === growthOf(b)) && a.channels === b.channels && a.blocks === b.blocks && a.scale === b.scale && upsamplingOf(a) === upsamplingOf(b)
    && normOf(a) === normOf(b) && skipOf(a) === skipOf(b);
}

/**
 * The tensors of generator file `file` (network `config`) that a run of network `want` starts from
 * (train.js --init-generator): all of them when the two are the same network. An SRResNet of another
 * tail (a pixel-shuffle SRResNet into a nearest-neighbour or an ESPCN run) has the same body, so the
 * run starts from the file's body, and from each layer of the tail that both have alike (an
 * upsampling step of the same kind, a conv_out of the same shape); `fresh` names the layers that
 * start random. Any other network is an error naming the file.
 */
export function initialGeneratorTensors(config: GeneratorConfig, tensors: Map<string, StTensor>, want: GeneratorConfig, file: string): { tensors: Map<string, StTensor>; fresh: string[] } {
  if (sameGenerator(config, want)) return { tensors, fresh: [] };
  if (archOf(config) !== 'srresnet' || !sameGenerator({ ...config, upsample: want.upsample }, want)) {
    throw new Error(`${file}: generator ${JSON.stringify(normalGenerator(config))} does not match this run's generator ${JSON.stringify(normalGenerator(want))}`);
  }
  const shapes = generatorTensorShapes(want);
  const layer = (n: string) => n.slice(0, n.lastIndexOf('.'));
  const sameStep = tailOf(config).step === tailOf(want).step;
  const alike = (n: string) => {
    const t = tensors.get(n), sh = shapes.get(n);
    return Boolean(t && sh && t.shape.join() === sh.join() && (sameStep || !n.startsWith('ups.')));
  };
  const fresh = new Set([...shapes.keys()].filter((n) => !alike(n)).map(layer));
  const kept = new Map([...tensors].filter(([n]) => shapes.has(n) && !fresh.has(layer(n))));
  return { tensors: kept, fresh: [...fresh] };
}

type Shaped = Pick<StTensor, 'dtype' | 'shape'>;

/**
 * The configuration of a file without project metadata (a PyTorch state_dict saved with these
 * tensor names), read off its shapes: channels from conv_in, blocks and scale from the indices.
 */
export function inferGeneratorConfig(entries: Map<string, Shaped>, file: string): GeneratorConfig {
  const arch = architectureOfTensors((n) => entries.has(n));
  if (!arch) {
    if (entries.has('generator.conv_in.weight')) throw new Error(`${file}: this is a full training checkpoint; pass the generator.safetensors beside it`);
    throw new Error(`${file}: not a generator: no 'generator' metadata and no tensor 'conv_in.weight' (expected SRResNet names conv_in.weight, blocks.0.conv1.weight, ..., conv_out.weight; or Real-ESRGAN's body.0.weight (compact) or conv_first.weight (RRDBNet))`);
  }
  return checkGeneratorConfig(configFromTensorShapes(arch, entries, file), file);
}

/** The largest ncnn model pair read whole (x4plus is 33 MB). */
export const MAX_NCNN_BYTES = 256 * 2 ** 20;

/**
 * The tensors of an ncnn model (.param text, .bin bytes) of a network this engine runs, under its
 * own names: Real-ESRGAN's compact generator (Input, Split, Convolution + PReLU pairs, the last
 * Convolution, PixelShuffle, a nearest Interp of the input, and their sum). The graph is checked
 * layer by layer; a layer that does not fit is one error naming it.
 */
export function parseNcnnGenerator(paramText: string, bin: Uint8Array, file: string): Map<string, StTensor> {
  const layers = parseNcnnParam(paramText, file);
  if (layers.some((l) => l.type === 'Concat')) return parseNcnnRrdb(layers, bin, file);
  const bad = (l: NcnnLayer, why: string): never => { throw new Error(`${file}: layer ${l.name} (${l.type}): ${why}; this reader knows Real-ESRGAN's compact generator (SRVGGNetCompact)`); };
  const input = layers.find((l) => l.type === 'Input') ?? (() => { throw new Error(`${file}: no Input layer`); })();
  // blob -> the blob it is a copy of (Split's outputs are its input)
  const alias = new Map<string, string>();
  const root = (b: string): string => { let r = b; for (let i = 0; i < 1000 && alias.has(r); i++) r = alias.get(r)!; return r; };
  const chain: NcnnLayer[] = [];
  let shuffle: NcnnLayer | null = null, interp: NcnnLayer | null = null, sum: NcnnLayer | null = null;
  for (const l of layers) {
    if (l.type === 'Input') continue;
    if (l.type === 'Split') { for (const o of l.outputs) alias.set(o, l.inputs[0]); continue; }
    if (l.inputs.length < 1 || l.outputs.length !== 1) bad(l, 'unexpected inputs or outputs');
    if (l.type === 'Convolution' || l.type === 'PReLU') {
      if (shuffle) bad(l, 'a conv after the pixel shuffle');
      const want = chain.length ? chain[chain.length - 1].outputs[0] : input.outputs[0];
      if (root(l.inputs[0]) !== want) bad(l, `its input ${l.inputs[0]} is not the previous layer's output`);
      const isConv = l.type === 'Convolution';
      if (isConv !== (chain.length % 2 === 0)) bad(l, isConv ? 'two convs in a row' : 'a PReLU where a conv belongs');
      if (isConv) {
        const p = (k: number, d: number) => (l.params.get(k) ?? d) as number;
        if (p(1, 1) !== 3 || p(11, p(1, 1)) !== 3 || p(2, 1) !== 1 || p(3, 1) !== 1 || p(4, 0) !== 1 || p(5, 0) !== 1 || p(9, 0) !== 0 || p(7, 1) !== 1) {
          bad(l, 'expected a 3x3 conv, stride 1, padding 1, with a bias and no fused activation or groups');
        }
      }
      chain.push(l);
    } else if (l.type === 'PixelShuffle') {
      if (shuffle || root(l.inputs[0]) !== chain[chain.length - 1]?.outputs[0]) bad(l, 'not the shuffle of the last conv');
      shuffle = l;
    } else if (l.type === 'Interp') {
      const s = l.params.get(1), t = l.params.get(2);
      if (l.params.get(0) !== 1 || s !== t || root(l.inputs[0]) !== input.outputs[0]) bad(l, 'expected a nearest-neighbour upsampling of the input');
      interp = l;
    } else if (l.type === 'BinaryOp') {
      if ((l.params.get(0) ?? 0) !== 0 || l.inputs.length !== 2) bad(l, 'expected the sum of the shuffle and the upsampled input');
      sum = l;
    } else bad(l, 'not a layer of that network');
  }
  if (!shuffle || !interp || !sum || chain.length < 3 || chain.length % 2 !== 1) throw new Error(`${file}: not a compact generator (SRVGGNetCompact): it needs convs with PReLUs, a pixel shuffle, a nearest upsampling of the input and their sum`);
  const ins = new Set(sum.inputs.map(root));
  if (!ins.has(shuffle.outputs[0]) || !ins.has(interp.outputs[0])) throw new Error(`${file}: layer ${sum.name}: does not add the shuffle and the upsampled input`);
  if (shuffle.params.get(0) !== interp.params.get(1)) throw new Error(`${file}: layer ${interp.name}: upsamples by ${interp.params.get(1)}, the shuffle by ${shuffle.params.get(0)}`);
  const weights = readNcnnWeights(layers, bin, file);
  const out = new Map<string, StTensor>();
  chain.forEach((l, i) => {
    const w = weights.get(l.name)!;
    out.set(`body.${i}.weight`, w.weight);
    if (w.bias) out.set(`body.${i}.bias`, w.bias);
  });
  return out;
}

/**
 * ESRGAN's RRDBNet as an ncnn model (Real-ESRGAN's x4plus): its convs in BasicSR's order, each
 * checked against the shape and fused LeakyReLU that position has, and the other layers counted
 * (4 concatenations per dense block, a weighted sum per dense block and RRDB, two nearest x2, one
 * add), so a file laid out otherwise is refused rather than misread.
 */
function parseNcnnRrdb(layers: NcnnLayer[], bin: Uint8Array, file: string): Map<string, StTensor> {
  const allowed = new Set(['Input', 'Split', 'Convolution', 'Concat', 'Eltwise', 'BinaryOp', 'Interp']);
  for (const l of layers) if (!allowed.has(l.type)) throw new Error(`${file}: layer ${l.name} (${l.type}): not a layer of ESRGAN's RRDBNet, the network this file's concatenations suggest`);
  const convs = layers.filter((l) => l.type === 'Convolution');
  const blocks = (convs.length - 6) / 15;
  if (!Number.isInteger(blocks) || blocks < 1) throw new Error(`${file}: ${convs.length} convs: an RRDBNet has 6 + 15 per block`);
  const int = (l: NcnnLayer, k: number, d: number) => (l.params.get(k) ?? d) as number;
  const cout = (l: NcnnLayer) => int(l, 0, 0), cin = (l: NcnnLayer) => int(l, 6, 0) / (cout(l) * 9);
  const c = cout(convs[0]), g = cout(convs[1]);
  const cfg: GeneratorConfig = { arch: 'rrdb', channels: c, blocks, growth: g, scale: 4 };
  const names = [...generatorTensorShapes(cfg).keys()].filter((k) => k.endsWith('.weight')).map((k) => k.slice(0, -'.weight'.length));
  const shapes = generatorTensorShapes(cfg);
  const count = (t: string) => layers.filter((l) => l.type === t).length;
  const want: Array<[string, number]> = [['Concat', 12 * blocks], ['Eltwise', 4 * blocks], ['Interp', 2], ['BinaryOp', 1]];
  for (const [t, n] of want) if (count(t) !== n) throw new Error(`${file}: ${count(t)} ${t} layers, an RRDBNet of ${blocks} blocks has ${n}`);
  for (const l of layers) {
    if (l.type === 'Eltwise') {
      const k = l.params.get(1);
      if (l.params.get(0) !== 1 || !Array.isArray(k) || k.length !== 2 || Math.abs(k[0] - 0.2) > 1e-6 || k[1] !== 1) throw new Error(`${file}: layer ${l.name} (Eltwise): expected 0.2 x the block's output + its input`);
    }
    if (l.type === 'Interp' && (l.params.get(0) !== 1 || l.params.get(1) !== 2 || l.params.get(2) !== 2)) throw new Error(`${file}: layer ${l.name} (Interp): expected a nearest x2 upsampling`);
  }
  const weights = readNcnnWeights(layers, bin, file);
  const out = new Map<string, StTensor>();
  convs.forEach((l, i) => {
    const name = names[i], [co, ci] = shapes.get(`${name}.weight`)!;
    const lrelu = /conv[1-4]$|conv_up[12]$|conv_hr$/.test(name);
    const act = int(l, 9, 0), slope = l.params.get(10);
    const p = (k: number, d: number) => int(l, k, d);
    if (cout(l) !== co || cin(l) !== ci || p(1, 1) !== 3 || p(11, p(1, 1)) !== 3 || p(2, 1) !== 1 || p(3, 1) !== 1 || p(4, 0) !== 1 || p(5, 0) !== 1 || p(7, 1) !== 1) {
      throw new Error(`${file}: layer ${l.name} (Convolution), RRDBNet's ${name}: expected a 3x3 conv ${ci} -> ${co} with stride 1, padding 1 and a bias, got ${cin(l)} -> ${cout(l)}`);
    }
    if (lrelu ? !(act === 2 && Array.isArray(slope) && Math.abs(slope[0] - 0.2) < 1e-6) : act !== 0) {
      throw new Error(`${file}: layer ${l.name} (Convolution), RRDBNet's ${name}: ${lrelu ? 'expected a fused LeakyReLU 0.2' : 'expected no fused activation'}`);
    }
    const w = weights.get(l.name)!;
    out.set(`${name}.weight`, w.weight);
    out.set(`${name}.bias`, w.bias!);
  });
  return out;
}

/** Checks tensor names, shapes and dtypes against the configuration (nothing missing, nothing extra). */
export function checkGeneratorShapes(config: GeneratorConfig, entries: Map<string, Shaped>, file: string): void {
  const want = generatorTensorShapes(config);
  for (const [key, shape] of want) {
    const st = entries.get(key);
    if (!st) throw new Error(`${file}: tensor '${key}' is missing (is this a checkpoint of the same model configuration?)`);
    if (st.shape.length !== shape.length || st.shape.some((d, i) => d !== shape[i])) {
      throw new Error(`${file}: tensor '${key}' has shape [${st.shape}], the model expects [${shape}]`);
    }
    if (st.dtype !== 'F32' && st.dtype !== 'F16' && st.dtype !== 'BF16') {
      throw new Error(`${file}: tensor '${key}' has dtype ${st.dtype}, expected F32 or F16`);
    }
  }
  const extra = [...entries.keys()].filter((k) => !want.has(k));
  if (extra.length) throw new Error(`${file}: unexpected tensor '${extra[0]}'${extra.length > 1 ? ` (and ${extra.length - 1} more)` : ''} not in the model`);
}

/** The generator of the paper is 6 MB; a .pth is read whole, so it is capped far above that. */
export const MAX_PTH_BYTES = 512 * 2 ** 20;

/**
 * The models shipped in the package, as models/<name>.safetensors, each with a card models/<name>.md.
 * `default` names DEFAULT_MODEL: `realworld`, since it met issue 26's bars on held-out photographs (its card).
 */
export const SHIPPED_MODELS: Record<string, string> = {
  realworld: 'for photographs as people have them (JPEG, web thumbnails, sensor noise, soft focus): trained on Real-ESRGAN\'s degradations, GAN and PSNR models blended; 32 channels, 6 blocks, no BN, bilinear skip, pixel-shuffle tail',
  srgan: 'SRGAN for clean, bicubic-downscaled images (perceptual: invents texture in grass, fur, foliage; grows texture out of JPEG blocks): 32 channels, 6 blocks, no BN, bilinear skip, nearest-neighbour upsampling',
  srresnet: 'SRResNet, phase 1 of SRGAN (PSNR-oriented: smooth, faithful, the faster one): 32 channels, 6 blocks, no BN, bilinear skip, no conv at the output\'s resolution',
};
export const DEFAULT_MODEL = 'realworld';

/**
 * The shipped model a source names ('default' is DEFAULT_MODEL), or null when it is a path or a URL:
 * a name has no slash, dot or colon (write ./srresnet for a file of that name).
 */
export function shippedName(src: string): string | null {
  if (!/^[\w-]+$/.test(src)) return null;
  return src === 'default' ? DEFAULT_MODEL : src;
}

/** PyTorch's BatchNorm counters: meaningless for inference, present in any saved state_dict. */
export const isBatchCounter = (k: string) => k.endsWith('.num_batches_tracked');

/** A .pth state_dict's tensors (its bytes), BatchNorm counters dropped. */
export function parsePthGenerator(bytes: Uint8Array, name: string): Map<string, StTensor> {
  if (bytes.length > MAX_PTH_BYTES) throw new Error(`${name}: a ${(bytes.length / 2 ** 20).toFixed(0)} MB .pth is too large for a generator (limit ${MAX_PTH_BYTES / 2 ** 20} MB)`);
  const tensors = parsePth(bytes, name);
  for (const k of [...tensors.keys()]) if (isBatchCounter(k)) tensors.delete(k);
  return tensors;
}

/**
 * The configuration named by a safetensors header, checked against its shapes: written by train.js
 * (the 'generator' metadata) or a plain PyTorch state_dict with the generator's tensor names.
 */
export function generatorConfigOf(metadata: Record<string, string>, all: Map<string, Shaped>, name: string): GeneratorConfig {
  const entries = new Map([...all].filter(([k]) => !isBatchCounter(k)));
  let config: GeneratorConfig;
  if (metadata.generator) {
    let parsed: unknown;
    try { parsed = JSON.parse(metadata.generator); } catch { throw new Error(`${name}: malformed 'generator' metadata`); }
    config = checkGeneratorConfig(parsed, name);
  } else if (metadata.format === 'srgan-webgpu-checkpoint' && metadata.config) {
    throw new Error(`${name}: this is a full training checkpoint; pass the generator.safetensors beside it`);
  } else {
    config = inferGeneratorConfig(entries, name);
  }
  checkGeneratorShapes(config, entries, name);
  return config;
}

/** Every weight finite: a NaN model would only produce garbage. */
export function checkFinite(tensors: Map<string, StTensor>, name: string): void {
  for (const [key, t] of tensors) {
    const i = firstNonFinite(t, key);
    if (i >= 0) throw new Error(`${name}: tensor '${key}' holds a non-finite value (${toFloat32(t, key)[i]} at element ${i}): the weights are broken (a diverged run?)`);
  }
}

/**
 * A generator file's configuration and tensors from its bytes (safetensors or a .pth zip): the
 * header checked before the tensors are built, the data checksum verified where the file has one,
 * every weight finite.
 */
export function parseGeneratorBytes(bytes: Uint8Array, name: string, sha256?: (data: Uint8Array) => string): {
  config: GeneratorConfig; tensors: Map<string, StTensor>; metadata: Record<string, string>;
} {
  if (isZip(bytes.subarray(0, 4))) {
    const tensors = parsePthGenerator(bytes, name);
    const config = inferGeneratorConfig(tensors, name);
    checkGeneratorShapes(config, tensors, name);
    checkFinite(tensors, name);
    return { config, tensors, metadata: {} };
  }
  const head = parseSafetensorsHeader(bytes, bytes.length, name);
  const config = generatorConfigOf(head.metadata, head.entries, name);
  const { tensors, metadata } = parseSafetensorsChecked(bytes, name, sha256);
  for (const k of [...tensors.keys()]) if (isBatchCounter(k)) tensors.delete(k);
  checkFinite(tensors, name);
  return { config, tensors, metadata };
}

/** The generator ready for inference from a file's bytes (BN folded on the CPU, weights uploaded once). */
export function foldedGeneratorFromBytes(bytes: Uint8Array, name: string): FoldedGenerator {
  const { config, tensors } = parseGeneratorBytes(bytes, name);
  return FoldedGenerator.fromTensors(config, checkGeneratorTensors(config, tensors, name));
}

/** An ncnn model's two files as bytes: its .param text and its .bin weights. */
export interface NcnnBytes { param: Uint8Array; bin: Uint8Array }

/** The generator ready for inference from an ncnn model (.param + .bin), checked as a file is. */
export function foldedGeneratorFromNcnn(m: NcnnBytes, name: string): FoldedGenerator {
  if (m.param.length + m.bin.length > MAX_NCNN_BYTES) throw new Error(`${name}: ${((m.param.length + m.bin.length) / 2 ** 20).toFixed(0)} MB of ncnn model is too large for a generator (limit ${MAX_NCNN_BYTES / 2 ** 20} MB)`);
  const tensors = parseNcnnGenerator(new TextDecoder().decode(m.param), m.bin, name);
  const config = inferGeneratorConfig(tensors, name);
  checkGeneratorShapes(config, tensors, name);
  checkFinite(tensors, name);
  return FoldedGenerator.fromTensors(config, checkGeneratorTensors(config, tensors, name));
}

/**
 * Checks a file's tensors against the configuration (names, shapes, dtypes, nothing extra), with
 * loadTensors' messages; returns a reader of each tensor as float32 in the file's layout.
 */
export function checkGeneratorTensors(config: GeneratorConfig, tensors: Map<string, StTensor>, file: string): (name: string) => Float32Array {
  checkGeneratorShapes(checkGeneratorConfig(config, file), tensors, file);
  return (name) => toFloat32(tensors.get(name)!, name);
}
