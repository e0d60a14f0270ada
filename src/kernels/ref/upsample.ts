// Float64 references of src/kernels/upsample.ts, for the tests: loops over the output pixels
// (the kernel loops over the input's), each reading its source pixel at (floor(y/2), floor(x/2)).
type Arr = ArrayLike<number>;

export function upsampleNearest2Ref(x: Arr, N: number, H: number, W: number, C: number): Float64Array {
  const y = new Float64Array(N * 4 * H * W * C);
  for (let n = 0; n < N; n++) for (let oy = 0; oy < 2 * H; oy++) for (let ox = 0; ox < 2 * W; ox++)
    for (let c = 0; c < C; c++) y[((n * 2 * H + oy) * 2 * W + ox) * C + c] = x[((n * H + Math.floor(oy / 2)) * W + Math.floor(ox / 2)) * C + c];
  return y;
}

export function upsampleNearest2BackwardRef(dy: Arr, N: number, H: number, W: number, C: number): Float64Array {
  const dx = new Float64Array(N * H * W * C);
  for (let n = 0; n < N; n++) for (let oy = 0; oy < 2 * H; oy++) for (let ox = 0; ox < 2 * W; ox++)
    for (let c = 0; c < C; c++) dx[((n * H + Math.floor(oy / 2)) * W + Math.floor(ox / 2)) * C + c] += dy[((n * 2 * H + oy) * 2 * W + ox) * C + c];
  return dx;
}
