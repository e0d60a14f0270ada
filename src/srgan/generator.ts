// SRResNet generator (Ledig et al. 2017), with PyTorch-style checkpoint names:
// conv_in, act_in, blocks.{i}.{conv1,bn1,act,conv2,bn2}, conv_mid, bn_mid, ups.{i}.{conv,act}, conv_out.
// Each upsampling step is the paper's sub-pixel conv (3x3 conv to 4C channels, pixel shuffle, PReLU)
// or, with `upsample: 'nearest'`, ESRGAN's (nearest-neighbour x2, 3x3 conv C -> C, PReLU): the same
// multiply-adds, and no fixed per-sub-pixel pattern for an adversarial loss to grow into a dot grid.
// Two further options, from EDSR and BasicSR's MSRResNet (both train faster to a higher PSNR at
// equal size): `norm: 'none'` drops every BN (each conv then carries a bias; no statistics that
// differ between training and inference), and `skip: 'bilinear'` adds the bilinear upsampling of
// the input to conv_out's output, which then has no tanh: the network learns only what bilinear
// misses, and starts at bilinear's picture instead of grey.
import { Module } from '../nn/module.js';
import { BatchNorm2d, Conv2d, PReLU } from '../nn/layers.js';
import * as ops from '../nn/ops.js';
import { isGradEnabled, type Tensor } from '../nn/tensor.js';
import { oihwToHwio } from '../nn/safetensors.js';
import { highestIndex } from '../nn/state.js';
import { czOf, split9Fits } from '../kernels/split9.js';
import { CompactGenerator, compactConfigFromShapes, compactMacsPerLrPixel, compactTensorShapes } from './compact.js';
import { RRDBGenerator, growthOf, rrdbConfigFromShapes, rrdbMacsPerLrPixel, rrdbTensorShapes } from './rrdb.js';

export interface GeneratorConfig {
  /**
   * 'srresnet' (the paper's generator and its variants below; the default when absent) or 'compact'
   * (Real-ESRGAN's SRVGGNetCompact, src/srgan/compact.ts: `blocks` plain 3x3 convs + PReLU at LR, a
   * pixel-shuffle output and a nearest-neighbour skip; upsample, norm and skip do not apply).
   */
  arch?: Arch;
  /** 'rrdb' only: the channels each dense conv adds (32 in ESRGAN; the default when absent). */
  growth?: number;
  channels: number; // 64 in the paper
  blocks: number;   // 16 in the paper (the compact net: its middle convs, 32 in realesr-general-x4v3)
  scale: 2 | 4;     // 4 in the paper
  /**
   * 'shuffle' (the paper's sub-pixel conv; the default when absent), 'nearest' (ESRGAN's),
   * 'espcn': no upsampling steps and conv_out a 3x3 conv to 3 * scale^2 channels followed by one
   * pixel shuffle by the scale (ESPCN's tail, Shi et al. 2016, as the efficient-SR networks IMDN
   * and RFDN use it): every conv runs at the input's resolution; or 'shuffle-espcn' (scale 4): the
   * paper's first x2 step, then conv_out a 3x3 conv to 12 channels at 2x and a pixel shuffle by 2
   * (nothing runs at the output's resolution).
   */
  upsample?: Upsampling;
  /** 'batch' (the paper's BN after each body conv; the default when absent) or 'none' (EDSR's). */
  norm?: Norm;
  /** 'none' (the paper's; the default when absent) or 'bilinear': a global skip, bilinear(x) added to the output. */
  skip?: Skip;
}

