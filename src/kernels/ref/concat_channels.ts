// Float64 reference of the channel concatenation (src/kernels/concat_channels.ts) and its gradient.
type Arr = ArrayLike<number>;

/** NHWC tensors of P pixels and channels cs[i] -> [P, sum cs], each input's channels in order. */
export function concatChannelsRef(xs: Arr[], P: number, cs: number[]): Float64Array {
  const C = cs.reduce((a, b) => a + b, 0), y = new Float64Array(P * C);
  for (let p = 0; p < P; p++) {
    let off = 0;
    xs.forEach((x, i) => { for (let c = 0; c < cs[i]; c++) y[p * C + off + c] = x[p * cs[i] + c]; off += cs[i]; });
  }
  return y;
}

/** The gradient of each input: its channels of dy. */
export function concatChannelsBackwardRef(dy: Arr, P: number, cs: number[]): Float64Array[] {
  const C = cs.reduce((a, b) => a + b, 0);
  let off = 0;
  return cs.map((ci) => {
    const d = new Float64Array(P * ci);
    for (let p = 0; p < P; p++) for (let c = 0; c < ci; c++) d[p * ci + c] = dy[p * C + off + c];
    off += ci;
    return d;
  });
}
