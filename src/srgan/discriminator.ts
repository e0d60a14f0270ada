// SRGAN discriminator: 8 conv3x3 layers (64..512 channels, strides 1,2,...), LeakyReLU(0.2),
// BN on all but the first, then dense 1024 -> LeakyReLU -> dense 1 (a logit: the loss applies a
// stable BCE-with-logits, never log(sigmoid)).
// head 'pool' (not the paper) averages the last feature map over H,W before dense1: the head then
// has C*denseUnits weights instead of C*H*W*denseUnits (512 x 1024 instead of 18432 x 1024).
// Checkpoint names: conv_in, blocks.{i}.conv, blocks.{i}.bn (i = 0..6), dense1, dense2.
import { Module } from '../nn/module.js';
import { BatchNorm2d, Conv2d, Linear } from '../nn/layers.js';
import * as ops from '../nn/ops.js';
import type { Tensor } from '../nn/tensor.js';

export interface DiscriminatorConfig {
  channels: number;   // 64: the first layer's width; doubles every two layers
  inputSize: number;  // 96: HR crop size (the dense layer's input depends on it)
  denseUnits: number; // 1024
  head?: 'dense' | 'pool'; // 'dense' (the paper, the default): flatten; 'pool': global average pool
}

export const PAPER_DISCRIMINATOR: DiscriminatorConfig = { channels: 64, inputSize: 96, denseUnits: 1024, head: 'dense' };

class DBlock extends Module {
  readonly conv: Conv2d; readonly bn: BatchNorm2d;
  constructor(cin: number, cout: number, stride: number) {
    super();
    this.conv = this.child('conv', new Conv2d(cin, cout, 3, { stride, bias: false }));
    this.bn = this.child('bn', new BatchNorm2d(cout));
  }
  forward(x: Tensor): Tensor {
    return ops.leakyRelu(this.bn.forward(this.conv.forward(x)), 0.2);
  }
}

export function discriminatorLayout(cfg: DiscriminatorConfig): { widths: number[]; strides: number[]; finalSize: number } {
  const c = cfg.channels;
  const widths = [c, c, 2 * c, 2 * c, 4 * c, 4 * c, 8 * c, 8 * c];
  const strides = [1, 2, 1, 2, 1, 2, 1, 2];
  let s = cfg.inputSize;
  for (const st of strides) s = Math.ceil(s / st);
  return { widths, strides, finalSize: s };
}

export class Discriminator extends Module {
  readonly convIn: Conv2d;
  readonly blocks: DBlock[];
  readonly dense1: Linear;
  readonly dense2: Linear;

  constructor(readonly config: DiscriminatorConfig = PAPER_DISCRIMINATOR) {
    super();
    const { widths, strides, finalSize } = discriminatorLayout(config);
    this.convIn = this.child('conv_in', new Conv2d(3, widths[0], 3));
    this.blocks = [];
    for (let i = 1; i < 8; i++) this.blocks.push(this.child(`blocks.${i - 1}`, new DBlock(widths[i - 1], widths[i], strides[i])));
    const C = widths[7];
    this.dense1 = this.child('dense1', config.head === 'pool'
      ? new Linear(C, config.denseUnits)
      : new Linear(C * finalSize * finalSize, config.denseUnits, { chw: [C, finalSize, finalSize] }));
    this.dense2 = this.child('dense2', new Linear(config.denseUnits, 1));
  }

  /** Image NHWC in [-1,1] -> logits [N,1]. */
  forward(x: Tensor): Tensor {
    if (x.shape[1] !== this.config.inputSize || x.shape[2] !== this.config.inputSize) {
      throw new Error(`discriminator expects ${this.config.inputSize}x${this.config.inputSize} inputs, got ${x.shape[1]}x${x.shape[2]}`);
    }
    let h = ops.leakyRelu(this.convIn.forward(x), 0.2);
    for (const b of this.blocks) h = b.forward(h);
    if (this.config.head === 'pool') h = ops.globalAvgPool(h);
    h = ops.leakyRelu(this.dense1.forward(h), 0.2);
    return this.dense2.forward(h);
  }
}

export function discriminatorParamCount(cfg: DiscriminatorConfig): number {
  const { widths, finalSize } = discriminatorLayout(cfg);
  let n = 3 * widths[0] * 9 + widths[0];
  for (let i = 1; i < 8; i++) n += widths[i - 1] * widths[i] * 9 + 2 * widths[i];
  const features = cfg.head === 'pool' ? widths[7] : widths[7] * finalSize * finalSize;
  n += features * cfg.denseUnits + cfg.denseUnits;
  n += cfg.denseUnits + 1;
  return n;
}