export type Arch = 'srresnet' | 'compact' | 'rrdb';
export const ARCHS: readonly Arch[] = ['srresnet', 'compact', 'rrdb'];
/** The architectures train.js trains. */
export const TRAINABLE_ARCHS: readonly Arch[] = ARCHS;
export const archOf = (cfg: GeneratorConfig): Arch => cfg.arch ?? 'srresnet';
export type Upsampling = 'shuffle' | 'nearest' | 'espcn' | 'shuffle-espcn';
export const UPSAMPLINGS: readonly Upsampling[] = ['shuffle', 'nearest', 'espcn', 'shuffle-espcn'];
export const upsamplingOf = (cfg: GeneratorConfig): Upsampling => cfg.upsample ?? 'shuffle';
/** One x2 upsampling module (ups.N): a conv then a pixel shuffle, or a nearest-neighbour step then a conv. */
export type UpStep = 'shuffle' | 'nearest';
/**
 * The tail of a configuration: its x2 upsampling modules (ups.0, ...), each of kind `step`, and
 * the pixel shuffle conv_out ends with (`outShuffle`, 1 for none: the paper's 9x9 conv_out at the
 * output's resolution; else a 3x3 conv_out to 3 * outShuffle^2 channels, outShuffle times smaller).
 */
export function tailOf(cfg: GeneratorConfig): { steps: number; step: UpStep; outShuffle: number } {
  const up = upsamplingOf(cfg), n = Math.log2(cfg.scale);
  if (up === 'espcn') return { steps: 0, step: 'shuffle', outShuffle: cfg.scale };
  if (up === 'shuffle-espcn') return { steps: n - 1, step: 'shuffle', outShuffle: 2 };
  return { steps: n, step: up, outShuffle: 1 };
}
/** The configuration's error, if any, that its options' types do not catch (one line, no file name). */
export function generatorConfigError(cfg: GeneratorConfig): string | undefined {
  // (the run configuration's defaults, the paper's shuffle, BN and no skip, stand for 'not set')
  if (archOf(cfg) !== 'srresnet' && (upsamplingOf(cfg) !== 'shuffle' || normOf(cfg) !== 'batch' || skipOf(cfg) !== 'none')) {
    return `generator arch '${archOf(cfg)}' has its own tail and no BN: upsample, norm and skip do not apply`;
  }
  // (32, the run configuration's default, stands for 'not set')
  if (archOf(cfg) !== 'rrdb' && cfg.growth !== undefined && cfg.growth !== 32) return `generator growth is RRDBNet's (arch 'rrdb') alone`;
  if (upsamplingOf(cfg) === 'shuffle-espcn' && cfg.scale !== 4) return `generator upsample 'shuffle-espcn' needs scale 4 (at scale ${cfg.scale} it is 'espcn')`;
  return undefined;
}
export type Norm = 'batch' | 'none';
export const NORMS: readonly Norm[] = ['batch', 'none'];
export const normOf = (cfg: GeneratorConfig): Norm => cfg.norm ?? 'batch';
export type Skip = 'none' | 'bilinear';
export const SKIPS: readonly Skip[] = ['none', 'bilinear'];
export const skipOf = (cfg: GeneratorConfig): Skip => cfg.skip ?? 'none';
/** A list of allowed values as messages name them: 'a' or 'b'. */
export const alternatives = (values: readonly string[]): string => values.map((v) => `'${v}'`).join(' or ');
/** The canonical form (files' metadata, messages): each option only where it is not the paper's. */
export function normalGenerator(cfg: GeneratorConfig): GeneratorConfig {
  if (archOf(cfg) === 'compact') return { arch: 'compact', channels: cfg.channels, blocks: cfg.blocks, scale: cfg.scale };
  if (archOf(cfg) === 'rrdb') return { arch: 'rrdb', channels: cfg.channels, blocks: cfg.blocks, growth: growthOf(cfg), scale: cfg.scale };
  const out: GeneratorConfig = { channels: cfg.channels, blocks: cfg.blocks, scale: cfg.scale };
  if (upsamplingOf(cfg) !== 'shuffle') out.upsample = upsamplingOf(cfg);
  if (normOf(cfg) !== 'batch') out.norm = normOf(cfg);
  if (skipOf(cfg) !== 'none') out.skip = skipOf(cfg);
  return out;
}

export const PAPER_GENERATOR: GeneratorConfig = { channels: 64, blocks: 16, scale: 4 };

