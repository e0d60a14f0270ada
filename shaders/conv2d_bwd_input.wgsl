// conv2d input gradient: dx[n, hi, wi, ci] = sum over (kh, kw, co) of dy[n, ho, wo, co] * w[kh, kw, ci, co]
// where hi = ho*S - pad + kh, wi = wo*S - pad + kw. It is a convolution of dy with the flipped,
// transposed weights, computed as an implicit GEMM over M = N*H*W input pixels, columns Cin, and
// reduction K*K*Cout. Channel counts are padded to multiples of 4 by the launcher (zeros).
//
// Stride 2: only the taps with (hi + pad - kh) divisible by S reach an output pixel, and which ones
// depends on the parity of hi. The launcher therefore splits the input pixels into S*S phase classes
// (hi % S, wi % S), one class per workgroup z slice: inside a class the taps are the same for every
// pixel (kh = kh0, kh0 + S, ...), loops stay uniform, and no work is spent on the skipped taps.
//
// Same register-tile scheme as conv2d_fwd.wgsl: TM pixels x 4*VN input channels per invocation, the
// channel block uniform per workgroup, weights loaded once per subgroup and broadcast (SHARE), no
// workgroup memory.

struct Params {
  N: u32, H: u32, W: u32, Cin: u32,      // dx shape; Cin real (stores)
  Ho: u32, Wo: u32, Ci4: u32, Co4: u32,  // dy shape; padded channel counts / 4
  K: u32, S: u32, pad: u32, gx: u32,     // gx: workgroups per class along x (the rest folds into z)
}

override TM: u32 = 4u;
override VN: u32 = 1u;
override WG: u32 = 64u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> dy: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> w: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;

const MAX_TM = 8u;
const MAX_VN = 4u;

// Entry point `main` comes from the prelude (prelude_share.wgsl or prelude_noshare.wgsl).
fn kernel(wid: vec3<u32>, lid: u32, lane: u32) {
  let cls = wid.z % (p.S * p.S);
  let blk = wid.x + (wid.z / (p.S * p.S)) * p.gx;
  let cb = wid.y;
  let ph = cls / p.S;
  let pw = cls % p.S;
  // This class's pixels: hi = ph + S*i for i < Hc, wi = pw + S*j for j < Wc.
  let Hc = (p.H + p.S - 1u - ph) / p.S;
  let Wc = (p.W + p.S - 1u - pw) / p.S;
  let Mc = p.N * Hc * Wc;

  var ni: array<u32, MAX_TM>;
  var ii: array<i32, MAX_TM>;
  var jj: array<i32, MAX_TM>;
  var live: array<bool, MAX_TM>;
  for (var t = 0u; t < TM; t++) {
    let m = (blk * TM + t) * WG + lid;
    let mm = min(m, max(Mc, 1u) - 1u);
    jj[t] = i32(mm % Wc);
    ii[t] = i32((mm / Wc) % Hc);
    ni[t] = mm / (Wc * Hc);
    live[t] = m < Mc;
  }
  var row: array<u32, MAX_VN * 4u>;   // the input channel of each accumulator lane, clamped for reads
  for (var v = 0u; v < VN * 4u; v++) { row[v] = min(cb * VN * 4u + v, p.Ci4 * 4u - 1u); }

  var acc: array<array<vec4<f32>, MAX_VN>, MAX_TM>;
  for (var t = 0u; t < TM; t++) { for (var v = 0u; v < VN; v++) { acc[t][v] = vec4<f32>(0.0); } }

  // Taps of this class: kh = kh0, kh0 + S, ...; then ho = i + (ph + pad - kh) / S exactly.
  let kh0 = (ph + p.pad) % p.S;
  let kw0 = (pw + p.pad) % p.S;
  for (var kh = kh0; kh < p.K; kh += p.S) {
    let dh = (i32(ph + p.pad) - i32(kh)) / i32(p.S);
    for (var kw = kw0; kw < p.K; kw += p.S) {
      let dw = (i32(pw + p.pad) - i32(kw)) / i32(p.S);
      var yb: array<u32, MAX_TM>;
      var ok: array<bool, MAX_TM>;
      for (var t = 0u; t < TM; t++) {
        let ho = ii[t] + dh;
        let wo = jj[t] + dw;
        ok[t] = live[t] && ho >= 0 && ho < i32(p.Ho) && wo >= 0 && wo < i32(p.Wo);
        yb[t] = select(0u, ((ni[t] * p.Ho + u32(ho)) * p.Wo + u32(wo)) * p.Co4, ok[t]);
      }
      let wb = (kh * p.K + kw) * p.Ci4 * 4u;
      for (var c = 0u; c < p.Co4; c++) {
        var yv: array<vec4<f32>, MAX_TM>;
        for (var t = 0u; t < TM; t++) { yv[t] = select(vec4<f32>(0.0), dy[yb[t] + c], ok[t]); }
        // wk[v] columns: w[kh, kw, ci, 4c..4c+3] for the 4 input channels ci of block v, so that
        // yv * wk[v] is the vector of their dot products with dy's 4 output channels.
        var wk: array<mat4x4<f32>, MAX_VN>;
        if (SHARE) {
          var mine: array<vec4<f32>, 2>;   // the 4*VN <= 16 weight vec4s, 8 per subgroup-wide load
          for (var k = 0u; k < (4u * VN + 7u) / 8u; k++) {
            let e = min(k * 8u + lane, 4u * VN - 1u);
            mine[k] = w[(wb + min(cb * VN * 4u + e, p.Ci4 * 4u - 1u)) * p.Co4 + c];
          }
          for (var v = 0u; v < VN; v++) {
            wk[v] = mat4x4<f32>(lane_value(mine[v / 2u], (4u * v) % 8u), lane_value(mine[v / 2u], (4u * v + 1u) % 8u),
                                lane_value(mine[v / 2u], (4u * v + 2u) % 8u), lane_value(mine[v / 2u], (4u * v + 3u) % 8u));
          }
        } else {
          for (var v = 0u; v < VN; v++) {
            wk[v] = mat4x4<f32>(w[(wb + row[4u * v]) * p.Co4 + c], w[(wb + row[4u * v + 1u]) * p.Co4 + c],
                                w[(wb + row[4u * v + 2u]) * p.Co4 + c], w[(wb + row[4u * v + 3u]) * p.Co4 + c]);
          }
        }
        for (var v = 0u; v < VN; v++) {
          for (var t = 0u; t < TM; t++) { acc[t][v] += yv[t] * wk[v]; }
        }
      }
    }
  }

  for (var t = 0u; t < TM; t++) {
    if (!live[t]) { continue; }
    let hi = u32(ph + p.S * u32(ii[t]));
    let wi = u32(pw + p.S * u32(jj[t]));
    let o = ((ni[t] * p.H + hi) * p.W + wi) * p.Cin;
    for (var v = 0u; v < VN; v++) {
      for (var j = 0u; j < 4u; j++) {
        let ci = (cb * VN + v) * 4u + j;
        if (ci < p.Cin) { dx[o + ci] = acc[t][v][j]; }
      }
    }
  }
}
