// conv2d forward as an implicit GEMM: out[m, co] = sum_{kh,kw,ci} x[pixel(m) + (kh,kw), ci] * w[kh,kw,ci,co]
// with m = (n, ho, wo) over N*Ho*Wo output pixels. x is NHWC, w is HWIO, both with channel counts padded
// to multiples of 4 by the launcher so that every load is a vec4 (zeros in the padding).
//
// Why this shape (lavapipe, i.e. LLVM running 8 invocations per SIMD register):
// - no workgroup memory and no barriers: each invocation keeps a TM pixels x 4*VN channels tile
//   in registers;
// - loads, not FMAs, are what costs on lavapipe (each is a per-lane loop of scalar loads, even when
//   every lane reads the same address). The output-channel block is the workgroup's y id, so all
//   invocations need the same weights: with SHARE (the subgroup prelude) each step's weight block is
//   loaded once per subgroup, spread over 8 lanes, and broadcast. Measured 2-3x faster than every
//   invocation loading it. Only the x loads are per-invocation gathers, TM per step.
// - subgroup operations need all lanes active, so the main loop has no divergent branch:
//   out-of-range pixels load from a clamped address and are masked with select(); only the stores
//   are guarded.
// - the epilogue (bias, activation, residual) is chosen by uniforms, not override constants: it costs
//   next to nothing per output, and one pipeline then serves every conv layer (compiles are slow).
// - one invocation's TM pixels are WG apart, so the 8 lanes of a SIMD register read neighbouring
//   pixels (their gathers hit the same cache lines).

struct Params {
  N: u32, H: u32, W: u32, Ci4: u32,     // input; Ci4 = padded Cin / 4
  Ho: u32, Wo: u32, Cout: u32, Co4: u32, // output; Cout real (stores), Co4 = padded Cout / 4 (weights)
  K: u32, S: u32, pad: u32, M: u32,      // kernel size, stride, padding, M = N*Ho*Wo
  gx: u32, alpha: f32,                   // workgroups along x (the grid folds into z past 65535); lrelu slope
  act: u32, has_bias: u32, has_res: u32, // epilogue: act 0 none, 1 relu, 2 lrelu, 3 prelu, 4 tanh
}

override TM: u32 = 4u;        // output pixels per invocation (<= 8)
override VN: u32 = 1u;        // vec4s of output channels per invocation (<= 4)
override WG: u32 = 64u;       // invocations per workgroup

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> w: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<storage, read> bias: array<f32>;   // [Cout], or a dummy
@group(0) @binding(5) var<storage, read> slope: array<f32>;  // [Cout] prelu, or a dummy
@group(0) @binding(6) var<storage, read> res: array<f32>;    // [M, Cout] added after the activation, or a dummy

const MAX_TM = 8u;
const MAX_VN = 4u;

fn activate(v: f32, co: u32) -> f32 {
  switch p.act {
    case 1u: { return max(v, 0.0); }
    case 2u: { return select(v * p.alpha, v, v >= 0.0); }
    case 3u: { return select(v * slope[co], v, v >= 0.0); }
    case 4u: { return tanh(clamp(v, -15.0, 15.0)); }  // tanh(+-15) is +-1 in f32; avoids inf/inf
    default: { return v; }
  }
}

