// Differentiable ops: each launches its forward kernel and records its backward rule.
// The kernels (src/kernels) know bindings and dispatch sizes; this file knows the calculus.
import { gpu } from '../gpu/gpu.js';
import * as conv from '../kernels/conv2d.js';
import * as ew from '../kernels/elementwise.js';
import * as act from '../kernels/activation.js';
import * as ps from '../kernels/pixel_shuffle.js';
import * as up from '../kernels/upsample.js';
import * as cc from '../kernels/concat_channels.js';
import * as pool from '../kernels/maxpool.js';
import * as loss from '../kernels/loss.js';
import * as bn from '../kernels/batchnorm.js';
import * as mm from '../kernels/matmul.js';
import * as red from '../kernels/reduce.js';
import { broadcastScalar } from '../kernels/broadcast.js';
import { WinogradConcat } from '../kernels/winograd.js';
import { Tensor, empty, fromArray, needsGrad, record, isGradEnabled } from './tensor.js';

function sameShape(a: Tensor, b: Tensor, op: string): void {
  if (a.size !== b.size || a.shape.length !== b.shape.length || a.shape.some((d, i) => d !== b.shape[i])) {
    throw new Error(`${op}: shapes [${a.shape}] and [${b.shape}] differ`);
  }
}

function nhwc(x: Tensor, op: string): [number, number, number, number] {
  if (x.shape.length !== 4) throw new Error(`${op}: expected an NHWC tensor, got [${x.shape}]`);
  return x.shape as [number, number, number, number];
}

// ---- elementwise -----------------------------------------------------------------------------

export function add(a: Tensor, b: Tensor): Tensor {
  sameShape(a, b, 'add');
  const y = empty(a.shape);
  ew.add(gpu(), a.buffer, b.buffer, y.buffer, a.size);
  if (needsGrad(a, b)) record({ name: 'add', inputs: [a, b], output: y, backward: (g) => [g, g] });
  return y;
}

export function sub(a: Tensor, b: Tensor): Tensor {
  sameShape(a, b, 'sub');
  const y = empty(a.shape);
  ew.addScaled(gpu(), a.buffer, b.buffer, y.buffer, a.size, 1, -1);
  if (needsGrad(a, b)) record({ name: 'sub', inputs: [a, b], output: y, backward: (g) => [g, scale(g, -1)] });
  return y;
}

export function mul(a: Tensor, b: Tensor): Tensor {
  sameShape(a, b, 'mul');
  const y = empty(a.shape);
  ew.mul(gpu(), a.buffer, b.buffer, y.buffer, a.size);
  if (needsGrad(a, b)) {
    record({
      name: 'mul', inputs: [a, b], output: y,
      backward: (g) => [a.requiresGrad ? mul(g, b) : null, b.requiresGrad ? mul(g, a) : null],
    });
  }
  return y;
}

export function scale(a: Tensor, s: number): Tensor {
  const y = empty(a.shape);
  ew.scale(gpu(), a.buffer, y.buffer, a.size, s);
  if (needsGrad(a)) record({ name: 'scale', inputs: [a], output: y, backward: (g) => [scale(g, s)] });
  return y;
}

// ---- activations -----------------------------------------------------------------------------

function pointwise(kind: act.PointwiseAct, x: Tensor, alpha?: number): Tensor {
  const y = empty(x.shape);
  act.activation(gpu(), kind, x.buffer, y.buffer, x.size, alpha);
  if (needsGrad(x)) {
    record({
      name: kind, inputs: [x], output: y,
      backward: (g) => {
        const dx = empty(x.shape);
        act.activationBackward(gpu(), kind, x.buffer, y.buffer, g.buffer, dx.buffer, x.size, alpha);
        return [dx];
      },
    });
  }
  return y;
}

export const relu = (x: Tensor): Tensor => pointwise('relu', x);
export const leakyRelu = (x: Tensor, alpha = 0.2): Tensor => pointwise('lrelu', x, alpha);
export const tanh = (x: Tensor): Tensor => pointwise('tanh', x);
export const sigmoid = (x: Tensor): Tensor => pointwise('sigmoid', x);

