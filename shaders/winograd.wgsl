// Winograd F(4x4, 3x3) convolution (Lavin & Gray 2016) for 3x3 stride-1 'same' convs, NHWC with
// channel counts that are multiples of 4. Each 4x4 block of output pixels (a "tile") is
//   Y = A^T [ (G g G^T) (.) (B^T d B) ] A
// with d the 6x6 input patch around it and g the 3x3 kernel: 36 products per tile and channel pair
// instead of 144. The launcher (src/kernels/winograd.ts) runs
//   weight_tf:  U[xi][r][c] = (G g G^T)[xi]      (36 x Cin x Cout, once per call)
//   input_tf:   V[xi][t][c] = (B^T d_t B)[xi]     (36 x tiles x Cin; or into a channel slice of a wider
//               V: the transform is per channel, so V of a channel concatenation is the pieces' Vs side
//               by side, each transformed once however many convs read it)
//   36 GEMMs    O[xi] = V[xi] . U[xi]            (matmul_sg.wgsl, batched)
//   output_tf:  y_t = A^T O_t A, then bias, activation and residual, stored NHWC
// The input gradient is the same conv of dy with the kernel rotated by 180 degrees and its channel
// axes swapped (weight_tf with flip = 1). The weight gradient is the transpose of the forward map:
//   grad_tf:    D[xi][t][co] = (A dy_t A^T)[xi]  (dy zero past the image)
//   36 GEMMs    dU[xi] = V[xi]^T . D[xi]         (split-K, summed over the tiles in a fixed order)
//   weight_grad_tf: dw = G^T dU G
// Every transform is a 1-D transform applied to the rows, then to the columns, of the tile.
//
// Why F(4x4, 3x3) and not F(2x2, 3x3): 4x fewer multiplies in the GEMMs instead of 2.25x, and
// transformed tensors 2.25x the input's size instead of 4x (the transforms are memory-bound).
// Float32 error: the transforms hold coefficients up to 8 (A) and 1/24 (G); measured errors are
// stated in test/kernels/winograd.test.ts.

struct Params {
  N: u32, H: u32, W: u32, C4: u32,   // image and channels / 4 of the tensor read (input_tf, grad_tf) or written (output_tf)
  TH: u32, TW: u32,                  // tiles per image along H and W (ceil(H/4), ceil(W/4))
  t0: u32, rows: u32,                // first tile of this chunk; rows of the chunk's matrices (tiles, padded to 4)
  T: u32, gx: u32,                   // tiles in all; workgroups along x (the grid folds into y)
  act: u32, has_bias: u32, has_res: u32, alpha: f32,  // output_tf epilogue: act 0 none, 1 relu, 2 lrelu, 3 prelu, 4 tanh
  SH: u32, SW: u32, off: u32,        // the tensor read or written, SH x SW, holds grid pixel (h, w) at (h - off, w - off):
                                     // off 0 and SH x SW = H x W for a plain conv; off 3 reads the grid of a split 9x9
                                     // conv from the unpadded input (zeros around), or writes only its interior
  dC4: u32, dOff: u32,               // input_tf: the transformed tensor's rows hold dC4 vec4s of channels, this
                                     // input's from vec4 dOff on (a slice of a concatenation); else C4 and 0
}

struct WParams {
  Cin: u32, Cout: u32,   // of the 3x3 kernel w [3, 3, Cin, Cout]
  R: u32, C4: u32,       // rows and column vec4s of U (R = Cin, C = Cout; flipped: R = Cout, C = Cin)
  flip: u32,             // 1: kernel rotated 180 degrees with channel axes swapped (input gradient)
  gx: u32,
}

override WG: u32 = 64u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(0) var<uniform> q: WParams;
// input_tf, grad_tf: NHWC source -> transformed [36, rows, C4] vec4s
@group(0) @binding(1) var<storage, read> src: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> dst: array<vec4<f32>>;
// output_tf: GEMM result [36, rows, C4] -> NHWC output with the epilogue
@group(0) @binding(3) var<storage, read> bias: array<vec4<f32>>;   // [C4], or a dummy
@group(0) @binding(4) var<storage, read> slope: array<vec4<f32>>;  // [C4] prelu, or a dummy
@group(0) @binding(5) var<storage, read> res: array<vec4<f32>>;    // like the output, or a dummy
// weight_tf: w [3,3,Cin,Cout] -> U [36, R, C]; weight_grad_tf: dU [36, Cin, Cout] -> dw [3,3,Cin,Cout]
@group(0) @binding(1) var<storage, read> wsrc: array<f32>;
@group(0) @binding(2) var<storage, read_write> wdst: array<vec4<f32>>;

alias V6 = array<vec4<f32>, 6>;
alias V4 = array<vec4<f32>, 4>;
alias V3 = array<vec4<f32>, 3>;

