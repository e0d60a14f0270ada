// The optional terms of phase 2's generator loss, one entry each: the config entry that weights it,
// the name it is logged under, what it is for (the help text), and how it is computed from SR and
// HR (HR's side without gradients). The step, the trainer's log, the config's defaults and rules,
// train.js's help and the bench all read this table: a new term is one entry here and one test.
// The paper's two terms (VGG content and adversarial) are the step itself and are not listed.
import * as ops from '../nn/ops.js';
import { fromArray, noGrad, type Tensor } from '../nn/tensor.js';

/** The box filter's weights, HWIO [5, 5, 3, 3] (225 floats, uploaded once per step). */
const BOX_WEIGHTS = (() => {
  const w = new Float32Array(5 * 5 * 3 * 3);
  for (let kh = 1; kh < 5; kh++) for (let kw = 1; kw < 5; kw++) for (let c = 0; c < 3; c++) w[((kh * 5 + kw) * 3 + c) * 3 + c] = 1 / 16;
  return w;
})();

/**
 * RGB [N, H, W, 3] -> its 4x4 box averages [N, ceil(H/4), ceil(W/4), 3], as a stride-4 5x5 conv
 * whose taps 1..4 (offsets -1..2) hold 1/16 from each channel to itself: block i covers rows and
 * columns 4i-1 .. 4i+2 (zero outside the image, the same for SR and HR).
 */
export function boxAverage4(x: Tensor, weights = boxWeights()): Tensor {
  return ops.conv2d(x, weights, null, 4);
}

/** The box filter as a tensor, to share between the calls of one step. */
export function boxWeights(): Tensor {
  return fromArray(BOX_WEIGHTS, [5, 5, 3, 3]);
}

/** BT.601 RGB -> (Cb, Cr) as a 1x1 conv, HWIO [1, 1, 3, 2] (the offset dropped: only differences are taken). */
const CHROMA_WEIGHTS = new Float32Array([
  -0.168736, 0.5, // R -> Cb, Cr
  -0.331264, -0.418688, // G
  0.5, -0.081312, // B
]);

/** RGB [N, H, W, 3] -> its BT.601 chroma [N, H, W, 2] (Cb, Cr without their offset). */
export function chroma(x: Tensor, weights = chromaWeights()): Tensor {
  return ops.conv2d(x, weights, null, 1);
}

/** The chroma transform as a tensor. */
export function chromaWeights(): Tensor {
  return fromArray(CHROMA_WEIGHTS, [1, 1, 3, 2]);
}

/**
 * The grid-phase filter, HWIO [9, 9, 3, 48], for a stride-4 conv: output channel (4p + q) * 3 + c of
 * block (i, j) is the high-pass residual r = x - blur(x) of channel c at pixel (4i + p, 4j + q), with
 * blur the 3x3 binomial filter ([1 2 1] / 4 both ways, zeros outside the image). Taps 3..8 of the 9
 * (offsets -1..4 from the block's corner) cover the 16 pixels' 3x3 neighbourhoods.
 */
const GRID_WEIGHTS = (() => {
  const w = new Float32Array(9 * 9 * 3 * 48);
  const bin = [1, 2, 1];
  for (let p = 0; p < 4; p++) for (let q = 0; q < 4; q++) for (let u = 0; u < 3; u++) for (let v = 0; v < 3; v++) {
    const h = (u === 1 && v === 1 ? 1 : 0) - (bin[u] * bin[v]) / 16;
    for (let c = 0; c < 3; c++) w[(((p + u + 3) * 9 + (q + v + 3)) * 3 + c) * 48 + (4 * p + q) * 3 + c] = h;
  }
  return w;
})();

/**
 * RGB [N, H, W, 3] (H, W multiples of 4, at least 12) -> [N, 48]: the mean over the 4x4 blocks of
 * the high-pass residual at each of the 16 positions in a block, per channel. The outer ring of
 * blocks is left out, so that the image's edge (where the blur meets zeros) adds nothing: the means
 * are then zero for a constant image and close to zero for natural detail, which has no preferred
 * phase, while a pattern that repeats every 4 pixels (a dot grid) moves them.
 */
export function gridPhases(x: Tensor, weights = gridWeights()): Tensor {
  const [N, H, W] = x.shape;
  if (H % 4 || W % 4 || H < 12 || W < 12) throw new Error(`gridPhases: ${H}x${W} is not a multiple of 4 both ways, 12 or more`);
  const r = ops.conv2d(x, weights, null, 4); // [N, H/4, W/4, 48]
  const Hb = H / 4, Wb = W / 4, B = Hb * Wb;
  const P = new Float32Array(N * N * B);
  for (let n = 0; n < N; n++) for (let i = 1; i < Hb - 1; i++) P.fill(1 / ((Hb - 2) * (Wb - 2)), n * N * B + n * B + i * Wb + 1, n * N * B + n * B + (i + 1) * Wb - 1);
  return ops.linear(fromArray(P, [N, N * B]), r.reshape([N * B, 48]), null);
}

