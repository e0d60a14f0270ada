// A 9x9 stride-1 'same' conv with few output channels (the generator's conv_out, 32 or 64 -> 3) as a
// 3x3 conv to 9 x Cout channels, run by the Winograd path, and a shift-sum:
//   y[p] = sum over (kh, kw) of x[p + (kh - 4, kw - 4)] w[kh, kw]
//        = sum over i, j in 0..2 of z_ij[p + (3i, 3j)],  z_ij = conv3x3(xp, w[3i..3i+2, 3j..3j+2])
// with xp = x zero-padded by 3 on every side (z on the padded grid, (H+6) x (W+6); Winograd's input
// transform reads x as that grid's interior, so xp is never stored): kh = 3i + a,
// kw = 3j + b with a, b the 3x3 tap. The 9 sub-kernels are stacked as the output channels of one
// 3x3 conv, channel (3i + j) * Cout + co, padded with zero channels to Cz (a multiple of 4). The 81
// taps cost 36/16 as many multiplies each in Winograd's GEMM, whose 9 x Cout columns are a far
// better shape than the direct kernel's single vec4 of outputs.
//   weights:      w [9, 9, Cin, Cout] -> w3 [3, 3, Cin, Cz]
//   weights_grad: dw3 [3, 3, Cin, Cz] -> dw [9, 9, Cin, Cout] (the same map read backwards)
//   gather:       z [N, H+6, W+6, Cz] -> y [N, H, W, Cout]: the shift-sum, then bias, activation, residual
//   spread:       dy [N, H, W, Cout] -> dz [N, H+6, W+6, Cz]: the adjoint of the shift-sum (each dz
//                 entry is one dy entry or zero: a gather, no atomics)

struct WParams { Cin: u32, Cout: u32, Cz: u32, total: u32, gx: u32 }
struct GParams { N: u32, H: u32, W: u32, Cout: u32, Cz: u32, total: u32, gx: u32, act: u32, has_bias: u32, has_res: u32, alpha: f32 }

@group(0) @binding(0) var<uniform> wp: WParams;
@group(0) @binding(0) var<uniform> gp: GParams;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;   // [Cout], or a dummy
@group(0) @binding(4) var<storage, read> slope: array<f32>;  // [Cout] prelu, or a dummy
@group(0) @binding(5) var<storage, read> res: array<f32>;    // like y, or a dummy

override WG: u32 = 64u;

// The 9x9 tap (kh, kw) and output channel of w3's element (a, b, ci, oz), or none (a padding channel).
fn tap_of(a: u32, b: u32, oz: u32) -> vec4<u32> {
  let co = oz % wp.Cout;
  let ij = oz / wp.Cout;
  return vec4<u32>(3u * (ij / 3u) + a, 3u * (ij % 3u) + b, co, select(0u, 1u, ij < 9u));
}

@compute @workgroup_size(WG)
fn weights(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * wp.gx) * WG + lid;   // w3 element ((a*3 + b)*Cin + ci)*Cz + oz
  if (i >= wp.total) { return; }
  let oz = i % wp.Cz;
  let ci = (i / wp.Cz) % wp.Cin;
  let ab = i / (wp.Cz * wp.Cin);
  let t = tap_of(ab / 3u, ab % 3u, oz);
  var v = 0.0;
  if (t.w == 1u) { v = src[((t.x * 9u + t.y) * wp.Cin + ci) * wp.Cout + t.z]; }
  dst[i] = v;
}

@compute @workgroup_size(WG)
fn weights_grad(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * wp.gx) * WG + lid;   // dw element ((kh*9 + kw)*Cin + ci)*Cout + co
  if (i >= wp.total) { return; }
  let co = i % wp.Cout;
  let ci = (i / wp.Cout) % wp.Cin;
  let k = i / (wp.Cout * wp.Cin);
  let kh = k / 9u;
  let kw = k % 9u;
  let oz = ((kh / 3u) * 3u + kw / 3u) * wp.Cout + co;
  dst[i] = src[(((kh % 3u) * 3u + kw % 3u) * wp.Cin + ci) * wp.Cz + oz];
}

fn activate(v: f32, co: u32) -> f32 {
  switch gp.act {
    case 1u: { return max(v, 0.0); }
    case 2u: { return select(v * gp.alpha, v, v >= 0.0); }
    case 3u: { return select(v * slope[co], v, v >= 0.0); }
    case 4u: { return tanh(clamp(v, -15.0, 15.0)); }
    default: { return v; }
  }
}

@compute @workgroup_size(WG)
fn gather(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * gp.gx) * WG + lid;   // y element ((n*H + h)*W + w)*Cout + co
  if (i >= gp.total) { return; }
  let co = i % gp.Cout;
  let pix = i / gp.Cout;
  let w = pix % gp.W;
  let nh = pix / gp.W;
  let h = nh % gp.H;
  let n = nh / gp.H;
  let Wp = gp.W + 6u;
  var sum = 0.0;
  for (var a = 0u; a < 3u; a++) {
    let row = (n * (gp.H + 6u) + h + 3u * a) * Wp + w;
    for (var b = 0u; b < 3u; b++) {
      sum += src[(row + 3u * b) * gp.Cz + (3u * a + b) * gp.Cout + co];
    }
  }
  if (gp.has_bias != 0u) { sum += bias[co]; }
  var v = activate(sum, co);
  if (gp.has_res != 0u) { v += res[i]; }
  dst[i] = v;
}

@compute @workgroup_size(WG)
fn spread(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * gp.gx) * WG + lid;   // dz element ((n*(H+6) + q)*(W+6) + r)*Cz + oz
  if (i >= gp.total) { return; }
  let oz = i % gp.Cz;
  let pix = i / gp.Cz;
  let r = pix % (gp.W + 6u);
  let nq = pix / (gp.W + 6u);
  let q = nq % (gp.H + 6u);
  let n = nq / (gp.H + 6u);
  let co = oz % gp.Cout;
  let ij = oz / gp.Cout;
  // dz at padded (q, r) for sub-kernel (i, j) is dy at (q - 3i, r - 3j), where that is inside the image
  let h = i32(q) - 3 * i32(ij / 3u);
  let w = i32(r) - 3 * i32(ij % 3u);
  var v = 0.0;
  if (ij < 9u && h >= 0 && h < i32(gp.H) && w >= 0 && w < i32(gp.W)) { v = src[((n * gp.H + u32(h)) * gp.W + u32(w)) * gp.Cout + co]; }
  dst[i] = v;
}
