// Adam (Kingma & Ba), PyTorch semantics, one fused GPU kernel per parameter.
import { gpu } from '../gpu/gpu.js';
import { adamStep } from '../kernels/adam.js';
import { Tensor, zeros } from './tensor.js';

export interface AdamOptions { lr: number; beta1?: number; beta2?: number; eps?: number }

export class Adam {
  lr: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  step = 0;
  readonly m: Tensor[];
  readonly v: Tensor[];

  constructor(readonly params: Tensor[], opts: AdamOptions) {
    this.lr = opts.lr;
    this.beta1 = opts.beta1 ?? 0.9;
    this.beta2 = opts.beta2 ?? 0.999;
    this.eps = opts.eps ?? 1e-8;
    this.m = params.map((p) => zeros(p.shape).keep());
    this.v = params.map((p) => zeros(p.shape).keep());
  }

  /** Applies one update to every parameter that has a gradient. */
  update(): void {
    this.step++;
    const g = gpu();
    this.params.forEach((p, i) => {
      if (!p.grad) return;
      adamStep(g, p.buffer, p.grad.buffer, this.m[i].buffer, this.v[i].buffer, p.size, {
        lr: this.lr, beta1: this.beta1, beta2: this.beta2, eps: this.eps, step: this.step,
      });
    });
  }

  dispose(): void {
    for (const t of [...this.m, ...this.v]) { t.persistent = false; t.dispose(); }
  }
}
