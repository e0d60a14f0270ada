// Float64 references of src/kernels/maxpool.ts, for the tests.
type Arr = ArrayLike<number>;

/** Index into x of the first maximum of output cell (n, ho, wo, c), row-major window order. */
function argmax(x: Arr, H: number, W: number, C: number, n: number, ho: number, wo: number, c: number): number {
  let best = -1;
  for (let i = 0; i < 2; i++) for (let j = 0; j < 2; j++) {
    const k = ((n * H + 2 * ho + i) * W + 2 * wo + j) * C + c;
    if (best < 0 || x[k] > x[best] || (Number.isNaN(x[k]) && !Number.isNaN(x[best]))) best = k;
  }
  return best;
}

export function maxPool2Ref(x: Arr, N: number, H: number, W: number, C: number): Float64Array {
  const Ho = Math.floor(H / 2), Wo = Math.floor(W / 2);
  const y = new Float64Array(N * Ho * Wo * C);
  let o = 0;
  for (let n = 0; n < N; n++) for (let ho = 0; ho < Ho; ho++) for (let wo = 0; wo < Wo; wo++)
    for (let c = 0; c < C; c++) y[o++] = x[argmax(x, H, W, C, n, ho, wo, c)];
  return y;
}

export function maxPool2BackwardRef(x: Arr, dy: Arr, N: number, H: number, W: number, C: number): Float64Array {
  const Ho = Math.floor(H / 2), Wo = Math.floor(W / 2);
  const dx = new Float64Array(N * H * W * C);
  let o = 0;
  for (let n = 0; n < N; n++) for (let ho = 0; ho < Ho; ho++) for (let wo = 0; wo < Wo; wo++)
    for (let c = 0; c < C; c++) dx[argmax(x, H, W, C, n, ho, wo, c)] += dy[o++];
  return dx;
}
