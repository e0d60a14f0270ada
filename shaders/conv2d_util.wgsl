// Small helpers of the conv2d family, one entry point each. Every entry point reads `src` and writes
// `dst`; each declares its own parameter block at binding 0 (only the one it uses is bound).
//
// pad:          dst[a, b, c] = src[a, b, c] for b < B, c < C, else 0, with dst shaped [A, Bp, Cp].
//               Gives the conv kernels channel counts that are multiples of 4 (vec4 loads).
// reduce:       dst[a, b, c] = sum over s = 0..S-1, in that order, of src[s*stride + (a*Bp + b)*Cp + c].
//               The second pass of the split-K weight and bias gradients: fixed order, no atomics.
// bias_partial: dst[s, c] = sum of dy[m, c] over the s-th chunk of rows m, in order.

struct PadParams { A: u32, B: u32, C: u32, Bp: u32, Cp: u32, total: u32, gx: u32 }
struct ReduceParams { A: u32, B: u32, C: u32, Bp: u32, Cp: u32, total: u32, gx: u32, S: u32, stride: u32 }
struct BiasParams { M: u32, C: u32, chunk: u32 }

@group(0) @binding(0) var<uniform> pp: PadParams;
@group(0) @binding(0) var<uniform> rp: ReduceParams;
@group(0) @binding(0) var<uniform> bp: BiasParams;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

override WG: u32 = 64u;

@compute @workgroup_size(WG)
fn pad(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * pp.gx) * WG + lid;
  if (i >= pp.total) { return; }
  let c = i % pp.Cp;
  let b = (i / pp.Cp) % pp.Bp;
  let a = i / (pp.Cp * pp.Bp);
  var v = 0.0;
  if (b < pp.B && c < pp.C) { v = src[(a * pp.B + b) * pp.C + c]; }
  dst[i] = v;
}

@compute @workgroup_size(WG)
fn reduce(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * rp.gx) * WG + lid;
  if (i >= rp.total) { return; }
  let c = i % rp.C;
  let b = (i / rp.C) % rp.B;
  let a = i / (rp.C * rp.B);
  let off = (a * rp.Bp + b) * rp.Cp + c;
  var sum = 0.0;
  for (var s = 0u; s < rp.S; s++) { sum += src[s * rp.stride + off]; }
  dst[i] = sum;
}

@compute @workgroup_size(WG)
fn bias_partial(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let c = wid.x * WG + lid;
  let s = wid.y;
  if (c >= bp.C) { return; }
  let m1 = min(bp.M, (s + 1u) * bp.chunk);
  var sum = 0.0;
  for (var m = s * bp.chunk; m < m1; m++) { sum += src[m * bp.C + c]; }
  dst[s * bp.C + c] = sum;
}
