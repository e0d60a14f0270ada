// Float64 reference of the dense matmul: C[M,N] = op(A)·op(B) (+ bias[N]) (+ C).
import type { MatmulOptions } from '../matmul.js';

export function matmulRef(a: Float64Array, b: Float64Array, c: Float64Array, M: number, N: number, K: number,
  opts: { transA?: boolean; transB?: boolean; bias?: Float64Array; accumulate?: boolean } = {}): void {
  const { transA = false, transB = false, bias, accumulate = false } = opts;
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let s = bias ? bias[n] : 0;
      for (let k = 0; k < K; k++) {
        s += (transA ? a[k * M + m] : a[m * K + k]) * (transB ? b[n * K + k] : b[k * N + n]);
      }
      c[m * N + n] = accumulate ? c[m * N + n] + s : s;
    }
  }
}

export type { MatmulOptions };