/** The grid-phase filter as a tensor. */
export function gridWeights(): Tensor {
  return fromArray(GRID_WEIGHTS, [9, 9, 3, 48]);
}

/** The JPEG block period at x4: an 8x8 block of the LR input covers 32x32 output pixels. */
export const BLOCK_PERIOD = 32;
/** BT.601 luma weights (the eval's Y, without its offset and range). */
const LUMA = [0.299, 0.587, 0.114];

/** The luma step filter, HWIO [3, 3, 3, 2]: channel 0 Y(x + 1) - Y(x), channel 1 Y(y + 1) - Y(y). */
const STEP_WEIGHTS = (() => {
  const w = new Float32Array(3 * 3 * 3 * 2);
  for (let c = 0; c < 3; c++) {
    w[((1 * 3 + 2) * 3 + c) * 2 + 0] = LUMA[c]; w[((1 * 3 + 1) * 3 + c) * 2 + 0] -= LUMA[c];
    w[((2 * 3 + 1) * 3 + c) * 2 + 1] = LUMA[c]; w[((1 * 3 + 1) * 3 + c) * 2 + 1] -= LUMA[c];
  }
  return w;
})();

/**
 * RGB [N, H, W, 3] (H, W multiples of 32) -> [1, 64]: the batch's block profile. Entries 0..31:
 * the mean squared horizontal luma step between columns x and x + 1 over the columns with
 * x mod 32 = p over all the images, less the mean of those 32; 32..63: the same for vertical steps
 * by row. The batch is pooled because one crop's profile is mostly the sampling noise of its
 * texture (its phases are a few dozen columns each), while a batch's JPEG grids mostly share their
 * phase (a web thumbnail's LR is its crop's own; the real-world model's crops sit 16 pixels into the
 * degraded region wherever the photograph has the room). Natural
 * detail has no preferred phase (a flat profile, 0 after centring whatever its sharpness);
 * the 8x8 blocks of a JPEG input, redrawn at x4, put their edges at one phase of each, which then
 * stands out (the loss-side twin of eval.js's blockiness). The steps into the zero padding past the
 * last column and row are left out.
 */
export function blockPhases(x: Tensor): Tensor {
  const [N, H, W] = x.shape, P = BLOCK_PERIOD;
  if (H % P || W % P) throw new Error(`blockPhases: ${H}x${W} is not a multiple of ${P} both ways`);
  const mask = new Float32Array(N * H * W * 2);
  for (let n = 0; n < N; n++) for (let y = 0; y < H; y++) for (let i = 0; i < W; i++) {
    const o = ((n * H + y) * W + i) * 2;
    mask[o] = i < W - 1 ? 1 : 0; mask[o + 1] = y < H - 1 ? 1 : 0;
  }
  const d = ops.mul(ops.conv2d(x, fromArray(STEP_WEIGHTS, [3, 3, 3, 2]), null, 1), fromArray(mask, [N, H, W, 2]));
  const sq = ops.mul(d, d).reshape([N * H, W * 2]);
  const pooled = (rows: number, scale: number) => fromArray(new Float32Array(N * rows).fill(scale), [1, N * rows]);
  const pick = (rows: number, cols: number, at: (r: number) => number) => {
    const m = new Float32Array(rows * cols);
    for (let r = 0; r < rows; r++) { const c = at(r); if (c >= 0) m[r * cols + c] = 1; }
    return fromArray(m, [rows, cols]);
  };
  // columns: sum all rows, fold the columns by phase, keep channel 0
  const cols = ops.linear(pooled(H, 1), sq, null).reshape([W / P, P * 2]);
  const byCol = ops.linear(ops.linear(fromArray(new Float32Array(W / P).fill(1 / (N * H * W / P)), [1, W / P]), cols, null), pick(P * 2, P, (r) => (r % 2 === 0 ? r / 2 : -1)), null);
  // rows: sum each row's channel-1 steps, fold the rows by phase
  const rows = ops.linear(sq, pick(W * 2, 1, (r) => (r % 2 === 1 ? 0 : -1)), null).reshape([N * (H / P), P]);
  const byRow = ops.linear(pooled(H / P, 1 / (N * H * W / P)), rows, null);
  // each profile less its own mean: what is left is how the steps vary with the phase (a grid), not
  // how large they are (how sharp the image is, which the other terms judge)
  const centre = fromArray(Float32Array.from({ length: P * P }, (_, i) => (Math.floor(i / P) === i % P ? 1 : 0) - 1 / P), [P, P]);
  return ops.concatChannels([ops.linear(byCol, centre, null).reshape([1, 1, 1, P]), ops.linear(byRow, centre, null).reshape([1, 1, 1, P])]).reshape([1, 2 * P]);
}

