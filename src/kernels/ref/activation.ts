// Float64 references of src/kernels/activation.ts, for the tests.
import type { PointwiseAct } from '../activation.js';

type Arr = ArrayLike<number>;

export function activationRef(kind: PointwiseAct, x: Arr, n: number, alpha = 0.2): Float64Array {
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const v = x[i];
    switch (kind) {
      case 'relu': y[i] = v > 0 ? v : 0; break;
      case 'lrelu': y[i] = v > 0 ? v : alpha * v; break;
      case 'tanh': y[i] = Math.tanh(v); break;
      case 'sigmoid': y[i] = 1 / (1 + Math.exp(-v)); break;
    }
  }
  return y;
}

export function activationBackwardRef(kind: PointwiseAct, x: Arr, y: Arr, dy: Arr, n: number, alpha = 0.2): Float64Array {
  const dx = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    switch (kind) {
      case 'relu': dx[i] = x[i] > 0 ? dy[i] : 0; break;
      case 'lrelu': dx[i] = x[i] > 0 ? dy[i] : alpha * dy[i]; break;
      case 'tanh': dx[i] = dy[i] * (1 - y[i] * y[i]); break;
      case 'sigmoid': dx[i] = dy[i] * y[i] * (1 - y[i]); break;
    }
  }
  return dx;
}

export function preluRef(x: Arr, slope: Arr, n: number, C: number): Float64Array {
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) y[i] = x[i] > 0 ? x[i] : slope[i % C] * x[i];
  return y;
}

export function preluBackwardRef(x: Arr, slope: Arr, dy: Arr, n: number, C: number): { dx: Float64Array; dslope: Float64Array } {
  const dx = new Float64Array(n);
  const dslope = new Float64Array(C);
  for (let i = 0; i < n; i++) {
    const c = i % C;
    if (x[i] > 0) dx[i] = dy[i];
    else { dx[i] = slope[c] * dy[i]; dslope[c] += dy[i] * x[i]; }
  }
  return { dx, dslope };
}
