// SRResNet generator (Ledig et al. 2017), with PyTorch-style checkpoint names:
// conv_in, act_in, blocks.{i}.{conv1,bn1,act,conv2,bn2}, conv_mid, bn_mid, ups.{i}.{conv,act}, conv_out.
import { Module } from '../nn/module.js';
import { BatchNorm2d, Conv2d, PReLU } from '../nn/layers.js';
import * as ops from '../nn/ops.js';
import type { Tensor } from '../nn/tensor.js';

export interface GeneratorConfig {
  channels: number; // 64 in the paper
  blocks: number;   // 16 in the paper
  scale: 2 | 4;     // 4 in the paper
}

export const PAPER_GENERATOR: GeneratorConfig = { channels: 64, blocks: 16, scale: 4 };

class ResidualBlock extends Module {
  readonly conv1: Conv2d; readonly bn1: BatchNorm2d; readonly act: PReLU;
  readonly conv2: Conv2d; readonly bn2: BatchNorm2d;
  constructor(c: number) {
    super();
    // convs that feed a BN carry no bias: the BN's shift makes it redundant
    this.conv1 = this.child('conv1', new Conv2d(c, c, 3, { bias: false }));
    this.bn1 = this.child('bn1', new BatchNorm2d(c));
    this.act = this.child('act', new PReLU(c));
    this.conv2 = this.child('conv2', new Conv2d(c, c, 3, { bias: false }));
    this.bn2 = this.child('bn2', new BatchNorm2d(c));
  }
  forward(x: Tensor): Tensor {
    const h = this.act.forward(this.bn1.forward(this.conv1.forward(x)));
    return ops.add(this.bn2.forward(this.conv2.forward(h)), x);
  }
}

class Upsample extends Module {
  readonly conv: Conv2d; readonly act: PReLU;
  constructor(c: number) {
    super();
    this.conv = this.child('conv', new Conv2d(c, c * 4, 3));
    this.act = this.child('act', new PReLU(c));
  }
  forward(x: Tensor): Tensor {
    return this.act.forward(ops.pixelShuffle(this.conv.forward(x), 2));
  }
}

export class Generator extends Module {
  readonly convIn: Conv2d; readonly actIn: PReLU;
  readonly blocks: ResidualBlock[];
  readonly convMid: Conv2d; readonly bnMid: BatchNorm2d;
  readonly ups: Upsample[];
  readonly convOut: Conv2d;

  constructor(readonly config: GeneratorConfig = PAPER_GENERATOR) {
    super();
    const c = config.channels;
    if (config.scale !== 2 && config.scale !== 4) throw new Error(`generator scale must be 2 or 4, got ${config.scale}`);
    this.convIn = this.child('conv_in', new Conv2d(3, c, 9));
    this.actIn = this.child('act_in', new PReLU(c));
    this.blocks = Array.from({ length: config.blocks }, (_, i) => this.child(`blocks.${i}`, new ResidualBlock(c)));
    this.convMid = this.child('conv_mid', new Conv2d(c, c, 3, { bias: false }));
    this.bnMid = this.child('bn_mid', new BatchNorm2d(c));
    this.ups = Array.from({ length: Math.log2(config.scale) }, (_, i) => this.child(`ups.${i}`, new Upsample(c)));
    this.convOut = this.child('conv_out', new Conv2d(c, 3, 9));
  }

  /** LR image NHWC in [0,1] -> SR image NHWC in [-1,1]. */
  forward(x: Tensor): Tensor {
    const head = this.actIn.forward(this.convIn.forward(x));
    let h = head;
    for (const b of this.blocks) h = b.forward(h);
    h = ops.add(this.bnMid.forward(this.convMid.forward(h)), head);
    for (const u of this.ups) h = u.forward(h);
    return ops.tanh(this.convOut.forward(h));
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