/**
 * A generator file's tensors by name, PyTorch layout (conv weights OIHW), as float32: building a
 * Generator from them gives the inference graph, each BN folded into the conv before it on the CPU.
 */
export type GeneratorTensors = (name: string) => Float32Array;

/**
 * What the tiler (src/srgan/inference.ts) needs to know of a network's layers, from the network
 * itself: the body runs in tiles, the tail (the part above LR) in strips of LR rows.
 */
export interface NetTiling {
  /**
   * LR pixels per body pixel, per side: 1, or 2 where the body starts with a pixel unshuffle (the x2
   * RRDBNet); tiles and tail strips then lie on that grid.
   */
  stride: number;
  /** Body pixels of context a tile's body needs on each side (its convs' radii, summed). */
  bodyRadius: number;
  /** Bytes per LR pixel of the body's largest activation (the RGB input is padded to 4 channels). */
  bodyBytesPerLrPixel: number;
  /** The output cone of body pixel 0 through the tail, in body pixels [lo, hi]. */
  tailCone: [number, number];
  /** Bytes per body pixel of the tail's largest tensor. */
  tailBytesPerBodyPixel: number;
  /** HR pixels a tail conv binds its input padded by on every side (the 9x9 conv_out's split path). */
  padHr: number;
}

/** BatchNorm2d's default eps: generator files do not store it. */
const BN_EPS = 1e-5;

/** w' = w * gamma/sqrt(var+eps) per output channel; b' = (b - mean) * gamma/sqrt(var+eps) + beta. */
export function foldBatchNorm(w: Float32Array, b: Float32Array | null, cout: number,
  gamma: Float32Array, beta: Float32Array, mean: Float32Array, variance: Float32Array, eps: number): { w: Float32Array; b: Float32Array } {
  const s = new Float64Array(cout);
  for (let c = 0; c < cout; c++) s[c] = gamma[c] / Math.sqrt(variance[c] + eps);
  const w2 = new Float32Array(w.length);
  for (let i = 0; i < w.length; i++) w2[i] = w[i] * s[i % cout]; // HWIO: Cout innermost
  const b2 = new Float32Array(cout);
  for (let c = 0; c < cout; c++) b2[c] = ((b ? b[c] : 0) - mean[c]) * s[c] + beta[c];
  return { w: w2, b: b2 };
}

/**
 * conv -> [BN] -> [activation] -> [+ residual]. Without BN (a folded generator) that is one conv
 * with a fused epilogue when no gradient is needed; with BN, the training graph's separate ops.
 */
function unit(x: Tensor, conv: Conv2d, bn: BatchNorm2d | null, act: PReLU | 'tanh' | null, residual?: Tensor): Tensor {
  if (!bn) {
    return conv.forward(x, act === 'tanh' ? { act: 'tanh', residual } : act ? { act: 'prelu', slope: act.weight, residual } : { residual });
  }
  let y = bn.forward(conv.forward(x));
  if (act) y = act === 'tanh' ? ops.tanh(y) : act.forward(y);
  return residual ? ops.add(y, residual) : y;
}

/**
 * A conv of the generator: random, or from a file's tensors with the BN named `bn` (the one that
 * follows it in the training graph) folded into its weight and bias.
 */
function conv(cin: number, cout: number, k: number, bias: boolean, file: GeneratorTensors | undefined, name: string, bn?: string, icnr?: number): Conv2d {
  if (!file) return new Conv2d(cin, cout, k, { bias, icnr });
  const w = oihwToHwio(file(`${name}.weight`), k, cin, cout);
  const b = bias ? file(`${name}.bias`) : null;
  const f = bn
    ? foldBatchNorm(w, b, cout, file(`${bn}.weight`), file(`${bn}.bias`), file(`${bn}.running_mean`), file(`${bn}.running_var`), BN_EPS)
    : { w, b: b ?? new Float32Array(cout) };
  return new Conv2d(cin, cout, k, { weights: { weight: f.w, bias: f.b } });
}
/** A PReLU, random or from a file; `repeat`: each slope repeated (to run before a pixel shuffle). */
function prelu(c: number, file: GeneratorTensors | undefined, name: string, repeat = 1): PReLU {
  if (!file) return new PReLU(c);
  const s = file(`${name}.weight`);
  return new PReLU(c * repeat, repeat === 1 ? s : Float32Array.from({ length: s.length * repeat }, (_, i) => s[Math.floor(i / repeat)]));
}

