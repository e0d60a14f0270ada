// Float64 references of src/kernels/elementwise.ts, for the tests.
type Arr = ArrayLike<number>;

const map = (n: number, f: (i: number) => number): Float64Array => Float64Array.from({ length: n }, (_, i) => f(i));

export const addRef = (a: Arr, b: Arr, n: number): Float64Array => map(n, (i) => a[i] + b[i]);
export const addScaledRef = (a: Arr, b: Arr, n: number, alpha: number, beta: number): Float64Array =>
  map(n, (i) => alpha * a[i] + beta * b[i]);
export const mulRef = (a: Arr, b: Arr, n: number): Float64Array => map(n, (i) => a[i] * b[i]);
export const scaleRef = (a: Arr, n: number, s: number): Float64Array => map(n, (i) => s * a[i]);
export const fillRef = (n: number, value: number): Float64Array => new Float64Array(n).fill(value);
export const copyRef = (src: Arr, n: number): Float64Array => map(n, (i) => src[i]);
/** acc += x, in place. */
export function accumulateRef(acc: Float64Array, x: Arr, n: number): void {
  for (let i = 0; i < n; i++) acc[i] += x[i];
}