export interface LossTerm {
  /** The config entry of its weight (0 = off, the default for every term). */
  setting: 'pixelWeight2' | 'lowWeight2' | 'chromaWeight2' | 'gridWeight2' | 'blockWeight2';
  /** The key of Phase2Out it returns under; the log's name is `logName` (the pixel term logs as its kind). */
  key: 'pixel' | 'low' | 'chroma' | 'grid' | 'block';
  /** One line for --help. */
  doc: string;
  /** The term for SR (with gradients) and HR (without); `pixelLoss` is the run's pixel loss kind. */
  compute(sr: Tensor, hr: Tensor, pixelLoss: 'mse' | 'l1'): Tensor;
}

export const PHASE2_TERMS: readonly LossTerm[] = [
  {
    setting: 'pixelWeight2', key: 'pixel',
    doc: "a pixel loss (pixelLoss's kind) in phase 2's generator loss, as ESRGAN (0.01 with L1)",
    compute: (sr, hr, kind) => (kind === 'l1' ? ops.l1Loss(sr, hr) : ops.mseLoss(sr, hr)),
  },
  {
    setting: 'lowWeight2', key: 'low',
    doc: 'an L1 loss between 4x4 box averages of SR and HR: holds colours and brightness, leaves the detail inside each block free',
    compute: (sr, hr) => { const w = boxWeights(); return ops.l1Loss(boxAverage4(sr, w), noGrad(() => boxAverage4(hr, w))); },
  },
  {
    setting: 'chromaWeight2', key: 'chroma',
    doc: 'an L1 loss between the BT.601 chroma (Cb, Cr) of SR and HR per pixel: invented detail goes into Y, not coloured speckle',
    compute: (sr, hr) => { const w = chromaWeights(); return ops.l1Loss(chroma(sr, w), noGrad(() => chroma(hr, w))); },
  },
  {
    setting: 'gridWeight2', key: 'grid',
    doc: "an L1 loss between the 16 phase means (every 4 pixels) of SR's and HR's high-pass residual: against the dot grid a pixel-shuffle tail can draw",
    compute: (sr, hr) => { const w = gridWeights(); return ops.l1Loss(gridPhases(sr, w), noGrad(() => gridPhases(hr, w))); },
  },
  {
    setting: 'blockWeight2', key: 'block',
    doc: "an L1 loss between the block profiles (squared luma steps by phase every 32 pixels, a JPEG block at x4, less their mean) of SR and HR: against JPEG blocks redrawn at x4 (crop a multiple of 32)",
    compute: (sr, hr) => ops.l1Loss(blockPhases(sr), noGrad(() => blockPhases(hr))),
  },
];

/**
 * ESRGAN's relativistic average logits: a - mean(b) for each sample (a, b: [N, 1] logits), the
 * mean as a product with a constant -1/N matrix, so that gradients reach both a and b.
 */
export function relativistic(a: Tensor, b: Tensor): Tensor {
  const N = a.shape[0];
  if (b.size !== N || a.size !== N) throw new Error(`relativistic: [${a.shape}] and [${b.shape}] are not one logit per sample of one batch`);
  return ops.add(a, ops.linear(fromArray(new Float32Array(N * N).fill(-1 / N), [N, N]), b.reshape([N, 1]), null).reshape(a.shape));
}

/**
 * The adversarial losses of a run's GAN kind. 'vanilla' (the paper's): G's -log D(SR), D's BCE of
 * HR as real and SR as fake. 'ragan' (ESRGAN's relativistic average GAN): each side judges whether
 * real looks more real than fake on average: D's (BCE(D(HR) - mean D(SR), 1) + BCE(D(SR) - mean D(HR), 0)) / 2,
 * G's the same with the targets swapped (so G also learns from the real images' logits).
 */
export const GAN_LOSSES = {
  vanilla: {
    generator: (_dHr: Tensor | null, dSr: Tensor) => ops.bceWithLogits(dSr, 1),
    discriminator: (dHr: Tensor, dSr: Tensor) => ops.add(ops.bceWithLogits(dHr, 1), ops.bceWithLogits(dSr, 0)),
    needsHrForG: false,
  },
  ragan: {
    generator: (dHr: Tensor | null, dSr: Tensor) => ops.scale(ops.add(ops.bceWithLogits(relativistic(dHr!, dSr), 0), ops.bceWithLogits(relativistic(dSr, dHr!), 1)), 0.5),
    discriminator: (dHr: Tensor, dSr: Tensor) => ops.scale(ops.add(ops.bceWithLogits(relativistic(dHr, dSr), 1), ops.bceWithLogits(relativistic(dSr, dHr), 0)), 0.5),
    needsHrForG: true,
  },
} as const;
export type GanLoss = keyof typeof GAN_LOSSES;

/** The name a term is logged under: the pixel term as its kind ('l1' or 'mse'), the others by key. */
export const logName = (t: LossTerm, pixelLoss: 'mse' | 'l1'): string => (t.key === 'pixel' ? pixelLoss : t.key);