class ResidualBlock extends Module {
  readonly conv1: Conv2d; readonly bn1: BatchNorm2d | null; readonly act: PReLU;
  readonly conv2: Conv2d; readonly bn2: BatchNorm2d | null;
  constructor(c: number, bn: boolean, w: GeneratorTensors | undefined, p: string) {
    super();
    // convs that feed a BN carry no bias: the BN's shift makes it redundant (folded, it is the bias)
    this.conv1 = this.child('conv1', conv(c, c, 3, !bn, w, `${p}.conv1`, bn ? `${p}.bn1` : undefined));
    this.bn1 = w || !bn ? null : this.child('bn1', new BatchNorm2d(c));
    this.act = this.child('act', prelu(c, w, `${p}.act`));
    this.conv2 = this.child('conv2', conv(c, c, 3, !bn, w, `${p}.conv2`, bn ? `${p}.bn2` : undefined));
    this.bn2 = w || !bn ? null : this.child('bn2', new BatchNorm2d(c));
  }
  /** `free`: inference, release the intermediate as soon as it is consumed. */
  forward(x: Tensor, free = false): Tensor {
    const h = unit(x, this.conv1, this.bn1, this.act);
    const y = unit(h, this.conv2, this.bn2, null, x);
    if (free) h.dispose();
    return y;
  }
}

class Upsample extends Module {
  readonly conv: Conv2d; readonly act: PReLU;
  /** Folded (built from a file, inference only): the PReLU runs fused in the conv's epilogue. */
  private readonly fused: boolean;
  constructor(c: number, readonly mode: UpStep, w: GeneratorTensors | undefined, p: string) {
    super();
    if (mode === 'nearest') {
      this.conv = this.child('conv', conv(c, c, 3, true, w, `${p}.conv`));
      this.act = this.child('act', prelu(c, w, `${p}.act`));
      this.fused = !!w;
      return;
    }
    this.conv = this.child('conv', conv(c, c * 4, 3, true, w, `${p}.conv`));
    // before the shuffle, output channel c is conv channel 4c + k: each slope repeated 4 times
    this.act = this.child('act', prelu(c, w, `${p}.act`, 4));
    this.fused = !!w;
  }
  forward(x: Tensor): Tensor {
    if (this.mode === 'nearest') {
      const u = ops.upsampleNearest2(x);
      const y = this.fused ? unit(u, this.conv, null, this.act) : this.act.forward(this.conv.forward(u));
      if (!isGradEnabled()) u.dispose();
      return y;
    }
    if (this.fused) return ops.pixelShuffle(unit(x, this.conv, null, this.act), 2);
    return this.act.forward(ops.pixelShuffle(this.conv.forward(x), 2));
  }
}

export class Generator extends Module {
  readonly convIn: Conv2d; readonly actIn: PReLU;
  readonly blocks: ResidualBlock[];
  readonly convMid: Conv2d; readonly bnMid: BatchNorm2d | null;
  readonly ups: Upsample[];
  readonly convOut: Conv2d;
  /** Built from a file's tensors: BN folded away, epilogues fused (inference only; see FoldedGenerator). */
  readonly folded: boolean;

