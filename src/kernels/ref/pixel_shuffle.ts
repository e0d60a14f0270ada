// Float64 references of src/kernels/pixel_shuffle.ts, for the tests (written as a scatter, the
// opposite direction of the kernel's gather, so the two do not share an indexing mistake).
type Arr = ArrayLike<number>;

function eachPair(N: number, H: number, W: number, Cin: number, r: number, f: (o: number, i: number) => void): void {
  const C = Cin / (r * r);
  for (let n = 0; n < N; n++) for (let h = 0; h < H; h++) for (let w = 0; w < W; w++)
    for (let c = 0; c < C; c++) for (let i = 0; i < r; i++) for (let j = 0; j < r; j++)
      f(((n * H * r + h * r + i) * W * r + w * r + j) * C + c, ((n * H + h) * W + w) * Cin + c * r * r + i * r + j);
}

export function pixelShuffleRef(x: Arr, N: number, H: number, W: number, Cin: number, r: number): Float64Array {
  const y = new Float64Array(N * H * W * Cin);
  eachPair(N, H, W, Cin, r, (o, i) => { y[o] = x[i]; });
  return y;
}

export function pixelShuffleBackwardRef(dy: Arr, N: number, H: number, W: number, Cin: number, r: number): Float64Array {
  const dx = new Float64Array(N * H * W * Cin);
  eachPair(N, H, W, Cin, r, (o, i) => { dx[i] += dy[o]; });
  return dx;
}

/**
 * PyTorch's pixel_unshuffle, written from its definition as a gather: y [N, H, W, C*r*r] with
 * y[n, h, w, c*r*r + i*r + j] = x[n, h*r + i, w*r + j, c] for x [N, H*r, W*r, C].
 */
export function pixelUnshuffleRef(x: Arr, N: number, H: number, W: number, C: number, r: number): Float64Array {
  const Co = C * r * r, y = new Float64Array(N * H * W * Co);
  for (let n = 0; n < N; n++) for (let h = 0; h < H; h++) for (let w = 0; w < W; w++) for (let co = 0; co < Co; co++) {
    const c = Math.floor(co / (r * r)), i = Math.floor((co % (r * r)) / r), j = co % r;
    y[((n * H + h) * W + w) * Co + co] = x[((n * H * r + h * r + i) * W * r + w * r + j) * C + c];
  }
  return y;
}