/** PReLU with one slope per channel (the last dimension). */
export function prelu(x: Tensor, slope: Tensor): Tensor {
  const C = x.shape[x.shape.length - 1];
  if (slope.size !== C) throw new Error(`prelu: ${slope.size} slopes for ${C} channels`);
  const y = empty(x.shape);
  act.prelu(gpu(), x.buffer, slope.buffer, y.buffer, x.size, C);
  if (needsGrad(x, slope)) {
    record({
      name: 'prelu', inputs: [x, slope], output: y,
      backward: (g) => {
        const dx = empty(x.shape);
        const ds = empty(slope.shape);
        act.preluBackward(gpu(), x.buffer, slope.buffer, g.buffer, dx.buffer, ds.buffer, x.size, C);
        return [dx, ds];
      },
    });
  }
  return y;
}

// ---- convolution -----------------------------------------------------------------------------

/**
 * What a conv can apply to its output in the same kernel, in this order: its bias, an activation
 * (PReLU with `slope` [Cout], leaky ReLU with `alpha`, ReLU, tanh), then `residual` added.
 */
export interface ConvEpilogue { act?: Exclude<act.EpilogueAct, 'none'>; alpha?: number; slope?: Tensor; residual?: Tensor }

/**
 * 2-D convolution, NHWC input, HWIO weight [K,K,Cin,Cout], 'same' zero padding, with an optional
 * epilogue. Without gradients (inference) the epilogue runs fused in the conv kernel; with them it
 * is the same maths as separate ops (conv2d, then the activation, then add), each with its rule.
 */
export function conv2d(x: Tensor, w: Tensor, b: Tensor | null, stride = 1, epi: ConvEpilogue = {}): Tensor {
  if (epi.act === 'prelu' && !epi.slope) throw new Error('conv2d: a prelu epilogue needs slopes');
  if ((epi.act || epi.residual) && needsGrad(x, w, b, epi.slope, epi.residual)) {
    let y = conv2d(x, w, b, stride);
    if (epi.act === 'prelu') y = prelu(y, epi.slope!);
    else if (epi.act === 'lrelu') y = leakyRelu(y, epi.alpha);
    else if (epi.act === 'relu') y = relu(y);
    else if (epi.act === 'tanh') y = tanh(y);
    return epi.residual ? add(y, epi.residual) : y;
  }
  const [N, H, W, Cin] = nhwc(x, 'conv2d');
  const [K, K2, wCin, Cout] = w.shape;
  if (w.shape.length !== 4 || K !== K2 || K % 2 !== 1) throw new Error(`conv2d: weight [${w.shape}] is not [K,K,Cin,Cout] with odd K`);
  if (wCin !== Cin) throw new Error(`conv2d: input has ${Cin} channels, weight expects ${wCin}`);
  if (b && b.size !== Cout) throw new Error(`conv2d: bias has ${b.size} values for ${Cout} channels`);
  const s: conv.ConvShape = { N, H, W, Cin, Cout, K, stride };
  const { Ho, Wo } = conv.convOutSize(s);
  const y = empty([N, Ho, Wo, Cout]);
  if (epi.slope && epi.slope.size !== Cout) throw new Error(`conv2d: ${epi.slope.size} slopes for ${Cout} channels`);
  if (epi.residual && epi.residual.size !== y.size) throw new Error(`conv2d: residual [${epi.residual.shape}] does not match the output [${y.shape}]`);
  conv.conv2dForward(gpu(), s, x.buffer, w.buffer, y.buffer, {
    bias: b?.buffer, act: epi.act, alpha: epi.alpha, slope: epi.slope?.buffer, residual: epi.residual?.buffer,
  });
  if (needsGrad(x, w, b)) {
    record({
      name: 'conv2d', inputs: b ? [x, w, b] : [x, w], output: y,
      backward: (g) => {
        let dx: Tensor | null = null, dw: Tensor | null = null, db: Tensor | null = null;
        if (x.requiresGrad) { dx = empty(x.shape); conv.conv2dBackwardInput(gpu(), s, g.buffer, w.buffer, dx.buffer); }
        if (w.requiresGrad) { dw = empty(w.shape); conv.conv2dBackwardWeight(gpu(), s, x.buffer, g.buffer, dw.buffer); }
        if (b?.requiresGrad) { db = empty(b.shape); conv.conv2dBackwardBias(gpu(), s, g.buffer, db.buffer); }
        return b ? [dx, dw, db] : [dx, dw];
      },
    });
  }
  return y;
}

