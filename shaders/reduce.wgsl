// Column sums of a row-major matrix, in a fixed order (no atomics: same inputs, same bits).
//
//   out[p*C + c] = scale * sum over rows m in [p*R, (p+1)*R) of x[m*C + c]   (only i = m*C + c < n)
//
// One kernel serves both reductions, in two passes:
//   columnSums(x[M,C]): pass 1 sums chunks of R rows into partials [P,C]; pass 2 sums the P rows.
//   sumAll(x[n]):       x viewed as rows of T columns (the last row ragged): pass 1 gives T
//                       strided partials (neighbouring invocations read neighbouring elements);
//                       pass 2 sums them with one invocation, in order.
// Each output is summed by one invocation in increasing m.

struct Params {
  n: u32,         // elements of x (bounds the ragged last row)
  C: u32,         // row width
  R: u32,         // rows per chunk
  outs: u32,      // outputs = C * P
  rowStride: u32, // invocations per grid row (2D grids for large outputs)
  scale: f32,
}

override WG: u32 = 64;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WG)
fn column_sums(@builtin(global_invocation_id) gid: vec3u) {
  let t = gid.x + gid.y * p.rowStride;
  if (t >= p.outs) { return; }
  let c = t % p.C;
  let m0 = (t / p.C) * p.R;
  // Rows holding column c: m*C + c < n.
  let rows = select(0u, (p.n - c + p.C - 1u) / p.C, c < p.n);
  let m1 = min(m0 + p.R, rows);
  var s = 0.0;
  var i = m0 * p.C + c;
  for (var m = m0; m < m1; m++) {
    s += x[i];
    i += p.C;
  }
  out[t] = s * p.scale;
}