  /** `file`: build the inference graph from a generator file's tensors; without it, the training graph, random. */
  constructor(readonly config: GeneratorConfig = PAPER_GENERATOR, file?: GeneratorTensors) {
    super();
    const c = config.channels, w = file;
    if (config.scale !== 2 && config.scale !== 4) throw new Error(`generator scale must be 2 or 4, got ${config.scale}`);
    this.folded = !!w;
    this.convIn = this.child('conv_in', conv(3, c, 9, true, w, 'conv_in'));
    this.actIn = this.child('act_in', prelu(c, w, 'act_in'));
    if (!NORMS.includes(normOf(config))) throw new Error(`generator norm must be ${alternatives(NORMS)}, got ${JSON.stringify(config.norm)}`);
    if (!SKIPS.includes(skipOf(config))) throw new Error(`generator skip must be ${alternatives(SKIPS)}, got ${JSON.stringify(config.skip)}`);
    const bn = normOf(config) === 'batch';
    this.blocks = Array.from({ length: config.blocks }, (_, i) => this.child(`blocks.${i}`, new ResidualBlock(c, bn, w, `blocks.${i}`)));
    this.convMid = this.child('conv_mid', conv(c, c, 3, !bn, w, 'conv_mid', bn ? 'bn_mid' : undefined));
    this.bnMid = w || !bn ? null : this.child('bn_mid', new BatchNorm2d(c));
    if (!UPSAMPLINGS.includes(upsamplingOf(config))) throw new Error(`generator upsample must be ${alternatives(UPSAMPLINGS)}, got ${JSON.stringify(config.upsample)}`);
    const bad = generatorConfigError(config);
    if (bad) throw new Error(bad);
    const { steps, step, outShuffle: r } = tailOf(config);
    this.ups = Array.from({ length: steps }, (_, i) => this.child(`ups.${i}`, new Upsample(c, step, w, `ups.${i}`)));
    // ESPCN's conv_out starts ICNR: its 3 * r^2 channels as 3 runs of r^2 equal ones, so the
    // shuffled output starts as nearest-neighbour upsampling of a 3-channel conv (no checkerboard)
    this.convOut = this.child('conv_out', r > 1 ? conv(c, 3 * r * r, 3, true, w, 'conv_out', undefined, r * r) : conv(c, 3, 9, true, w, 'conv_out'));
  }

  /** LR image NHWC in [0,1] -> SR image NHWC in [-1,1] (unbounded with the bilinear skip: clamp it). */
  forward(x: Tensor): Tensor {
    return this.addSkip(x, this.tail(this.body(x)));
  }

  /** With `skip: 'bilinear'`: y + the input upsampled, mapped from [0,1] to [-1,1]; else y itself. */
  addSkip(x: Tensor, y: Tensor): Tensor {
    if (skipOf(this.config) === 'none') return y;
    const up = ops.upsampleBilinear(x, this.config.scale, 2, -1);
    const out = ops.add(y, up);
    if (!isGradEnabled()) { up.dispose(); y.dispose(); }
    return out;
  }

  /**
   * Up to the upsampling: conv_in, the residual blocks, conv_mid plus the skip. Without gradients
   * (inference) each activation is released as soon as it is consumed, so the pool hands it out
   * again: memory stays at a few activations whatever the depth.
   */
  body(x: Tensor): Tensor {
    const free = !isGradEnabled();
    const head = unit(x, this.convIn, null, this.actIn);
    let h = head;
    for (const b of this.blocks) {
      const next = b.forward(h, free);
      if (free && h !== head) h.dispose();
      h = next;
    }
    const out = unit(h, this.convMid, this.bnMid, null, head);
    if (free) { if (h !== head) h.dispose(); head.dispose(); }
    return out;
  }

  /**
   * The upsampling steps and conv_out + tanh (no tanh with the skip), on the body's output (or a
   * strip of it); with an ESPCN output, conv_out (+ tanh) and its pixel shuffle.
   */
  tail(x: Tensor): Tensor {
    const free = !isGradEnabled();
    let h = x;
    for (const u of this.ups) {
      const next = u.forward(h);
      if (free && h !== x) h.dispose();
      h = next;
    }
    const y = unit(h, this.convOut, null, skipOf(this.config) === 'none' ? 'tanh' : null);
    if (free && h !== x) h.dispose();
    const r = tailOf(this.config).outShuffle;
    if (r === 1) return y;
    const out = ops.pixelShuffle(y, r);
    if (free) y.dispose();
    return out;
  }