// ---- batch norm ------------------------------------------------------------------------------

export interface BatchNormState {
  gamma: Tensor; beta: Tensor; runningMean: Tensor; runningVar: Tensor; momentum: number; eps: number;
}

/** Batch norm over N,H,W per channel; training mode uses (and updates) batch statistics. */
export function batchNorm(x: Tensor, st: BatchNormState, training: boolean): Tensor {
  const C = x.shape[x.shape.length - 1];
  const M = x.size / C;
  const y = empty(x.shape);
  const g = gpu();
  if (!training) {
    bn.batchNormInfer(g, x.buffer, y.buffer, st.gamma.buffer, st.beta.buffer, st.runningMean.buffer, st.runningVar.buffer, M, C, st.eps);
    if (needsGrad(x, st.gamma, st.beta)) throw new Error('batchNorm: backward through inference mode is not supported');
    return y;
  }
  const mean = empty([C]);
  const invStd = empty([C]);
  bn.batchNormTrain(g, x.buffer, y.buffer, st.gamma.buffer, st.beta.buffer, mean.buffer, invStd.buffer,
    st.runningMean.buffer, st.runningVar.buffer, M, C, { momentum: st.momentum, eps: st.eps });
  if (needsGrad(x, st.gamma, st.beta)) {
    record({
      name: 'batchnorm', inputs: [x, st.gamma, st.beta], output: y,
      backward: (gy) => {
        const dx = empty(x.shape), dg = empty([C]), db = empty([C]);
        bn.batchNormBackward(g, x.buffer, gy.buffer, st.gamma.buffer, mean.buffer, invStd.buffer, dx.buffer, dg.buffer, db.buffer, M, C);
        return [dx, dg, db];
      },
    });
  }
  return y;
}

// ---- reshaping -------------------------------------------------------------------------------

export function pixelShuffle(x: Tensor, r: number): Tensor {
  const [N, H, W, C] = nhwc(x, 'pixelShuffle');
  if (C % (r * r)) throw new Error(`pixelShuffle: ${C} channels not divisible by ${r * r}`);
  const y = empty([N, H * r, W * r, C / (r * r)]);
  ps.pixelShuffle(gpu(), x.buffer, y.buffer, N, H, W, C, r);
  if (needsGrad(x)) {
    record({
      name: 'pixelShuffle', inputs: [x], output: y,
      backward: (g) => {
        const dx = empty(x.shape);
        ps.pixelShuffleBackward(gpu(), g.buffer, dx.buffer, N, H, W, C, r);
        return [dx];
      },
    });
  }
  return y;
}

/**
 * PyTorch's pixel_unshuffle, the inverse of pixelShuffle: [N, H*r, W*r, C] -> [N, H, W, C*r*r], output
 * channel c*r*r + i*r + j holding input pixel (h*r + i, w*r + j) of channel c (ESRGAN's x2 and x1
 * RRDBNet start with it). Runs the pixel-shuffle kernel family's inverse permutation; its gradient
 * is the shuffle.
 */
export function pixelUnshuffle(x: Tensor, r: number): Tensor {
  const [N, Hr, Wr, C] = nhwc(x, 'pixelUnshuffle');
  if (Hr % r || Wr % r) throw new Error(`pixelUnshuffle: a ${Wr}x${Hr} image is not a multiple of ${r} on each side`);
  const H = Hr / r, W = Wr / r;
  const y = empty([N, H, W, C * r * r]);
  ps.pixelShuffleBackward(gpu(), x.buffer, y.buffer, N, H, W, C * r * r, r);
  if (needsGrad(x)) {
    record({
      name: 'pixelUnshuffle', inputs: [x], output: y,
      backward: (g) => {
        const dx = empty(x.shape);
        ps.pixelShuffle(gpu(), g.buffer, dx.buffer, N, H, W, C * r * r, r);
        return [dx];
      },
    });
  }
  return y;
}

