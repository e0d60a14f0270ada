// SRResNet generator (Ledig et al. 2017), with PyTorch-style checkpoint names:
// conv_in, act_in, blocks.{i}.{conv1,bn1,act,conv2,bn2}, conv_mid, bn_mid, ups.{i}.{conv,act}, conv_out.
import { Module } from '../nn/module.js';
import { BatchNorm2d, Conv2d, PReLU } from '../nn/layers.js';
import * as ops from '../nn/ops.js';
import { isGradEnabled, type Tensor } from '../nn/tensor.js';

export interface GeneratorConfig {
  channels: number; // 64 in the paper
  blocks: number;   // 16 in the paper
  scale: 2 | 4;     // 4 in the paper
}

export const PAPER_GENERATOR: GeneratorConfig = { channels: 64, blocks: 16, scale: 4 };

/**
 * BN-folded values of every layer, by the generator's tensor names in the engine's layout (conv
 * weights HWIO): `blocks.0.conv1.weight`, `blocks.0.conv1.bias` (the folded BN's shift), ...,
 * `ups.0.act.weight` with each slope repeated 4 times (the PReLU moves before the pixel shuffle).
 */
export type FoldedWeights = (name: string) => Float32Array;

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

/** A conv of the generator, random or from folded weights (then with the folded bias). */
function conv(cin: number, cout: number, k: number, bias: boolean, w: FoldedWeights | undefined, name: string): Conv2d {
  return w ? new Conv2d(cin, cout, k, { weights: { weight: w(`${name}.weight`), bias: w(`${name}.bias`) } }) : new Conv2d(cin, cout, k, { bias });
}
const prelu = (c: number, w: FoldedWeights | undefined, name: string) => (w ? new PReLU(c, w(`${name}.weight`)) : new PReLU(c));

class ResidualBlock extends Module {
  readonly conv1: Conv2d; readonly bn1: BatchNorm2d | null; readonly act: PReLU;
  readonly conv2: Conv2d; readonly bn2: BatchNorm2d | null;
  constructor(c: number, w: FoldedWeights | undefined, p: string) {
    super();
    // convs that feed a BN carry no bias: the BN's shift makes it redundant (folded, it is the bias)
    this.conv1 = this.child('conv1', conv(c, c, 3, false, w, `${p}.conv1`));
    this.bn1 = w ? null : this.child('bn1', new BatchNorm2d(c));
    this.act = this.child('act', prelu(c, w, `${p}.act`));
    this.conv2 = this.child('conv2', conv(c, c, 3, false, w, `${p}.conv2`));
    this.bn2 = w ? null : this.child('bn2', new BatchNorm2d(c));
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
  /** Folded: the PReLU runs fused in the conv, before the shuffle, with each slope repeated 4 times. */
  private readonly actBeforeShuffle: boolean;
  constructor(c: number, w: FoldedWeights | undefined, p: string) {
    super();
    this.conv = this.child('conv', conv(c, c * 4, 3, true, w, `${p}.conv`));
    this.act = this.child('act', w ? new PReLU(4 * c, w(`${p}.act.weight`)) : new PReLU(c));
    this.actBeforeShuffle = !!w;
  }
  forward(x: Tensor): Tensor {
    if (this.actBeforeShuffle) return ops.pixelShuffle(unit(x, this.conv, null, this.act), 2);
    return this.act.forward(ops.pixelShuffle(this.conv.forward(x), 2));
  }
}

export class Generator extends Module {
  readonly convIn: Conv2d; readonly actIn: PReLU;
  readonly blocks: ResidualBlock[];
  readonly convMid: Conv2d; readonly bnMid: BatchNorm2d | null;
  readonly ups: Upsample[];
  readonly convOut: Conv2d;
  /** Built from folded weights: no BN layers, epilogues fused (inference only; see FoldedGenerator). */
  readonly folded: boolean;

  constructor(readonly config: GeneratorConfig = PAPER_GENERATOR, folded?: FoldedWeights) {
    super();
    const c = config.channels, w = folded;
    if (config.scale !== 2 && config.scale !== 4) throw new Error(`generator scale must be 2 or 4, got ${config.scale}`);
    this.folded = !!w;
    this.convIn = this.child('conv_in', conv(3, c, 9, true, w, 'conv_in'));
    this.actIn = this.child('act_in', prelu(c, w, 'act_in'));
    this.blocks = Array.from({ length: config.blocks }, (_, i) => this.child(`blocks.${i}`, new ResidualBlock(c, w, `blocks.${i}`)));
    this.convMid = this.child('conv_mid', conv(c, c, 3, false, w, 'conv_mid'));
    this.bnMid = w ? null : this.child('bn_mid', new BatchNorm2d(c));
    this.ups = Array.from({ length: Math.log2(config.scale) }, (_, i) => this.child(`ups.${i}`, new Upsample(c, w, `ups.${i}`)));
    this.convOut = this.child('conv_out', conv(c, 3, 9, true, w, 'conv_out'));
  }

  /** LR image NHWC in [0,1] -> SR image NHWC in [-1,1]. */
  forward(x: Tensor): Tensor {
    return this.tail(this.body(x));
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

  /** The upsampling steps and conv_out + tanh, on the body's output (or a strip of it). */
  tail(x: Tensor): Tensor {
    const free = !isGradEnabled();
    let h = x;
    for (const u of this.ups) {
      const next = u.forward(h);
      if (free && h !== x) h.dispose();
      h = next;
    }
    const y = unit(h, this.convOut, null, 'tanh');
    if (free && h !== x) h.dispose();
    return y;
  }
}

/** Parameter count of a generator configuration, from the layer table (for checks). */
export function generatorParamCount(cfg: GeneratorConfig): number {
  const c = cfg.channels;
  const conv = (cin: number, cout: number, k: number, bias: boolean) => cin * cout * k * k + (bias ? cout : 0);
  const bn = 2 * c;
  let n = conv(3, c, 9, true) + c;                                 // conv_in + PReLU
  n += cfg.blocks * (2 * conv(c, c, 3, false) + 2 * bn + c);        // residual blocks
  n += conv(c, c, 3, false) + bn;                                    // conv_mid + bn_mid
  n += Math.log2(cfg.scale) * (conv(c, 4 * c, 3, true) + c);        // upsampling
  n += conv(c, 3, 9, true);                                          // conv_out
  return n;
}
