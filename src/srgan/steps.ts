// One training update of each phase, as the paper defines it: what the trainer runs every step and
// what the benchmark times (one description of the step). Each returns, inside a tidy scope, the
// scalar tensors to log; the caller reads them back.
import type { Adam } from '../nn/adam.js';
import type { Ema } from '../nn/ema.js';
import * as ops from '../nn/ops.js';
import { backward, fromArray, noGrad, tidy, type Tensor } from '../nn/tensor.js';
import type { Generator } from './generator.js';
import type { Discriminator } from './discriminator.js';
import type { VGG19Features } from './vgg19.js';

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
}

/** What one phase-2 update returns (scalars, and D's logits), the optional terms when weighted. */
export interface Phase2Out {
  lossG: Tensor; content: Tensor; adversarial: Tensor; lossD: Tensor; dReal: Tensor; dFake: Tensor;
  pixel?: Tensor; low?: Tensor; chroma?: Tensor;
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
    return { lossG, content, adversarial, lossD, dReal, dFake, ...(pixel ? { pixel } : {}), ...(low ? { low } : {}), ...(chr ? { chroma: chr } : {}) };
  });
}
