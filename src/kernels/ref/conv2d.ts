// Float64 CPU reference of the conv2d family (NHWC activations, HWIO weights, zero 'same' padding
// (K-1)/2, stride S): PyTorch's Conv2d(padding=(K-1)/2, stride=S) semantics. Plain loops, for tests.
import type { ConvShape } from '../conv2d.js';
import type { EpilogueAct } from '../activation.js';

type Arr = ArrayLike<number>;

function dims(s: ConvShape) {
  const pad = (s.K - 1) / 2;
  const Ho = Math.floor((s.H + 2 * pad - s.K) / s.stride) + 1;
  const Wo = Math.floor((s.W + 2 * pad - s.K) / s.stride) + 1;
  return { pad, Ho, Wo };
}

/** Calls f(outIndex, inIndex, weightIndex) for every multiply-add of the convolution. */
function eachTap(s: ConvShape, f: (o: number, i: number, k: number) => void): void {
  const { N, H, W, Cin, Cout, K, stride } = s;
  const { pad, Ho, Wo } = dims(s);
  for (let n = 0; n < N; n++) for (let ho = 0; ho < Ho; ho++) for (let wo = 0; wo < Wo; wo++)
    for (let kh = 0; kh < K; kh++) for (let kw = 0; kw < K; kw++) {
      const hi = ho * stride - pad + kh, wi = wo * stride - pad + kw;
      if (hi < 0 || hi >= H || wi < 0 || wi >= W) continue;
      for (let ci = 0; ci < Cin; ci++) for (let co = 0; co < Cout; co++)
        f(((n * Ho + ho) * Wo + wo) * Cout + co, ((n * H + hi) * W + wi) * Cin + ci, ((kh * K + kw) * Cin + ci) * Cout + co);
    }
}

export interface RefEpilogue { bias?: Arr; act?: EpilogueAct; slope?: Arr; alpha?: number; residual?: Arr }

export function conv2dForwardRef(s: ConvShape, x: Arr, w: Arr, e: RefEpilogue = {}): Float64Array {
  const { Ho, Wo } = dims(s);
  const y = new Float64Array(s.N * Ho * Wo * s.Cout);
  eachTap(s, (o, i, k) => { y[o] += x[i] * w[k]; });
  const alpha = e.alpha ?? 0.2;
  for (let o = 0; o < y.length; o++) {
    const co = o % s.Cout;
    let v = y[o] + (e.bias ? e.bias[co] : 0);
    switch (e.act ?? 'none') {
      case 'relu': v = Math.max(v, 0); break;
      case 'lrelu': v = v >= 0 ? v : alpha * v; break;
      case 'prelu': v = v >= 0 ? v : e.slope![co] * v; break;
      case 'tanh': v = Math.tanh(v); break;
    }
    y[o] = v + (e.residual ? e.residual[o] : 0);
  }
  return y;
}

export function conv2dBackwardInputRef(s: ConvShape, dy: Arr, w: Arr): Float64Array {
  const dx = new Float64Array(s.N * s.H * s.W * s.Cin);
  eachTap(s, (o, i, k) => { dx[i] += dy[o] * w[k]; });
  return dx;
}

export function conv2dBackwardWeightRef(s: ConvShape, x: Arr, dy: Arr): Float64Array {
  const dw = new Float64Array(s.K * s.K * s.Cin * s.Cout);
  eachTap(s, (o, i, k) => { dw[k] += x[i] * dy[o]; });
  return dw;
}

export function conv2dBackwardBiasRef(s: ConvShape, dy: Arr): Float64Array {
  const db = new Float64Array(s.Cout);
  const { Ho, Wo } = dims(s);
  for (let o = 0; o < s.N * Ho * Wo * s.Cout; o++) db[o % s.Cout] += dy[o];
  return db;
}