  /**
   * The tail's cone: conv_out at its resolution (the output's, or outShuffle times lower before
   * an ESPCN output's shuffle), then each upsampling step walked back to LR: a conv before the pixel
   * shuffle (at the lower resolution), or a conv after the nearest-neighbour step (at the higher).
   * Its largest tensor: C floats per pixel at conv_out's input resolution, f^2 pixels per LR pixel
   * (the last conv before a pixel shuffle, and the shuffled tensor), or the 3 * scale^2 floats of
   * the output; the paper's 9x9 conv_out (src/kernels/split9.ts) binds its input padded by 3 and
   * a temporary of 28 floats per padded HR pixel.
   */
  get tiling(): NetTiling {
    const r = (K: number) => (K - 1) / 2;
    const { scale: s, channels: c } = this.config, out = tailOf(this.config).outShuffle;
    const f = s / out; // conv_out's pixels per LR pixel, per side
    let lo = -r(this.convOut.k), hi = f - 1 + r(this.convOut.k);
    for (const u of [...this.ups].reverse()) {
      if (u.mode === 'nearest') { lo = Math.floor((lo - r(u.conv.k)) / 2); hi = Math.floor((hi + r(u.conv.k)) / 2); }
      else { lo = Math.floor(lo / 2) - r(u.conv.k); hi = Math.floor(hi / 2) + r(u.conv.k); }
    }
    // the 9x9 conv_out's split path stacks 9 shifted 3-channel outputs (padded to 28) per HR pixel
    const split9 = out === 1 && split9Fits({ K: 9, stride: 1, Cin: c, Cout: 3 });
    let body = r(this.convIn.k) + r(this.convMid.k);
    for (const b of this.blocks) body += r(b.conv1.k) + r(b.conv2.k);
    return {
      stride: 1, bodyRadius: body, bodyBytesPerLrPixel: Math.max(4, c) * 4,
      tailCone: [lo, hi], tailBytesPerBodyPixel: Math.max(f * f * c, 3 * s * s, split9 ? czOf(3) * s * s : 0) * 4, padHr: out === 1 ? 3 : 0,
    };
  }
}

/**
 * An SRResNet file's configuration read off its shapes (a PyTorch state_dict with these names):
 * channels from conv_in, blocks and the upsampling steps from the indices, the tail from conv_out.
 */
function srresnetConfigFromShapes(entries: ReadonlyMap<string, { shape: number[] }>, file: string): Record<string, unknown> {
  const cin = entries.get('conv_in.weight')!;
  const [c, i3, k1, k2] = cin.shape;
  if (cin.shape.length !== 4 || i3 !== 3 || k1 !== 9 || k2 !== 9) {
    throw new Error(`${file}: not a generator: tensor 'conv_in.weight' has shape [${cin.shape}], a generator's is [channels, 3, 9, 9]`);
  }
  const count = (re: RegExp) => highestIndex(entries.keys(), re) + 1;
  const blocks = count(/^blocks\.(\d+)\./);
  const ups = count(/^ups\.(\d+)\./);
  // no BN statistics: a BN-free body (a skip leaves no tensor: such files need the metadata)
  const norm = entries.has('bn_mid.weight') ? {} : { norm: 'none' };
  // a 3x3 conv_out to 3 * r^2 channels and a pixel shuffle by r: an ESPCN output, after no
  // upsampling step (ESPCN's tail, r the scale) or after one pixel-shuffle step (r = 2, scale 4)
  const out = entries.get('conv_out.weight')?.shape;
  if (out?.length === 4 && out[2] === 3 && out[3] === 3) {
    if (ups === 0 && (out[0] === 12 || out[0] === 48)) return { channels: c, blocks, scale: Math.sqrt(out[0] / 3), upsample: 'espcn', ...norm };
    if (ups === 1 && out[0] === 12) return { channels: c, blocks, scale: 4, upsample: 'shuffle-espcn', ...norm };
  }
  if (ups !== 1 && ups !== 2) throw new Error(`${file}: not a generator of scale 2 or 4: ${ups} upsampling stages (ups.N tensors), expected 1 or 2 (or none and a 3x3 conv_out to 12 or 48 channels)`);
  // the upsampling conv's outputs: 4C before a pixel shuffle, C after a nearest-neighbour step
  const up = entries.get('ups.0.conv.weight')?.shape[0];
  return { channels: c, blocks, scale: 2 ** ups, ...(up === c ? { upsample: 'nearest' } : {}), ...norm };
}

