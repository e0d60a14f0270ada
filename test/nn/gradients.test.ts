// Tape-level gradient checks: for every op of src/nn/ops.ts with a backward rule, a scalar loss is
// built through the op on the GPU, backward() runs, and each input's gradient is compared with
// central finite differences of the same loss evaluated in float64 on the CPU (the references of
// src/kernels/ref; plain loops for the composites l1Loss and globalAvgPool, which have no kernel).
// This checks the wiring the kernel tests cannot see: which kernel gets which operand, transposes,
// signs and scales in the rules, gradients of every input, and accumulation through the tape.
//
// Ops whose output is not a scalar are read through loss = sum(y * r), r fixed and random, so every
// output element carries a different weight. Inputs are float32 values (the reference sees what the
// GPU sees), shapes awkward (odd sizes, batch > 1, channels not multiples of 4), never zero.
//
// Tolerance: |got - fd| <= 1e-4 |fd| + 1e-4 max|fd| per input. The FD side is float64 with h = 1e-6
// (truncation ~h^2, rounding ~1e-16 |loss| / h: both far below); the GPU side is float32: measured
// on lavapipe, the worst error is 3e-6 of the largest entry (Winograd's input gradient), 3e-7 for
// the other ops. A wrong rule is off by O(1) (a sign, a factor, a swapped operand, a missing term).
// Ops with kinks (relu, leaky relu, PReLU, max pool, L1) get inputs kept well away from them, so
// that x +- h never crosses one.
import { describe, it, expect } from 'vitest';
import { testGpu, uniform, rng, finiteDiff, expectClose } from '../helpers.js';
import { Tensor, fromArray, backward, tidy } from '../../src/nn/tensor.js';
import * as ops from '../../src/nn/ops.js';
import type { PointwiseAct } from '../../src/kernels/activation.js';
import { activationRef, preluRef } from '../../src/kernels/ref/activation.js';
import { addScaledRef, scaleRef } from '../../src/kernels/ref/elementwise.js';
import { matmulRef } from '../../src/kernels/ref/matmul.js';
import { conv2dForwardRef } from '../../src/kernels/ref/conv2d.js';
import { batchNormTrainRef } from '../../src/kernels/ref/batchnorm.js';
import { pixelShuffleRef, pixelUnshuffleRef } from '../../src/kernels/ref/pixel_shuffle.js';
import { upsampleNearest2Ref } from '../../src/kernels/ref/upsample.js';
import { maxPool2Ref } from '../../src/kernels/ref/maxpool.js';
import { concatChannelsRef } from '../../src/kernels/ref/concat_channels.js';
import { mseLossRef, bceWithLogitsRef } from '../../src/kernels/ref/loss.js';
import type { ConvShape } from '../../src/kernels/conv2d.js';

await testGpu();

const H_FD = 1e-6;
const RTOL = 1e-4, ATOL_OF_MAX = 1e-4;
/** Entries checked per input at most (finite differences cost two float64 evaluations each). */
const MAX_ENTRIES = 48;

const f32 = (a: ArrayLike<number>): Float64Array => Float64Array.from(Float32Array.from(a));
const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);
/** Uniform float32 values in [lo, hi) with |v| >= gap: no zeros, and no kink within reach of h. */
const values = (n: number, seed: number, lo = -1, hi = 1, gap = 1e-2): Float64Array =>
  f32(uniform(n, seed, lo, hi).map((v) => (Math.abs(v) < gap ? (v < 0 ? -gap : gap) : v)));
/** A random permutation of n evenly spaced values in (-1, 1): ties (max pool) are 2/n apart. */
function spaced(n: number, seed: number): Float64Array {
  const r = rng(seed), v = Float64Array.from({ length: n }, (_, i) => ((i + 0.5) / n) * 2 - 1);
  for (let i = n - 1; i > 0; i--) { const j = Math.floor(r() * (i + 1)); [v[i], v[j]] = [v[j], v[i]]; }
  return f32(v);
}
/** Which entries to check: all of a small input, else the first, the last and a seeded sample. */
function entries(n: number, seed: number): number[] {
  if (n <= MAX_ENTRIES) return Array.from({ length: n }, (_, i) => i);
  const r = rng(seed), set = new Set([0, n - 1]);
  while (set.size < MAX_ENTRIES) set.add(Math.floor(r() * n));
  return [...set].sort((a, b) => a - b);
}