/** Nearest-neighbour upsampling by 2: [N, H, W, C] -> [N, 2H, 2W, C], each pixel over a 2x2 block. */
export function upsampleNearest2(x: Tensor): Tensor {
  const [N, H, W, C] = nhwc(x, 'upsampleNearest2');
  const y = empty([N, 2 * H, 2 * W, C]);
  up.upsampleNearest2(gpu(), x.buffer, y.buffer, N, H, W, C);
  if (needsGrad(x)) {
    record({
      name: 'upsampleNearest2', inputs: [x], output: y,
      backward: (g) => {
        const dx = empty(x.shape);
        up.upsampleNearest2Backward(gpu(), g.buffer, dx.buffer, N, H, W, C);
        return [dx];
      },
    });
  }
  return y;
}

/**
 * Bilinear upsampling by the integer s (PyTorch's align_corners=False): [N, H, W, C] -> [N, sH, sW, C],
 * each value then mapped to a * v + b (default: as it is). Forward only: it upsamples data (the
 * generator's LR input, for its global skip), never a tensor that takes a gradient.
 */
export function upsampleBilinear(x: Tensor, s: number, a = 1, b = 0, mode: 'bilinear' | 'nearest' = 'bilinear'): Tensor {
  const [N, H, W, C] = nhwc(x, 'upsampleBilinear');
  if (needsGrad(x)) throw new Error('upsampleBilinear: its input takes a gradient; this op upsamples data only (no backward)');
  const y = empty([N, s * H, s * W, C]);
  up.upsampleBilinear(gpu(), x.buffer, y.buffer, N, H, W, C, s, a, b, mode);
  return y;
}

/** Nearest-neighbour upsampling by the integer s, then a * v + b; data only, as upsampleBilinear. */
export function upsampleNearest(x: Tensor, s: number, a = 1, b = 0): Tensor {
  return upsampleBilinear(x, s, a, b, 'nearest');
}

/** Concatenation along channels of NHWC tensors of one size: [N, H, W, sum of C]. */
export function concatChannels(inputs: readonly Tensor[]): Tensor {
  const xs = [...inputs]; // the caller may grow its array afterwards (a dense block does): the tape keeps this one
  if (!xs.length) throw new Error('concatChannels: no inputs');
  const [N, H, W] = nhwc(xs[0], 'concatChannels');
  const cs = xs.map((x) => {
    const [n, h, w, c] = nhwc(x, 'concatChannels');
    if (n !== N || h !== H || w !== W) throw new Error(`concatChannels: [${x.shape}] does not match [${xs[0].shape}] but for its channels`);
    return c;
  });
  const C = cs.reduce((a, b) => a + b, 0), P = N * H * W;
  const y = empty([N, H, W, C]);
  let off = 0;
  xs.forEach((x, i) => { cc.channelPack(gpu(), x.buffer, y.buffer, P, cs[i], C, off); off += cs[i]; });
  if (needsGrad(...xs)) {
    record({
      name: 'concatChannels', inputs: xs, output: y,
      backward: (g) => {
        let o = 0;
        return xs.map((x, i) => {
          const start = o;
          o += cs[i];
          if (!x.requiresGrad) return null;
          const dx = empty(x.shape);
          cc.channelUnpack(gpu(), g.buffer, dx.buffer, P, cs[i], C, start);
          return dx;
        });
      },
    });
  }
  return y;
}

/**
 * 3x3 stride-1 'same' convs over the channel concatenation of a growing list of tensors (ESRGAN's
 * dense block: conv k reads the block's input and every earlier conv's output): `conv` is
 * conv2d(concatChannels(the pieces so far), w, b, 1, epi). `layout` gives every piece's width and
 * every conv's output width, in order. Without gradients (isGradEnabled false) and where Winograd
 * takes all the convs, the concatenation is never built: each piece is transformed once
 * (kernels/winograd.ts WinogradConcat) and may be disposed once added. Otherwise the pieces are
 * concatenated (concatChannels, then conv2d, with their backward rules). dispose() when done.
 */
export class ConcatConv {
  private readonly wino: WinogradConcat | null = null;
  private whole: Tensor | null = null;
  /** Whether `whole` is a concatenation made here (not the caller's first piece). */
  private owned = false;
  private readonly shape: readonly number[];
  private added = 0;