/** A generator of any architecture: the same forward, body, tail and skip, tiling and module interface. */
export type AnyGenerator = Generator | CompactGenerator | RRDBGenerator;

/**
 * What each architecture is, in one place: its network (random, the training graph, or from a
 * file's tensors, the inference graph), its file's tensors (names and PyTorch shapes, the file
 * format) and its multiply-adds per LR pixel. The parameter count is read off the tensors; the
 * tile geometry is each network's own `tiling`; model.ts reads a configuration back off a file's
 * tensors (inferGeneratorConfig) and test/srgan/networks.test.ts checks every table against the
 * module tree for every architecture and tail.
 */
interface Architecture {
  make(config: GeneratorConfig, file?: GeneratorTensors): AnyGenerator;
  tensorShapes(config: GeneratorConfig): Map<string, number[]>;
  macsPerLrPixel(config: GeneratorConfig): { body: number; tail: number };
  /** A tensor only this architecture's files have: how a file without metadata is recognised. */
  marker: string;
  /** The inverse of tensorShapes: the configuration read off a file's shapes (checked by the caller). */
  configFromShapes(entries: ReadonlyMap<string, { shape: number[] }>, file: string): Record<string, unknown>;
}
const ARCHITECTURES: Record<Arch, Architecture> = {
  srresnet: {
    make: (c, f) => new Generator(c, f), tensorShapes: srresnetTensorShapes, macsPerLrPixel: srresnetMacsPerLrPixel,
    marker: 'conv_in.weight', configFromShapes: srresnetConfigFromShapes,
  },
  compact: {
    make: (c, f) => new CompactGenerator(c, f), tensorShapes: compactTensorShapes, macsPerLrPixel: compactMacsPerLrPixel,
    marker: 'body.0.weight', configFromShapes: compactConfigFromShapes,
  },
  rrdb: {
    make: (c, f) => new RRDBGenerator(c, f), tensorShapes: rrdbTensorShapes, macsPerLrPixel: rrdbMacsPerLrPixel,
    marker: 'conv_first.weight', configFromShapes: rrdbConfigFromShapes,
  },
};

/** The architecture whose marker tensor a file has (`has` tells a name), or null: none of ours. */
export function architectureOfTensors(has: (name: string) => boolean): Arch | null {
  return ARCHS.find((a) => has(ARCHITECTURES[a].marker)) ?? null;
}

/** A file's configuration read off its tensors' shapes by its architecture's inverse of tensorShapes (unchecked). */
export function configFromTensorShapes(arch: Arch, entries: ReadonlyMap<string, { shape: number[] }>, file: string): Record<string, unknown> {
  return ARCHITECTURES[arch].configFromShapes(entries, file);
}

/** The generator of a configuration's architecture: random (training graph) or from a file's tensors (inference). */
export function makeGenerator(config: GeneratorConfig, file?: GeneratorTensors): AnyGenerator {
  return ARCHITECTURES[archOf(config)].make(config, file);
}

/** Every tensor of a generator file, name -> shape in PyTorch's layout (conv OIHW): the file format. */
export function generatorTensorShapes(cfg: GeneratorConfig): Map<string, number[]> {
  return ARCHITECTURES[archOf(cfg)].tensorShapes(cfg);
}

