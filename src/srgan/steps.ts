// One training update of each phase, as the paper defines it: what the trainer runs every step and
// what the benchmark times (one description of the step). Each returns, inside a tidy scope, the
// scalar tensors to log; the caller reads them back.
import type { Adam } from '../nn/adam.js';
import type { Ema } from '../nn/ema.js';
import * as ops from '../nn/ops.js';
import { backward, fromArray, noGrad, tidy, type Tensor } from '../nn/tensor.js';
import type { AnyGenerator as Generator } from './generator.js';
import type { Discriminator } from './discriminator.js';
import type { VGG19Features } from './vgg19.js';
import type { TrainConfig } from './config.js';

export interface Phase1Models { G: Generator; optG: Adam; ema?: Ema | null; pixelLoss: 'mse' | 'l1' }
export interface Phase2Models {
  G: Generator; D: Discriminator; vgg: VGG19Features; optG: Adam; optD: Adam; ema?: Ema | null;
  contentScale: number; advWeight: number;
  /** > 0: a pixel loss of this weight joins the generator's loss (ESRGAN's recipe; the paper has none). */
  pixelWeight?: number; pixelLoss?: 'mse' | 'l1';
  /**
   * > 0: an L1 loss of this weight between 4x4 box averages of SR and HR joins the generator's loss:
   * it holds colours and brightness (what a discriminator can push astray) and leaves the detail
   * inside each 4x4 block free.
   */
  lowWeight?: number;
  /**
   * > 0: an L1 loss of this weight between the chroma (BT.601 Cb and Cr) of SR and HR, pixel by
   * pixel, joins the generator's loss: the detail it invents stays in the luminance, where photographs
   * hold their texture, instead of coloured speckle, and colours stay put; Y is left free.
   */
  chromaWeight?: number;
  /**
   * > 0: an L1 loss of this weight between the 16 phase means of SR's and HR's high-pass residual
   * (gridPhases) joins the generator's loss: a pattern repeating every 4 pixels, the dot grid a
   * sub-pixel tail can draw under the adversarial loss, moves those means; natural detail does not.
   */
  gridWeight?: number;
}

/** The generator loss's weights of phase 2 as a run configuration sets them (the trainer's and the profiler's step). */
export function phase2Weights(cfg: TrainConfig): Pick<Phase2Models,
  'contentScale' | 'advWeight' | 'pixelWeight' | 'pixelLoss' | 'lowWeight' | 'chromaWeight' | 'gridWeight'> {
  return {
    contentScale: cfg.contentScale, advWeight: cfg.advWeight, pixelWeight: cfg.pixelWeight2, pixelLoss: cfg.pixelLoss,
    lowWeight: cfg.lowWeight2, chromaWeight: cfg.chromaWeight2, gridWeight: cfg.gridWeight2,
  };
}

/** What one phase-2 update returns (scalars, and D's logits), the optional terms when weighted. */
export interface Phase2Out {
  lossG: Tensor; content: Tensor; adversarial: Tensor; lossD: Tensor; dReal: Tensor; dFake: Tensor;
  pixel?: Tensor; low?: Tensor; chroma?: Tensor; grid?: Tensor;
}

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

/** Phase 1 (SRResNet): one pixel-loss update of G. Returns [loss]. */
export function srresnetStep(m: Phase1Models, lr: Tensor, hr: Tensor): Tensor[] {
  return tidy(() => {
    const sr = m.G.forward(lr);
    const loss = m.pixelLoss === 'l1' ? ops.l1Loss(sr, hr) : ops.mseLoss(sr, hr);
    m.G.zeroGrad();
    backward(loss);
    m.optG.update();
    m.ema?.update();
    return [loss];
  });
}

/**
 * Phase 2 (SRGAN): one generator update then one discriminator update (BasicSR's order). Returns
 * the losses, D's logits for HR and SR, and the pixel, low-frequency and chroma terms when they have weights.
 */
export function srganStep(m: Phase2Models, lr: Tensor, hr: Tensor): Phase2Out {
  const { G, D, vgg } = m;
  return tidy(() => {
    // generator: content (VGG features * contentScale, MSE) + advWeight * -log D(G(LR))
    D.setRequiresGrad(false);
    const sr = G.forward(lr);
    const fHr = noGrad(() => vgg.forward(hr));
    const content = ops.scale(ops.mseLoss(vgg.forward(sr), fHr), m.contentScale ** 2);
    const adversarial = ops.bceWithLogits(D.forward(sr), 1);
    let lossG = ops.add(content, ops.scale(adversarial, m.advWeight));
    const pixel = m.pixelWeight ? (m.pixelLoss === 'l1' ? ops.l1Loss(sr, hr) : ops.mseLoss(sr, hr)) : undefined;
    if (pixel) lossG = ops.add(lossG, ops.scale(pixel, m.pixelWeight!));
    const box = m.lowWeight ? boxWeights() : undefined;
    const low = box ? ops.l1Loss(boxAverage4(sr, box), noGrad(() => boxAverage4(hr, box))) : undefined;
    if (low) lossG = ops.add(lossG, ops.scale(low, m.lowWeight!));
    const cw = m.chromaWeight ? chromaWeights() : undefined;
    const chr = cw ? ops.l1Loss(chroma(sr, cw), noGrad(() => chroma(hr, cw))) : undefined;
    if (chr) lossG = ops.add(lossG, ops.scale(chr, m.chromaWeight!));
    const gw = m.gridWeight ? gridWeights() : undefined;
    const grid = gw ? ops.l1Loss(gridPhases(sr, gw), noGrad(() => gridPhases(hr, gw))) : undefined;
    if (grid) lossG = ops.add(lossG, ops.scale(grid, m.gridWeight!));
    G.zeroGrad();
    backward(lossG);
    m.optG.update();
    m.ema?.update();
    // discriminator: BCE(D(HR), 1) + BCE(D(SR), 0) with SR detached
    D.setRequiresGrad(true);
    const dReal = D.forward(hr);
    const dFake = D.forward(sr.detach());
    const lossD = ops.add(ops.bceWithLogits(dReal, 1), ops.bceWithLogits(dFake, 0));
    D.zeroGrad();
    backward(lossD);
    m.optD.update();
    return { lossG, content, adversarial, lossD, dReal, dFake, ...(pixel ? { pixel } : {}), ...(low ? { low } : {}), ...(chr ? { chroma: chr } : {}), ...(grid ? { grid } : {}) };
  });
}
