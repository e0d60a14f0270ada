// conv2d weight gradient, first pass: dw[kh, kw, ci, co] = sum over (n, ho, wo) of
// x[n, ho*S - pad + kh, wo*S - pad + kw, ci] * dy[n, ho, wo, co], a GEMM X^T * dY with the reduction over
// the M = N*Ho*Wo output pixels. Split-K: workgroup z sums one chunk of output rows (n, ho) into its own
// slice of `part`; conv2d_util.wgsl's `reduce` then adds the slices in a fixed order (deterministic,
// no float atomics).
//
// Each invocation owns 4 weight rows (kh, kw, 4 input channels) x 4*VN output channels. Every
// invocation walks the same pixels, so the loops are uniform and dy is the same for the whole
// workgroup: with SHARE it is loaded once per subgroup, PX = 8 / VN pixels at a time, and broadcast;
// only x is gathered per invocation. Channel counts are padded to multiples of 4 (zeros).

struct Params {
  N: u32, H: u32, W: u32, Ci4: u32,
  Ho: u32, Wo: u32, Co4: u32, K: u32,
  S: u32, pad: u32, rows: u32, chunk: u32,   // rows = N*Ho output rows, chunk = rows per z slice
  R4: u32,                                    // K*K*Ci4 weight row groups
}

override VN: u32 = 2u;        // vec4s of output channels per invocation: 1, 2 or 4
override WG: u32 = 32u;
override PX: u32 = 8u / VN;   // pixels per step: one subgroup-wide load of dy covers PX x VN vec4s

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> dy: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> part: array<vec4<f32>>;  // [slices, K*K*Ci4*4, Co4]

const MAX_VN = 4u;

// Entry point `main` comes from the prelude (prelude_share.wgsl or prelude_noshare.wgsl).
fn kernel(wid: vec3<u32>, lid: u32, lane: u32) {
  let r4 = wid.x * WG + lid;
  let live = r4 < p.R4;
  let rr = min(r4, p.R4 - 1u);
  let c4 = rr % p.Ci4;
  let kk = rr / p.Ci4;
  let kh = i32(kk / p.K);
  let kw = i32(kk % p.K);
  let cb = wid.y;
  var col: array<u32, MAX_VN>;
  for (var v = 0u; v < VN; v++) { col[v] = min(cb * VN + v, p.Co4 - 1u); }
  let lane_col = min(cb * VN + lane % VN, p.Co4 - 1u);   // the dy column this lane loads with SHARE
  let lane_px = lane / VN;                               // and its pixel within the step

  // acc[j][v]: weight row 4*c4 + j, output channels of column col[v].
  var acc: array<array<vec4<f32>, MAX_VN>, 4>;
  for (var j = 0u; j < 4u; j++) { for (var v = 0u; v < VN; v++) { acc[j][v] = vec4<f32>(0.0); } }

  let r0 = wid.z * p.chunk;
  let r1 = min(p.rows, r0 + p.chunk);
  for (var r = r0; r < r1; r++) {
    let ho = r % p.Ho;
    let n = r / p.Ho;
    let hi = i32(ho * p.S) - i32(p.pad) + kh;
    let rowok = live && hi >= 0 && hi < i32(p.H);
    let xrow = (n * p.H + u32(max(hi, 0))) * p.W;
    let yrow = r * p.Wo;
    for (var wo0 = 0u; wo0 < p.Wo; wo0 += PX) {
      var mine = vec4<f32>(0.0);
      if (SHARE) { mine = dy[(yrow + min(wo0 + lane_px, p.Wo - 1u)) * p.Co4 + lane_col]; }
      for (var q = 0u; q < PX; q++) {
        let wo = wo0 + q;
        let wi = i32(wo * p.S) + kw - i32(p.pad);
        // Pixels past the row end (last step) read a clamped dy and a zero x.
        let ok = rowok && wo < p.Wo && wi >= 0 && wi < i32(p.W);
        let xv = select(vec4<f32>(0.0), x[select(0u, (xrow + u32(wi)) * p.Ci4 + c4, ok)], ok);
        for (var v = 0u; v < VN; v++) {
          var dv: vec4<f32>;
          if (SHARE) { dv = lane_value(mine, q * VN + v); }
          else { dv = dy[(yrow + min(wo, p.Wo - 1u)) * p.Co4 + col[v]]; }
          acc[0][v] += xv.x * dv;
          acc[1][v] += xv.y * dv;
          acc[2][v] += xv.z * dv;
          acc[3][v] += xv.w * dv;
        }
      }
    }
  }

  if (!live) { return; }
  let base = wid.z * p.R4 * 4u * p.Co4 + (kk * p.Ci4 + c4) * 4u * p.Co4;
  for (var v = 0u; v < VN; v++) {
    let co4 = cb * VN + v;
    if (co4 >= p.Co4) { continue; }
    for (var j = 0u; j < 4u; j++) { part[base + j * p.Co4 + co4] = acc[j][v]; }
  }
}