// B^T d (6 -> 6)
fn bt6(d: V6) -> V6 {
  return V6(4.0 * d[0] - 5.0 * d[2] + d[4],
            -4.0 * (d[1] + d[2]) + d[3] + d[4],
            4.0 * (d[1] - d[2]) - d[3] + d[4],
            2.0 * (d[3] - d[1]) - d[2] + d[4],
            2.0 * (d[1] - d[3]) - d[2] + d[4],
            4.0 * d[1] - 5.0 * d[3] + d[5]);
}

// A^T m (6 -> 4)
fn at6(m: V6) -> V4 {
  let s = m[1] + m[2];
  let t = m[1] - m[2];
  let u = m[3] + m[4];
  let v = m[3] - m[4];
  return V4(m[0] + s + u, t + 2.0 * v, s + 4.0 * u, t + 8.0 * v + m[5]);
}

// A y (4 -> 6): the transpose of at6
fn a4(y: V4) -> V6 {
  let e = y[0] + y[2];
  let o = y[1] + y[3];
  let e4 = y[0] + 4.0 * y[2];
  let o8 = 2.0 * y[1] + 8.0 * y[3];
  return V6(y[0], e + o, e - o, e4 + o8, e4 - o8, y[3]);
}

// G g (3 -> 6)
fn g3(g: V3) -> V6 {
  let s = g[0] + g[2];
  let f = g[0] / 24.0 + g[2] / 6.0;
  return V6(g[0] / 4.0, -(s + g[1]) / 6.0, -(s - g[1]) / 6.0, f + g[1] / 12.0, f - g[1] / 12.0, g[2]);
}

// G^T u (6 -> 3): the transpose of g3
fn gt6(u: V6) -> V3 {
  return V3(u[0] / 4.0 - (u[1] + u[2]) / 6.0 + (u[3] + u[4]) / 24.0,
            (u[2] - u[1]) / 6.0 + (u[3] - u[4]) / 12.0,
            (u[3] + u[4] - u[1] - u[2]) / 6.0 + u[5]);
}

/** The tile of chunk row r: (image, first output row, first output column), and whether it exists. */
fn tile_of(r: u32) -> vec4<u32> {
  let t = p.t0 + r;
  let tx = t % p.TW;
  let ty = (t / p.TW) % p.TH;
  let n = t / (p.TW * p.TH);
  return vec4<u32>(n, ty * 4u, tx * 4u, select(0u, 1u, t < p.T));
}

fn src_at(n: u32, gh: i32, gw: i32, c4: u32) -> vec4<f32> {
  let h = gh - i32(p.off);
  let w = gw - i32(p.off);
  if (h < 0 || h >= i32(p.SH) || w < 0 || w >= i32(p.SW)) { return vec4<f32>(0.0); }
  return src[((n * p.SH + u32(h)) * p.SW + u32(w)) * p.C4 + c4];
}

@compute @workgroup_size(WG)
fn input_tf(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * p.gx) * WG + lid;
  if (i >= p.rows * p.C4) { return; }
  let c4 = i % p.C4;
  let r = i / p.C4;
  let tl = tile_of(r);
  // rows of d B (each input row transformed along W); zeros outside the tensor read and for padding
  // rows past the last tile. Which columns exist is worked out once, not per load.
  let w0 = i32(tl.z) - 1 - i32(p.off);
  var cols: array<i32, 6>;   // offset of column b in a row, or -1 where it lies outside
  for (var b = 0; b < 6; b++) {
    let w = w0 + b;
    cols[b] = select(-1, w * i32(p.C4), w >= 0 && w < i32(p.SW));
  }
  var e: array<V6, 6>;
  for (var a = 0u; a < 6u; a++) {
    var d: V6;
    let h = i32(tl.y + a) - 1 - i32(p.off);
    if (tl.w == 1u && h >= 0 && h < i32(p.SH)) {
      let row = i32(((tl.x * p.SH + u32(h)) * p.SW) * p.C4 + c4);
      for (var b = 0u; b < 6u; b++) {
        d[b] = select(vec4<f32>(0.0), src[max(row + cols[b], 0)], cols[b] >= 0);
      }
    } else {
      d = V6(vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0));
    }
    e[a] = bt6(d);
  }
  let plane = p.rows * p.dC4;
  let o = r * p.dC4 + p.dOff + c4;
  for (var c = 0u; c < 6u; c++) {
    let v = bt6(V6(e[0][c], e[1][c], e[2][c], e[3][c], e[4][c], e[5][c]));
    for (var k = 0u; k < 6u; k++) { dst[(k * 6u + c) * plane + o] = v[k]; }
  }
}