  constructor(first: Tensor, readonly layout: { widths: readonly number[]; couts: readonly number[] }) {
    const [N, H, W, C] = nhwc(first, 'ConcatConv');
    const { widths, couts } = layout;
    if (widths[0] !== C) throw new Error(`ConcatConv: the first piece has ${C} channels, the layout says ${widths[0]}`);
    this.shape = [N, H, W];
    const width = widths.reduce((a, b) => a + b, 0);
    let cin = 0;
    const all = widths.every((cw, k) => {
      cin += cw;
      return k >= couts.length || conv.usesWinograd({ N, H, W, Cin: cin, Cout: couts[k], K: 3, stride: 1 });
    });
    if (!isGradEnabled() && all && widths.every((cw) => cw % 4 === 0)) {
      this.wino = new WinogradConcat(gpu(), { N, H, W, Cin: width, Cout: Math.max(...couts) });
    }
    this.add(first);
  }

  /** The next piece [N, H, W, widths[k]]. */
  add(t: Tensor): void {
    const [n, h, w, c] = nhwc(t, 'ConcatConv');
    const want = this.layout.widths[this.added];
    if (n !== this.shape[0] || h !== this.shape[1] || w !== this.shape[2] || c !== want) {
      throw new Error(`ConcatConv: piece ${this.added} is [${t.shape}], expected [${this.shape}, ${want ?? 'none'}]`);
    }
    this.added++;
    if (this.wino) { this.wino.add(t.buffer, c); return; }
    if (!this.whole) { this.whole = t; return; }
    const next = concatChannels([this.whole, t]);
    if (this.owned && !isGradEnabled()) this.whole.dispose();
    this.whole = next;
    this.owned = true;
  }

  /** conv2d(the concatenation so far, w, b, 1, epi), w HWIO [3, 3, channels so far, Cout]. */
  conv(w: Tensor, b: Tensor | null, epi: ConvEpilogue = {}): Tensor {
    if (!this.wino) return conv2d(this.whole!, w, b, 1, epi);
    const [K, K2, Cin, Cout] = w.shape;
    if (K !== 3 || K2 !== 3 || Cin !== this.wino.channels) throw new Error(`ConcatConv: weight [${w.shape}] does not fit ${this.wino.channels} channels`);
    if (b && b.size !== Cout) throw new Error(`ConcatConv: bias has ${b.size} values for ${Cout} channels`);
    const y = empty([...this.shape, Cout]);
    if (epi.residual && epi.residual.size !== y.size) throw new Error(`ConcatConv: residual [${epi.residual.shape}] does not match the output [${y.shape}]`);
    if (epi.act === 'prelu' && epi.slope?.size !== Cout) throw new Error('ConcatConv: a prelu epilogue needs a slope per channel');
    this.wino.conv(w.buffer, Cout, y.buffer, { bias: b?.buffer, act: epi.act, alpha: epi.alpha, slope: epi.slope?.buffer, residual: epi.residual?.buffer });
    return y;
  }

  dispose(): void {
    this.wino?.release();
    if (this.whole && this.owned && !isGradEnabled()) this.whole.dispose();
    this.whole = null;
  }
}

export function maxPool2(x: Tensor): Tensor {
  const [N, H, W, C] = nhwc(x, 'maxPool2');
  const y = empty([N, Math.floor(H / 2), Math.floor(W / 2), C]);
  pool.maxPool2(gpu(), x.buffer, y.buffer, N, H, W, C);
  if (needsGrad(x)) {
    record({
      name: 'maxPool2', inputs: [x], output: y,
      backward: (g) => {
        const dx = empty(x.shape);
        pool.maxPool2Backward(gpu(), x.buffer, g.buffer, dx.buffer, N, H, W, C);
        return [dx];
      },
    });
  }
  return y;
}

// ---- dense -----------------------------------------------------------------------------------

