// One training update of each phase, as the paper defines it: what the trainer runs every step and
// what the benchmark times (one description of the step). Each returns, inside a tidy scope, the
// scalar tensors to log; the caller reads them back.
import type { Adam } from '../nn/adam.js';
import type { Ema } from '../nn/ema.js';
import * as ops from '../nn/ops.js';
import { backward, noGrad, tidy, type Tensor } from '../nn/tensor.js';
import type { AnyGenerator as Generator } from './generator.js';
import type { Discriminator } from './discriminator.js';
import type { VGG19Features } from './vgg19.js';
import type { TrainConfig } from './config.js';
import { GAN_LOSSES, PHASE2_TERMS, type GanLoss, type LossTerm } from './losses.js';

export interface Phase1Models { G: Generator; optG: Adam; ema?: Ema | null; pixelLoss: 'mse' | 'l1' }
/** The weights of phase 2's optional generator-loss terms (src/srgan/losses.ts), by config entry; absent = 0. */
export type TermWeights = Partial<Record<LossTerm['setting'], number>>;

export interface Phase2Models {
  G: Generator; D: Discriminator; vgg: VGG19Features; optG: Adam; optD: Adam; ema?: Ema | null;
  contentScale: number; advWeight: number;
  /** The optional terms' weights: each term with a weight above 0 joins the generator's loss. */
  weights?: TermWeights;
  /** The pixel term's kind (the run's pixelLoss). */
  pixelLoss?: 'mse' | 'l1';
  /** The adversarial losses: 'vanilla' (the paper's, the default) or 'ragan' (ESRGAN's relativistic average). */
  ganLoss?: GanLoss;
  /** The content loss on the last VGG conv's output before its ReLU (ESRGAN), not after (the paper). */
  vggBeforeRelu?: boolean;
}

/** The generator loss's weights of phase 2 as a run configuration sets them (the trainer's and the profiler's step). */
export function phase2Weights(cfg: TrainConfig): Pick<Phase2Models, 'contentScale' | 'advWeight' | 'weights' | 'pixelLoss' | 'ganLoss' | 'vggBeforeRelu'> {
  return {
    contentScale: cfg.contentScale, advWeight: cfg.advWeight, pixelLoss: cfg.pixelLoss, ganLoss: cfg.ganLoss,
    vggBeforeRelu: cfg.vggActivation === 'before',
    weights: Object.fromEntries(PHASE2_TERMS.map((t) => [t.setting, cfg[t.setting]])),
  };
}

/** What one phase-2 update returns (scalars, and D's logits), the optional terms when weighted. */
export interface Phase2Out {
  lossG: Tensor; content: Tensor; adversarial: Tensor; lossD: Tensor; dReal: Tensor; dFake: Tensor;
  pixel?: Tensor; low?: Tensor; chroma?: Tensor; grid?: Tensor; block?: Tensor;
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
    const pre = m.vggBeforeRelu ?? false, gan = GAN_LOSSES[m.ganLoss ?? 'vanilla'];
    const fHr = noGrad(() => vgg.forward(hr, undefined, pre));
    const content = ops.scale(ops.mseLoss(vgg.forward(sr, undefined, pre), fHr), m.contentScale ** 2);
    // D is frozen here: D(HR) takes no gradient, and only the relativistic loss needs it
    const adversarial = gan.generator(gan.needsHrForG ? noGrad(() => D.forward(hr)) : null, D.forward(sr));
    let lossG = ops.add(content, ops.scale(adversarial, m.advWeight));
    // the optional terms, in the table's order, each with its weight
    const terms: Partial<Record<LossTerm['key'], Tensor>> = {};
    for (const t of PHASE2_TERMS) {
      const w = m.weights?.[t.setting] ?? 0;
      if (!(w > 0)) continue;
      const v = t.compute(sr, hr, m.pixelLoss ?? 'mse');
      terms[t.key] = v;
      lossG = ops.add(lossG, ops.scale(v, w));
    }
    G.zeroGrad();
    backward(lossG);
    m.optG.update();
    m.ema?.update();
    // discriminator: BCE(D(HR), 1) + BCE(D(SR), 0) with SR detached
    D.setRequiresGrad(true);
    const dReal = D.forward(hr);
    const dFake = D.forward(sr.detach());
    const lossD = gan.discriminator(dReal, dFake);
    D.zeroGrad();
    backward(lossD);
    m.optD.update();
    return { lossG, content, adversarial, lossD, dReal, dFake, ...terms };
  });
}