@compute @workgroup_size(WG)
fn grad_tf(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * p.gx) * WG + lid;
  if (i >= p.rows * p.C4) { return; }
  let c4 = i % p.C4;
  let r = i / p.C4;
  let tl = tile_of(r);
  var e: array<V6, 4>;
  for (var a = 0u; a < 4u; a++) {
    var y: V4;
    for (var b = 0u; b < 4u; b++) {
      y[b] = select(vec4<f32>(0.0), src_at(tl.x, i32(tl.y + a), i32(tl.z + b), c4), tl.w == 1u);
    }
    e[a] = a4(y);
  }
  let plane = p.rows * p.C4;
  for (var c = 0u; c < 6u; c++) {
    let v = a4(V4(e[0][c], e[1][c], e[2][c], e[3][c]));
    for (var k = 0u; k < 6u; k++) { dst[(k * 6u + c) * plane + i] = v[k]; }
  }
}

fn activate(v: vec4<f32>, c4: u32) -> vec4<f32> {
  switch p.act {
    case 1u: { return max(v, vec4<f32>(0.0)); }
    case 2u: { return select(v * p.alpha, v, v >= vec4<f32>(0.0)); }
    case 3u: { return select(v * slope[c4], v, v >= vec4<f32>(0.0)); }
    case 4u: { return tanh(clamp(v, vec4<f32>(-15.0), vec4<f32>(15.0))); }
    default: { return v; }
  }
}

// output_tf: src is the GEMM result [36, rows, C4], dst the NHWC output.
@compute @workgroup_size(WG)
fn output_tf(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * p.gx) * WG + lid;
  if (i >= p.rows * p.C4) { return; }
  let c4 = i % p.C4;
  let tl = tile_of(i / p.C4);
  if (tl.w == 0u) { return; }
  let plane = p.rows * p.C4;
  var f: array<V4, 6>;   // rows of O A
  for (var a = 0u; a < 6u; a++) {
    var m: V6;
    for (var b = 0u; b < 6u; b++) { m[b] = src[(a * 6u + b) * plane + i]; }
    f[a] = at6(m);
  }
  var bv = vec4<f32>(0.0);
  if (p.has_bias != 0u) { bv = bias[c4]; }
  for (var j = 0u; j < 4u; j++) {
    let wo = tl.z + j;
    if (wo >= p.W) { break; }
    if (wo < p.off || wo - p.off >= p.SW) { continue; }
    let y = at6(V6(f[0][j], f[1][j], f[2][j], f[3][j], f[4][j], f[5][j]));
    for (var k = 0u; k < 4u; k++) {
      let ho = tl.y + k;
      if (ho >= p.H) { break; }
      if (ho < p.off || ho - p.off >= p.SH) { continue; }
      let o = ((tl.x * p.SH + ho - p.off) * p.SW + wo - p.off) * p.C4 + c4;
      var v = activate(y[k] + bv, c4);
      if (p.has_res != 0u) { v += res[o]; }
      dst[o] = v;
    }
  }
}

// weight_tf: one invocation per (row r, column vec4 c4) of U.
@compute @workgroup_size(WG)
fn weight_tf(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * q.gx) * WG + lid;
  if (i >= q.R * q.C4) { return; }
  let c4 = i % q.C4;
  let r = i / q.C4;
  var e: array<V6, 3>;   // rows of g G^T
  for (var a = 0u; a < 3u; a++) {
    var g: V3;
    for (var b = 0u; b < 3u; b++) {
      var v: vec4<f32>;
      for (var j = 0u; j < 4u; j++) {
        let c = c4 * 4u + j;
        if (q.flip != 0u) {
          v[j] = wsrc[(((2u - a) * 3u + (2u - b)) * q.Cin + c) * q.Cout + r];
        } else {
          v[j] = wsrc[((a * 3u + b) * q.Cin + r) * q.Cout + c];
        }
      }
      g[b] = v;
    }
    e[a] = g3(g);
  }
  let plane = q.R * q.C4;
  for (var c = 0u; c < 6u; c++) {
    let u = g3(V3(e[0][c], e[1][c], e[2][c]));
    for (var k = 0u; k < 6u; k++) { wdst[(k * 6u + c) * plane + i] = u[k]; }
  }
}

// weight_grad_tf: one invocation per (input channel, output-channel vec4); reads dU [36, Cin, Cout]
// (wsrc), writes dw [3, 3, Cin, Cout] (wdst).
@compute @workgroup_size(WG)
fn weight_grad_tf(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * q.gx) * WG + lid;
  if (i >= q.R * q.C4) { return; }
  let plane = q.R * q.C4;
  var e: array<V3, 6>;   // rows of dU G
  for (var a = 0u; a < 6u; a++) {
    var u: V6;
    for (var b = 0u; b < 6u; b++) {
      let o = ((a * 6u + b) * plane + i) * 4u;
      u[b] = vec4<f32>(wsrc[o], wsrc[o + 1u], wsrc[o + 2u], wsrc[o + 3u]);
    }
    e[a] = gt6(u);
  }
  for (var c = 0u; c < 3u; c++) {
    let g = gt6(V6(e[0][c], e[1][c], e[2][c], e[3][c], e[4][c], e[5][c]));
    for (var k = 0u; k < 3u; k++) { wdst[(k * 3u + c) * plane + i] = g[k]; }
  }
}