// Entry point `main` comes from the prelude (prelude_share.wgsl or prelude_noshare.wgsl).
fn kernel(wid: vec3<u32>, lid: u32, lane: u32) {
  let blk = wid.x + wid.z * p.gx;
  let cb = wid.y;

  // Per pixel: the top-left input position of its window, and whether the pixel exists.
  var n_hw: array<u32, MAX_TM>;   // n * H * W
  var hi0: array<i32, MAX_TM>;
  var wi0: array<i32, MAX_TM>;
  var live: array<bool, MAX_TM>;
  for (var t = 0u; t < TM; t++) {
    let m = (blk * TM + t) * WG + lid;
    let mm = min(m, p.M - 1u);
    let wo = mm % p.Wo;
    let r = mm / p.Wo;
    let ho = r % p.Ho;
    let n = r / p.Ho;
    n_hw[t] = n * p.H * p.W;
    hi0[t] = i32(ho * p.S) - i32(p.pad);
    wi0[t] = i32(wo * p.S) - i32(p.pad);
    live[t] = m < p.M;
  }
  // Column (vec4 of output channels) of each of the VN accumulators; clamped so that a partial
  // last block reads valid weights (its results are never stored).
  var col: array<u32, MAX_VN>;
  for (var v = 0u; v < VN; v++) { col[v] = min(cb * VN + v, p.Co4 - 1u); }

  var acc: array<array<vec4<f32>, MAX_VN>, MAX_TM>;
  for (var t = 0u; t < TM; t++) { for (var v = 0u; v < VN; v++) { acc[t][v] = vec4<f32>(0.0); } }

  for (var kh = 0u; kh < p.K; kh++) {
    for (var kw = 0u; kw < p.K; kw++) {
      var xb: array<u32, MAX_TM>;
      var ok: array<bool, MAX_TM>;
      for (var t = 0u; t < TM; t++) {
        let hi = hi0[t] + i32(kh);
        let wi = wi0[t] + i32(kw);
        ok[t] = live[t] && hi >= 0 && hi < i32(p.H) && wi >= 0 && wi < i32(p.W);
        xb[t] = select(0u, (n_hw[t] + u32(hi) * p.W + u32(wi)) * p.Ci4, ok[t]);
      }
      var wb = (kh * p.K + kw) * p.Ci4 * 4u * p.Co4;
      for (var c = 0u; c < p.Ci4; c++) {
        var xv: array<vec4<f32>, MAX_TM>;
        for (var t = 0u; t < TM; t++) { xv[t] = select(vec4<f32>(0.0), x[xb[t] + c], ok[t]); }
        // The weights of this step: rows 4c..4c+3, the 4*VN channels of this block (vec4 j*VN + v).
        var wk: array<mat4x4<f32>, MAX_VN>;   // wk[v] columns: rows 4c+j, channels of vec4 v
        if (SHARE) {
          var mine: array<vec4<f32>, 2>;     // 4*VN <= 16 vec4s, 8 per subgroup-wide load
          for (var k = 0u; k < (4u * VN + 7u) / 8u; k++) {
            let e = min(k * 8u + lane, 4u * VN - 1u);
            mine[k] = w[wb + (e / VN) * p.Co4 + min(cb * VN + e % VN, p.Co4 - 1u)];
          }
          for (var v = 0u; v < VN; v++) {
            wk[v] = mat4x4<f32>(lane_value(mine[v / 8u], v % 8u), lane_value(mine[(VN + v) / 8u], (VN + v) % 8u),
                                lane_value(mine[(2u * VN + v) / 8u], (2u * VN + v) % 8u),
                                lane_value(mine[(3u * VN + v) / 8u], (3u * VN + v) % 8u));
          }
        } else {
          for (var v = 0u; v < VN; v++) {
            wk[v] = mat4x4<f32>(w[wb + col[v]], w[wb + p.Co4 + col[v]], w[wb + 2u * p.Co4 + col[v]], w[wb + 3u * p.Co4 + col[v]]);
          }
        }
        // wk[v] * xv = sum_j xv[j] * w[4c+j, channels of v].
        for (var v = 0u; v < VN; v++) {
          for (var t = 0u; t < TM; t++) { acc[t][v] += wk[v] * xv[t]; }
        }
        wb += 4u * p.Co4;
      }
    }
  }

  for (var t = 0u; t < TM; t++) {
    let m = (blk * TM + t) * WG + lid;
    if (m >= p.M) { continue; }
    for (var v = 0u; v < VN; v++) {
      for (var j = 0u; j < 4u; j++) {
        let co = (cb * VN + v) * 4u + j;
        if (co >= p.Cout) { continue; }
        var y = acc[t][v][j];
        if (p.has_bias != 0u) { y += bias[co]; }
        y = activate(y, co);
        if (p.has_res != 0u) { y += res[m * p.Cout + co]; }
        out[m * p.Cout + co] = y;
      }
    }
  }
}