/** Multiply-adds of the convs per LR pixel of a forward pass, body (at LR) and tail (above it). */
export function generatorMacsPerLrPixel(cfg: GeneratorConfig): { body: number; tail: number } {
  return ARCHITECTURES[archOf(cfg)].macsPerLrPixel(cfg);
}

/** Floating-point operations (2 per multiply-add) of the convs per LR pixel of a forward pass. */
export function generatorFlopsPerLrPixel(cfg: GeneratorConfig): number {
  const { body, tail } = generatorMacsPerLrPixel(cfg);
  return 2 * (body + tail);
}

/** Parameter count of a generator configuration: its file's tensors but BN's running statistics. */
export function generatorParamCount(cfg: GeneratorConfig): number {
  let n = 0;
  for (const [name, shape] of generatorTensorShapes(cfg)) if (!/\.running_(mean|var)$/.test(name)) n += shape.reduce((a, b) => a * b, 1);
  return n;
}

/** SRResNet's multiply-adds per LR pixel: conv_in, the blocks and conv_mid at LR; the upsampling and conv_out above. */
function srresnetMacsPerLrPixel(cfg: GeneratorConfig): { body: number; tail: number } {
  const c = cfg.channels, s = cfg.scale, { steps, step, outShuffle: r } = tailOf(cfg);
  const macs = (cin: number, cout: number, k: number, pixels: number) => cin * cout * k * k * pixels;
  const body = macs(3, c, 9, 1) + cfg.blocks * 2 * macs(c, c, 3, 1) + macs(c, c, 3, 1); // conv_in, blocks, conv_mid
  let tail = 0;
  // step i's conv runs at 4^i pixels per LR pixel before its shuffle, at 4^(i+1) after a nearest step
  for (let i = 0; i < steps; i++) tail += step === 'nearest' ? macs(c, c, 3, 4 ** (i + 1)) : macs(c, 4 * c, 3, 4 ** i);
  // conv_out at the resolution s / r: the 9x9 to 3 channels (r = 1), or the 3x3 to 3 r^2
  tail += r === 1 ? macs(c, 3, 9, s * s) : macs(c, 3 * r * r, 3, (s / r) ** 2);
  return { body, tail };
}

/** Every tensor of an SRResNet-family file, name -> shape (PyTorch's OIHW), in the module tree's order. */
function srresnetTensorShapes(cfg: GeneratorConfig): Map<string, number[]> {
  const c = cfg.channels;
  const m = new Map<string, number[]>();
  const conv = (n: string, cin: number, cout: number, k: number, bias: boolean) => {
    m.set(`${n}.weight`, [cout, cin, k, k]);
    if (bias) m.set(`${n}.bias`, [cout]);
  };
  const withBn = normOf(cfg) === 'batch';
  const bn = (n: string) => { if (withBn) for (const p of ['weight', 'bias', 'running_mean', 'running_var']) m.set(`${n}.${p}`, [c]); };
  conv('conv_in', 3, c, 9, true); m.set('act_in.weight', [c]);
  for (let i = 0; i < cfg.blocks; i++) {
    conv(`blocks.${i}.conv1`, c, c, 3, !withBn); bn(`blocks.${i}.bn1`); m.set(`blocks.${i}.act.weight`, [c]);
    conv(`blocks.${i}.conv2`, c, c, 3, !withBn); bn(`blocks.${i}.bn2`);
  }
  conv('conv_mid', c, c, 3, !withBn); bn('bn_mid');
  const { steps, step, outShuffle: r } = tailOf(cfg);
  for (let i = 0; i < steps; i++) { conv(`ups.${i}.conv`, c, step === 'nearest' ? c : 4 * c, 3, true); m.set(`ups.${i}.act.weight`, [c]); }
  if (r === 1) conv('conv_out', c, 3, 9, true);
  else conv('conv_out', c, 3 * r * r, 3, true);
  return m;
}