/** y[B,out] = x[B,in]·W[in,out] + b. x of any shape [B, ...] is read as [B, in]. */
export function linear(x: Tensor, w: Tensor, b: Tensor | null): Tensor {
  const [inF, outF] = w.shape;
  const B = x.shape[0];
  if (x.size !== B * inF) throw new Error(`linear: input [${x.shape}] does not have ${inF} features per sample`);
  const y = empty([B, outF]);
  const g = gpu();
  mm.matmul(g, x.buffer, w.buffer, y.buffer, B, outF, inF, b ? { bias: b.buffer } : {});
  if (needsGrad(x, w, b)) {
    record({
      name: 'linear', inputs: b ? [x, w, b] : [x, w], output: y,
      backward: (gy) => {
        let dx: Tensor | null = null, dw: Tensor | null = null, db: Tensor | null = null;
        if (x.requiresGrad) { dx = empty(x.shape); mm.matmul(g, gy.buffer, w.buffer, dx.buffer, B, inF, outF, { transB: true }); }
        if (w.requiresGrad) { dw = empty(w.shape); mm.matmul(g, x.buffer, gy.buffer, dw.buffer, inF, outF, B, { transA: true }); }
        if (b?.requiresGrad) { db = empty(b.shape); red.columnSums(g, gy.buffer, db.buffer, B, outF); }
        return b ? [dx, dw, db] : [dx, dw];
      },
    });
  }
  return y;
}

// ---- reductions and losses ---------------------------------------------------------------

export function mean(x: Tensor): Tensor {
  const y = empty([1]);
  red.sumAll(gpu(), x.buffer, y.buffer, x.size, 1 / x.size);
  if (needsGrad(x)) {
    record({
      name: 'mean', inputs: [x], output: y,
      backward: (g) => {
        const dx = empty(x.shape);
        broadcastScalar(gpu(), g.buffer, dx.buffer, x.size, 1 / x.size);
        return [dx];
      },
    });
  }
  return y;
}

/** mean((a - b)^2). Gradients flow to whichever inputs need them. */
export function mseLoss(a: Tensor, b: Tensor): Tensor {
  sameShape(a, b, 'mseLoss');
  const y = empty([1]);
  loss.mseLoss(gpu(), a.buffer, b.buffer, y.buffer, a.size);
  if (needsGrad(a, b)) {
    record({
      name: 'mseLoss', inputs: [a, b], output: y,
      backward: (g) => {
        const da = empty(a.shape);
        loss.mseLossBackward(gpu(), a.buffer, b.buffer, g.buffer, da.buffer, a.size);
        return [a.requiresGrad ? da : null, b.requiresGrad ? scale(da, -1) : null];
      },
    });
  }
  return y;
}

/** mean BCE of sigmoid(logits) against a constant target, computed stably from the logits. */
export function bceWithLogits(logits: Tensor, target: number): Tensor {
  const y = empty([1]);
  loss.bceWithLogits(gpu(), logits.buffer, target, y.buffer, logits.size);
  if (needsGrad(logits)) {
    record({
      name: 'bceWithLogits', inputs: [logits], output: y,
      backward: (g) => {
        const dz = empty(logits.shape);
        loss.bceWithLogitsBackward(gpu(), logits.buffer, target, g.buffer, dz.buffer, logits.size);
        return [dz];
      },
    });
  }
  return y;
}

/**
 * mean(|a - b|), as relu(a - b) + relu(b - a): exact in float32, and its gradient is PyTorch's
 * sign(a - b) / n, 0 where a = b (both relus pass no gradient at 0).
 */
export function l1Loss(a: Tensor, b: Tensor): Tensor {
  sameShape(a, b, 'l1Loss');
  return mean(add(relu(sub(a, b)), relu(sub(b, a))));
}

/**
 * Global average pool of NHWC [N,H,W,C] -> [N,C], as the product P·X of a constant [N, N*H*W]
 * block matrix (1/(H*W) on sample n's own pixels, 0 elsewhere) with X viewed as [N*H*W, C]: the
 * matmul and its backward (dX = P^T·dY) already exist. It costs N times the MACs of a direct
 * pool, which is nothing beside the convolutions before it. (A non-finite value in one sample
 * reaches the others through 0*inf; the loss is then non-finite anyway and the run stops.)
 */
export function globalAvgPool(x: Tensor): Tensor {
  const [N, H, W, C] = nhwc(x, 'globalAvgPool');
  const HW = H * W;
  const P = new Float32Array(N * N * HW);
  for (let n = 0; n < N; n++) P.fill(1 / HW, n * N * HW + n * HW, n * N * HW + (n + 1) * HW);
  return linear(fromArray(P, [N, N * HW]), x.reshape([N * HW, C]), null);
}
