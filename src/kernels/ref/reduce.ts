// Float64 references of the reductions.

/** out[0] = scale * sum(x[0..n)). */
export function sumAllRef(x: Float64Array, out: Float64Array, n: number, scale = 1): void {
  let s = 0;
  for (let i = 0; i < n; i++) s += x[i];
  out[0] = scale * s;
}

/** out[c] = sum_m x[m*C + c]. */
export function columnSumsRef(x: Float64Array, out: Float64Array, M: number, C: number): void {
  for (let c = 0; c < C; c++) {
    let s = 0;
    for (let m = 0; m < M; m++) s += x[m * C + c];
    out[c] = s;
  }
}