interface Input { shape: number[]; data: Float64Array }
const input = (shape: number[], data: Float64Array): Input => {
  if (data.length !== size(shape)) throw new Error(`input: ${data.length} values for [${shape}]`);
  return { shape, data };
};

/** sum(y * r) on the GPU, r a fixed tensor (no gradient): the scalar that reads every output. */
const dot = (y: Tensor, r: Float64Array): Tensor => ops.scale(ops.mean(ops.mul(y, fromArray(r, y.shape))), y.size);
const dotRef = (y: ArrayLike<number>, r: Float64Array): number => {
  let s = 0;
  for (let i = 0; i < r.length; i++) s += y[i] * r[i];
  return s;
};

/**
 * Backward on the GPU of `gpuLoss` (a scalar built from leaves holding `inputs`) vs central finite
 * differences of `refLoss` (the same loss in float64) for each input; also the forward value.
 */
async function gradCheck(what: string, inputs: Input[], gpuLoss: (xs: Tensor[]) => Tensor,
  refLoss: (xs: Float64Array[]) => number): Promise<void> {
  const [loss, ...grads] = await tidy(() => {
    const xs = inputs.map((i) => fromArray(i.data, i.shape, true));
    const l = gpuLoss(xs);
    expect(l.size, `${what}: loss is not a scalar`).toBe(1);
    backward(l);
    return Promise.all([l.data(), ...xs.map((x, k) => {
      if (!x.grad) throw new Error(`${what}: input ${k} received no gradient`);
      return x.grad.data();
    })]);
  });
  const want = refLoss(inputs.map((i) => i.data));
  expectClose(loss, [want], 1e-4, 1e-4 * Math.max(1, Math.abs(want)), `${what}: forward`);
  inputs.forEach((inp, k) => {
    const idx = entries(inp.data.length, 100 + k);
    const fd = finiteDiff((v) => refLoss(inputs.map((o, j) => (j === k ? v : o.data))), inp.data, idx, H_FD);
    const scale = Math.max(...fd.map(Math.abs));
    expect(scale, `${what}: d/d input ${k} is zero everywhere checked (a useless check)`).toBeGreaterThan(0);
    expectClose(idx.map((i) => grads[k][i]), fd, RTOL, ATOL_OF_MAX * scale, `${what}: d/d input ${k}`);
  });
}

