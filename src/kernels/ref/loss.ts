// Float64 references of src/kernels/loss.ts, for the tests.
type Arr = ArrayLike<number>;

export function mseLossRef(a: Arr, b: Arr, n: number): number {
  let s = 0;
  for (let i = 0; i < n; i++) s += (a[i] - b[i]) ** 2;
  return s / n;
}

export function mseLossBackwardRef(a: Arr, b: Arr, dOut: number, n: number): Float64Array {
  return Float64Array.from({ length: n }, (_, i) => (dOut * 2 * (a[i] - b[i])) / n);
}

export function bceWithLogitsRef(z: Arr, t: number, n: number): number {
  let s = 0;
  for (let i = 0; i < n; i++) s += Math.max(z[i], 0) - z[i] * t + Math.log1p(Math.exp(-Math.abs(z[i])));
  return s / n;
}

const sigmoid = (v: number): number => (v >= 0 ? 1 / (1 + Math.exp(-v)) : Math.exp(v) / (1 + Math.exp(v)));

/** sigmoid(z) - t as (1 - t) sigmoid(z) - t sigmoid(-z): exact for saturated logits too. */
export function bceWithLogitsBackwardRef(z: Arr, t: number, dOut: number, n: number): Float64Array {
  return Float64Array.from({ length: n }, (_, i) => (dOut * ((1 - t) * sigmoid(z[i]) - t * sigmoid(-z[i]))) / n);
}
