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

/**
 * Bilinear upsampling by the integer s, as PyTorch's F.interpolate(x, scale_factor=s,
 * mode='bilinear', align_corners=False) computes it: each output pixel's source position
 * (o + 0.5) / s - 0.5, clamped at 0, blended between floor and the next pixel (clamped at the edge).
 */
export function upsampleBilinearRef(x: Arr, N: number, H: number, W: number, C: number, s: number): Float64Array {
  const taps = (o: number, size: number): [number, number, number] => {
    const at = Math.max((o + 0.5) / s - 0.5, 0);
    const i0 = Math.min(Math.floor(at), size - 1);
    return [i0, Math.min(i0 + 1, size - 1), at - i0];
  };
  const y = new Float64Array(N * s * H * s * W * C);
  for (let n = 0; n < N; n++) for (let oy = 0; oy < s * H; oy++) for (let ox = 0; ox < s * W; ox++) {
    const [y0, y1, ly] = taps(oy, H), [x0, x1, lx] = taps(ox, W);
    for (let c = 0; c < C; c++) {
      const at = (yy: number, xx: number) => x[((n * H + yy) * W + xx) * C + c];
      y[((n * s * H + oy) * s * W + ox) * C + c] =
        (1 - ly) * ((1 - lx) * at(y0, x0) + lx * at(y0, x1)) + ly * ((1 - lx) * at(y1, x0) + lx * at(y1, x1));
    }
  }
  return y;
}