describe('gradients through the tape vs finite differences of the float64 references', () => {
  it('add, sub and scale', async () => {
    const n = 2 * 3 * 5 * 7, r = values(n, 3);
    await gradCheck('add', [input([2, 3, 5, 7], values(n, 5)), input([2, 3, 5, 7], values(n, 6))],
      ([a, b]) => dot(ops.add(a, b), r), ([a, b]) => dotRef(addScaledRef(a, b, n, 1, 1), r));
    await gradCheck('sub', [input([2, 3, 5, 7], values(n, 1)), input([2, 3, 5, 7], values(n, 2))],
      ([a, b]) => dot(ops.sub(a, b), r), ([a, b]) => dotRef(addScaledRef(a, b, n, 1, -1), r));
    await gradCheck('scale', [input([3, 37], values(111, 4))],
      ([a]) => dot(ops.scale(a, -1.75), r.subarray(0, 111)), ([a]) => dotRef(scaleRef(a, 111, -1.75), r.subarray(0, 111)));
  });

  const kinds: Array<[PointwiseAct, number?]> = [['relu'], ['lrelu', 0.2], ['lrelu', 0.07], ['sigmoid'], ['tanh']];
  for (const [kind, alpha] of kinds) {
    it(`${kind}${alpha !== undefined ? ` (alpha ${alpha})` : ''}`, async () => {
      const shape = [2, 3, 5, 3], n = size(shape), r = values(n, 12);
      const op = (x: Tensor) => kind === 'relu' ? ops.relu(x) : kind === 'lrelu' ? ops.leakyRelu(x, alpha)
        : kind === 'sigmoid' ? ops.sigmoid(x) : ops.tanh(x);
      await gradCheck(kind, [input(shape, values(n, 11, -3, 3))],
        ([x]) => dot(op(x), r), ([x]) => dotRef(activationRef(kind, x, n, alpha), r));
    });
  }

  // C = 6: the scalar slope-gradient kernel; C = 8: the vec4 one.
  for (const C of [6, 8]) {
    it(`prelu, ${C} channels`, async () => {
      const shape = [2, 5, 3, C], n = size(shape), r = values(n, 22);
      await gradCheck('prelu', [input(shape, values(n, 21)), input([C], values(C, 23, 0.05, 0.5))],
        ([x, s]) => dot(ops.prelu(x, s), r), ([x, s]) => dotRef(preluRef(x, s, n, C), r));
    });
  }

  it('linear, with and without bias, on a 4-D input read as [B, in]', async () => {
    const B = 3, inF = 2 * 1 * 5, outF = 7, r = values(B * outF, 32);
    const fwd = (x: Float64Array, w: Float64Array, b?: Float64Array) => {
      const y = new Float64Array(B * outF);
      matmulRef(x, w, y, B, outF, inF, { bias: b });
      return y;
    };
    await gradCheck('linear', [input([B, 2, 1, 5], values(B * inF, 31)), input([inF, outF], values(inF * outF, 33)), input([outF], values(outF, 34))],
      ([x, w, b]) => dot(ops.linear(x, w, b), r), ([x, w, b]) => dotRef(fwd(x, w, b), r));
    await gradCheck('linear (no bias)', [input([B, inF], values(B * inF, 35)), input([inF, outF], values(inF * outF, 36))],
      ([x, w]) => dot(ops.linear(x, w, null), r), ([x, w]) => dotRef(fwd(x, w), r));
  });

  // Direct kernels (odd channel counts, stride 2, 9x9, 1x1) and the Winograd path (3x3 stride 1,
  // channels multiples of 4).
  const convs: Array<ConvShape & { bias: boolean; what: string }> = [
    { what: '3x3 stride 1, direct', N: 2, H: 5, W: 6, Cin: 3, Cout: 5, K: 3, stride: 1, bias: true },
    { what: '3x3 stride 2', N: 2, H: 7, W: 6, Cin: 5, Cout: 6, K: 3, stride: 2, bias: true },
    { what: '9x9 (the generator\'s first and last layers)', N: 2, H: 6, W: 5, Cin: 3, Cout: 5, K: 9, stride: 1, bias: true },
    { what: '1x1 without bias', N: 3, H: 3, W: 5, Cin: 6, Cout: 3, K: 1, stride: 1, bias: false },
    { what: '3x3 stride 1, Winograd', N: 2, H: 5, W: 7, Cin: 4, Cout: 8, K: 3, stride: 1, bias: true },
  ];
  for (const c of convs) {
    it(`conv2d ${c.what}`, async () => {
      const s: ConvShape = { N: c.N, H: c.H, W: c.W, Cin: c.Cin, Cout: c.Cout, K: c.K, stride: c.stride };
      const Ho = Math.floor((c.H - 1) / c.stride) + 1, Wo = Math.floor((c.W - 1) / c.stride) + 1;
      const r = values(c.N * Ho * Wo * c.Cout, 42);
      const inputs = [
        input([c.N, c.H, c.W, c.Cin], values(c.N * c.H * c.W * c.Cin, 41)),
        input([c.K, c.K, c.Cin, c.Cout], values(c.K * c.K * c.Cin * c.Cout, 43, -0.5, 0.5)),
        ...(c.bias ? [input([c.Cout], values(c.Cout, 44))] : []),
      ];
      await gradCheck(`conv2d ${c.what}`, inputs,
        ([x, w, b]) => dot(ops.conv2d(x, w, b ?? null, c.stride), r),
        ([x, w, b]) => dotRef(conv2dForwardRef(s, x, w, b ? { bias: b } : {}), r));
    });
  }

  // The conv op's epilogue: fused in the kernel without gradients (inference), separate ops with
  // them (training). Both against the float64 reference: the gradient through the tape, and the
  // fused forward.
  const epilogues: Array<{ what: string; act: 'prelu' | 'tanh' | 'lrelu'; residual: boolean; s: ConvShape }> = [
    { what: 'prelu + residual, Winograd', act: 'prelu', residual: true, s: { N: 2, H: 5, W: 6, Cin: 4, Cout: 8, K: 3, stride: 1 } },
    { what: 'tanh, 9x9 to 3 channels', act: 'tanh', residual: false, s: { N: 1, H: 5, W: 7, Cin: 5, Cout: 3, K: 9, stride: 1 } },
    { what: 'leaky relu 0.1 + residual, direct', act: 'lrelu', residual: true, s: { N: 2, H: 4, W: 5, Cin: 3, Cout: 5, K: 3, stride: 1 } },
  ];
  for (const e of epilogues) {
    it(`conv2d with a fused epilogue: ${e.what}`, async () => {
      const { N, H, W, Cin, Cout, K } = e.s;
      const M = N * H * W * Cout;
      const r = values(M, 52);
      const inputs = [
        input([N, H, W, Cin], values(N * H * W * Cin, 51)),
        input([K, K, Cin, Cout], values(K * K * Cin * Cout, 53, -0.5, 0.5)),
        input([Cout], values(Cout, 54)),
        ...(e.act === 'prelu' ? [input([Cout], values(Cout, 55, 0.05, 0.5))] : []),
        ...(e.residual ? [input([N, H, W, Cout], values(M, 56))] : []),
      ];
      const epi = (xs: Tensor[]) => ({ act: e.act, alpha: 0.1, slope: e.act === 'prelu' ? xs[3] : undefined, residual: e.residual ? xs[xs.length - 1] : undefined });
      const ref = (xs: Float64Array[]) => conv2dForwardRef(e.s, xs[0], xs[1], {
        bias: xs[2], act: e.act, alpha: 0.1, slope: e.act === 'prelu' ? xs[3] : undefined, residual: e.residual ? xs[xs.length - 1] : undefined,
      });
      await gradCheck(`conv2d + ${e.what}`, inputs, (xs) => dot(ops.conv2d(xs[0], xs[1], xs[2], 1, epi(xs)), r), (xs) => dotRef(ref(xs), r));
      // no gradients: one fused kernel
      const fused = await tidy(() => {
        const xs = inputs.map((i) => fromArray(i.data, i.shape));
        return ops.conv2d(xs[0], xs[1], xs[2], 1, epi(xs)).data();
      });
      expectClose(fused, ref(inputs.map((i) => i.data)), 1e-5, 1e-5, `conv2d + ${e.what}: fused forward`);
    });
  }

  it('batchNorm in training mode (batch statistics)', async () => {
    const shape = [2, 3, 5, 6], C = 6, M = size(shape) / C, r = values(M * C, 52);
    const fwd = (x: Float64Array, gamma: Float64Array, beta: Float64Array) => {
      const y = new Float64Array(M * C);
      batchNormTrainRef(x, y, gamma, beta, new Float64Array(C), new Float64Array(C), new Float64Array(C), new Float64Array(C).fill(1), M, C);
      return y;
    };
    await gradCheck('batchNorm', [input(shape, values(M * C, 51, -1, 2)), input([C], values(C, 53, 0.5, 1.5)), input([C], values(C, 54))],
      ([x, gamma, beta]) => dot(ops.batchNorm(x, {
        gamma, beta, runningMean: fromArray(new Float32Array(C), [C]), runningVar: fromArray(new Float32Array(C).fill(1), [C]),
        momentum: 0.1, eps: 1e-5,
      }, true), r),
      ([x, gamma, beta]) => dotRef(fwd(x, gamma, beta), r));
  });

  for (const [shape, rr] of [[[2, 3, 2, 12], 2], [[1, 2, 3, 18], 3]] as Array<[number[], number]>) {
    it(`pixelShuffle x${rr}`, async () => {
      const [N, H, W, C] = shape, n = size(shape), r = values(n, 62);
      await gradCheck('pixelShuffle', [input(shape, values(n, 61))],
        ([x]) => dot(ops.pixelShuffle(x, rr), r), ([x]) => dotRef(pixelShuffleRef(x, N, H, W, C, rr), r));
    });
  }

  // [N, H*r, W*r, C] -> [N, H, W, C*r*r]: RGB (the x2 RRDBNet's input, the generic kernel) and 4 channels (the vector one)
  for (const [shape, rr] of [[[2, 6, 4, 3], 2], [[1, 6, 9, 4], 3], [[1, 4, 2, 8], 2]] as Array<[number[], number]>) {
    it(`pixelUnshuffle x${rr} [${shape}]`, async () => {
      const [N, Hr, Wr, C] = shape, n = size(shape), r = values(n, 63);
      // the forward copies values exactly
      const x = values(n, 66);
      const y = await tidy(() => ops.pixelUnshuffle(fromArray(x, shape), rr).data());
      expect(Array.from(y)).toEqual(Array.from(pixelUnshuffleRef(Float32Array.from(x), N, Hr / rr, Wr / rr, C, rr)));
      await gradCheck('pixelUnshuffle', [input(shape, values(n, 61))],
        ([x]) => dot(ops.pixelUnshuffle(x, rr), r), ([x]) => dotRef(pixelUnshuffleRef(x, N, Hr / rr, Wr / rr, C, rr), r));
    });
  }
  it('pixelUnshuffle refuses a size that is not a multiple of r', () => {
    expect(() => tidy(() => ops.pixelUnshuffle(fromArray(new Float32Array(5 * 4 * 3), [1, 5, 4, 3]), 2))).toThrow(/a 4x5 image is not a multiple of 2/);
  });

  // a dense block's input: channels 5, 3 and 7 (not multiples of 4), two images
  it('concatChannels [2, 3, 4, 5 | 3 | 7]', async () => {
    const [N, H, W] = [2, 3, 4], cs = [5, 3, 7], P = N * H * W, r = values(P * 15, 64);
    await gradCheck('concatChannels', cs.map((c, i) => input([N, H, W, c], values(P * c, 65 + i))),
      (xs) => dot(ops.concatChannels(xs), r), (xs) => dotRef(concatChannelsRef(xs, P, cs), r));
  });

  for (const shape of [[2, 3, 5, 3], [1, 2, 3, 8]]) {
    it(`upsampleNearest2 [${shape}]`, async () => {
      const [N, H, W, C] = shape, n = size(shape), r = values(4 * n, 64);
      await gradCheck('upsampleNearest2', [input(shape, values(n, 63))],
        ([x]) => dot(ops.upsampleNearest2(x), r), ([x]) => dotRef(upsampleNearest2Ref(x, N, H, W, C), r));
    });
  }

  it('maxPool2, odd sizes (the last row and column are dropped)', async () => {
    const [N, H, W, C] = [2, 5, 7, 3], n = N * H * W * C;
    const r = values(N * 2 * 3 * C, 72);
    await gradCheck('maxPool2', [input([N, H, W, C], spaced(n, 71))],
      ([x]) => dot(ops.maxPool2(x), r), ([x]) => dotRef(maxPool2Ref(x, N, H, W, C), r));
  });

  it('globalAvgPool', async () => {
    const [N, H, W, C] = [3, 2, 5, 6], r = values(N * C, 82);
    const pool = (x: Float64Array) => {
      const y = new Float64Array(N * C);
      for (let i = 0; i < x.length; i++) y[Math.floor(i / (H * W * C)) * C + (i % C)] += x[i] / (H * W);
      return y;
    };
    await gradCheck('globalAvgPool', [input([N, H, W, C], values(N * H * W * C, 81))],
      ([x]) => dot(ops.globalAvgPool(x), r), ([x]) => dotRef(pool(x), r));
  });

  it('mseLoss, l1Loss and bceWithLogits (both operands of the two-input losses)', async () => {
    const shape = [2, 3, 5, 3], n = size(shape);
    const a = values(n, 91), b = values(n, 92);
    await gradCheck('mseLoss', [input(shape, a), input(shape, b)],
      ([x, y]) => ops.mseLoss(x, y), ([x, y]) => mseLossRef(x, y, n));
    // |a - b| kept >= 0.02: the difference never reaches L1's kink at 0 within h
    const b1 = b.map((v, i) => (Math.abs(a[i] - v) < 0.02 ? v + 0.04 : v));
    await gradCheck('l1Loss', [input(shape, a), input(shape, f32(b1))],
      ([x, y]) => ops.l1Loss(x, y), ([x, y]) => x.reduce((s, v, i) => s + Math.abs(v - y[i]), 0) / n);
    for (const t of [0, 1, 0.3]) {
      await gradCheck(`bceWithLogits (target ${t})`, [input(shape, values(n, 93, -6, 6))],
        ([z]) => ops.bceWithLogits(z, t), ([z]) => bceWithLogitsRef(z, t, n));
    }
  });
});
