// Layers: each owns its parameters and calls one differentiable op from ops.ts.
import { Module, icnrInit, uniformInit, constant } from './module.js';
import { fromArray, type Tensor } from './tensor.js';
import * as ops from './ops.js';
import { Rng } from './random.js';

let initRng = new Rng(1234);
/** Seeds parameter initialisation (call before building a model for reproducible weights). */
export function setInitSeed(seed: number): void {
  initRng = new Rng(seed);
}
const nextSeed = (): number => Math.floor(initRng.next() * 2 ** 32);

export class Conv2d extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;
  /**
   * `weights`: the layer's values (weight HWIO, bias), e.g. BN-folded ones for inference, instead
   * of a random initialisation (which then draws nothing from the init seed). `icnr`: the random
   * initialisation's output channels in runs of that many equal ones (icnrInit: r^2 before a pixel
   * shuffle by r).
   */
  constructor(readonly cin: number, readonly cout: number, readonly k: number,
    readonly opts: { stride?: number; bias?: boolean; weights?: { weight: Float32Array; bias?: Float32Array }; icnr?: number } = {}) {
    super();
    const fanIn = cin * k * k;
    const w = opts.weights;
    if (w && (w.weight.length !== k * k * cin * cout || (opts.bias !== false && w.bias?.length !== cout))) {
      throw new Error(`Conv2d: given weights do not fit ${k}x${k} ${cin}->${cout}`);
    }
    const init = (shape: number[]) => opts.icnr ? icnrInit(shape, fanIn, nextSeed(), opts.icnr) : uniformInit(shape, fanIn, nextSeed());
    this.weight = this.param('weight', w ? fromArray(w.weight, [k, k, cin, cout]) : init([k, k, cin, cout]), { kind: 'conv' });
    this.bias = opts.bias === false ? null : this.param('bias', w ? fromArray(w.bias!, [cout]) : init([cout]));
  }
  get stride(): number { return this.opts.stride ?? 1; }
  /** The conv, with an epilogue (activation, residual) fused into its kernel where no gradient is needed. */
  forward(x: Tensor, epilogue?: ops.ConvEpilogue): Tensor {
    return ops.conv2d(x, this.weight, this.bias, this.stride, epilogue);
  }
}

export class BatchNorm2d extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor;
  readonly runningMean: Tensor;
  readonly runningVar: Tensor;
  constructor(readonly channels: number, readonly momentum = 0.1, readonly eps = 1e-5) {
    super();
    this.weight = this.param('weight', constant([channels], 1));
    this.bias = this.param('bias', constant([channels], 0));
    this.runningMean = this.buffer('running_mean', constant([channels], 0));
    this.runningVar = this.buffer('running_var', constant([channels], 1));
  }
  forward(x: Tensor): Tensor {
    return ops.batchNorm(x, {
      gamma: this.weight, beta: this.bias, runningMean: this.runningMean, runningVar: this.runningVar,
      momentum: this.momentum, eps: this.eps,
    }, this.training);
  }
}

export class PReLU extends Module {
  readonly weight: Tensor;
  /** `init`: one slope for every channel, or each channel's slope. */
  constructor(readonly channels: number, init: number | Float32Array = 0.25) {
    super();
    if (typeof init !== 'number' && init.length !== channels) throw new Error(`PReLU: ${init.length} slopes for ${channels} channels`);
    this.weight = this.param('weight', typeof init === 'number' ? constant([channels], init) : fromArray(init, [channels]));
  }
  forward(x: Tensor): Tensor {
    return ops.prelu(x, this.weight);
  }
}

export class LeakyReLU extends Module {
  constructor(readonly alpha = 0.2) { super(); }
  forward(x: Tensor): Tensor { return ops.leakyRelu(x, this.alpha); }
}

export class ReLU extends Module {
  forward(x: Tensor): Tensor { return ops.relu(x); }
}

export class Tanh extends Module {
  forward(x: Tensor): Tensor { return ops.tanh(x); }
}

export class PixelShuffle extends Module {
  constructor(readonly r: number) { super(); }
  forward(x: Tensor): Tensor { return ops.pixelShuffle(x, this.r); }
}

/**
 * y = x·W + b with W stored [in, out] in the engine and [out, in] on disk. When the input is an
 * NHWC feature map flattened per sample, pass `chw` = [C, H, W] so that the checkpoint uses
 * PyTorch's (c, h, w) feature order.
 */
export class Linear extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;
  constructor(readonly inF: number, readonly outF: number, opts: { bias?: boolean; chw?: [number, number, number] } = {}) {
    super();
    this.weight = this.param('weight', uniformInit([inF, outF], inF, nextSeed()),
      opts.chw ? { kind: 'dense-chw', chw: opts.chw } : { kind: 'dense' });
    this.bias = opts.bias === false ? null : this.param('bias', uniformInit([outF], inF, nextSeed()));
  }
  forward(x: Tensor): Tensor {
    return ops.linear(x, this.weight, this.bias);
  }
}

