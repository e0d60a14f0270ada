// One training update of each phase, as the paper defines it: what the trainer runs every step and
// what the benchmark times (one description of the step). Each returns, inside a tidy scope, the
// scalar tensors to log; the caller reads them back.
import type { Adam } from '../nn/adam.js';
import type { Ema } from '../nn/ema.js';
import * as ops from '../nn/ops.js';
import { backward, noGrad, tidy, type Tensor } from '../nn/tensor.js';
import type { Generator } from './generator.js';
import type { Discriminator } from './discriminator.js';
import type { VGG19Features } from './vgg19.js';

export interface Phase1Models { G: Generator; optG: Adam; ema?: Ema | null; pixelLoss: 'mse' | 'l1' }
export interface Phase2Models {
  G: Generator; D: Discriminator; vgg: VGG19Features; optG: Adam; optD: Adam; ema?: Ema | null;
  contentScale: number; advWeight: number;
  /** > 0: a pixel loss of this weight joins the generator's loss (ESRGAN's recipe; the paper has none). */
  pixelWeight?: number; pixelLoss?: 'mse' | 'l1';
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
 * Phase 2 (SRGAN): one generator update then one discriminator update (BasicSR's order).
 * Returns [lossG, content, adversarial, lossD, D(HR) logits, D(SR) logits], and the pixel loss
 * when it has a weight.
 */
export function srganStep(m: Phase2Models, lr: Tensor, hr: Tensor): Tensor[] {
  const { G, D, vgg } = m;
  return tidy(() => {
    // generator: content (VGG features * contentScale, MSE) + advWeight * -log D(G(LR))
    D.setRequiresGrad(false);
    const sr = G.forward(lr);
    const fHr = noGrad(() => vgg.forward(hr));
    const content = ops.scale(ops.mseLoss(vgg.forward(sr), fHr), m.contentScale ** 2);
    const adversarial = ops.bceWithLogits(D.forward(sr), 1);
    let lossG = ops.add(content, ops.scale(adversarial, m.advWeight));
    const pixel = m.pixelWeight ? (m.pixelLoss === 'l1' ? ops.l1Loss(sr, hr) : ops.mseLoss(sr, hr)) : null;
    if (pixel) lossG = ops.add(lossG, ops.scale(pixel, m.pixelWeight!));
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
    return pixel ? [lossG, content, adversarial, lossD, dReal, dFake, pixel] : [lossG, content, adversarial, lossD, dReal, dFake];
  });
}
