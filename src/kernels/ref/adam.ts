// Float64 reference of src/kernels/adam.ts (torch.optim.Adam's update), in place, for the tests.
import type { AdamStepOptions } from '../adam.js';

export function adamStepRef(param: Float64Array, grad: ArrayLike<number>, m: Float64Array, v: Float64Array, n: number,
  o: AdamStepOptions): void {
  const bc1 = 1 - o.beta1 ** o.step;
  const bc2 = 1 - o.beta2 ** o.step;
  for (let i = 0; i < n; i++) {
    m[i] = o.beta1 * m[i] + (1 - o.beta1) * grad[i];
    v[i] = o.beta2 * v[i] + (1 - o.beta2) * grad[i] * grad[i];
    param[i] -= (o.lr / bc1) * (m[i] / (Math.sqrt(v[i]) / Math.sqrt(bc2) + o.eps));
  }
}
