// Batch norm 2d over NHWC activations viewed as x[M, C] (M = N*H*W), statistics per channel.
//
// Three steps, like onnxruntime-web's instance norm:
//   1. partials:  invocation (p, c) reduces rows [p*R, (p+1)*R) of channel c;
//   2. finalize:  one invocation per channel combines its P partials in order and writes the
//                 per-channel results plus the coefficients of step 3;
//   3. apply:     one fused elementwise pass.
// No atomics, fixed orders: the same inputs give the same bits.
//
// Forward partials hold, per chunk, the mean of (x - x[0,c]) and the sum of squared deviations
// from the chunk mean, not (sum, sum of squares): E[x^2] - E[x]^2 cancels in float32 when the
// mean is large next to the spread, and shifting by a sample of the channel keeps the merged
// mean accurate to the spread rather than to the mean's magnitude.
//
// Partial buffers: [2][P][C] (first quantity, then second; the forward appends the shifts [C]).
// Coefficients: [k][C].

struct Params {
  M: u32,
  C: u32,
  R: u32,          // rows per chunk
  P: u32,          // chunks
  rowStride: u32,  // invocations per grid row (2D grids)
  momentum: f32,
  eps: f32,
  rowsPerInv: u32, // apply: rows per invocation
}

override WG: u32 = 64;

@group(0) @binding(0) var<uniform> p: Params;

fn index(gid: vec3u) -> u32 { return gid.x + gid.y * p.rowStride; }

// ---- 1. partials ---------------------------------------------------------------------------------

@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> part: array<f32>;

// (mean, sum of squared deviations from it) of each chunk: two passes over a chunk that is still
// in the cache.
@compute @workgroup_size(WG)
fn stats_partial(@builtin(global_invocation_id) gid: vec3u) {
  let t = index(gid);
  if (t >= p.C * p.P) { return; }
  let c = t % p.C;
  let m0 = (t / p.C) * p.R;
  let m1 = min(m0 + p.R, p.M);
  let shift = x[c];
  var s = 0.0;
  for (var m = m0; m < m1; m++) { s += x[m * p.C + c] - shift; }
  let mean = s / f32(m1 - m0);
  var q = 0.0;
  for (var m = m0; m < m1; m++) {
    let d = x[m * p.C + c] - shift - mean;
    q += d * d;
  }
  part[t] = mean;
  part[p.C * p.P + t] = q;
  if (t < p.C) { part[2u * p.C * p.P + t] = shift; }
}

@group(0) @binding(1) var<storage, read> xb: array<f32>;
@group(0) @binding(2) var<storage, read> dyb: array<f32>;
@group(0) @binding(3) var<storage, read> meanb: array<f32>;
@group(0) @binding(4) var<storage, read_write> partb: array<f32>;

// Backward: (sum dy, sum dy * (x - mean)) of each chunk.
@compute @workgroup_size(WG)
fn backward_partial(@builtin(global_invocation_id) gid: vec3u) {
  let t = index(gid);
  if (t >= p.C * p.P) { return; }
  let c = t % p.C;
  let m0 = (t / p.C) * p.R;
  let m1 = min(m0 + p.R, p.M);
  let mean = meanb[c];
  var s = 0.0;
  var q = 0.0;
  for (var m = m0; m < m1; m++) {
    let i = m * p.C + c;
    let dy = dyb[i];
    s += dy;
    q += dy * (xb[i] - mean);
  }
  partb[t] = s;
  partb[p.C * p.P + t] = q;
}

// vec4 variants of the partials (C a multiple of 4): invocation (p, q) owns channels 4q..4q+3.
// Storage loads are per-lane loops on CPU Vulkan, so one vec4 load beats four scalar ones.
@group(0) @binding(1) var<storage, read> x4: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> part4: array<vec4f>;

@compute @workgroup_size(WG)
fn stats_partial4(@builtin(global_invocation_id) gid: vec3u) {
  let C4 = p.C / 4u;
  let t = index(gid);
  if (t >= C4 * p.P) { return; }
  let q = t % C4;
  let m0 = (t / C4) * p.R;
  let m1 = min(m0 + p.R, p.M);
  let shift = x4[q];
  var s = vec4f(0.0);
  for (var m = m0; m < m1; m++) { s += x4[m * C4 + q] - shift; }
  let mean = s / f32(m1 - m0);
  var ss = vec4f(0.0);
  for (var m = m0; m < m1; m++) {
    let d = x4[m * C4 + q] - shift - mean;
    ss += d * d;
  }
  part4[t] = mean;
  part4[C4 * p.P + t] = ss;
  if (t < C4) { part4[2u * C4 * p.P + t] = shift; }
}

@group(0) @binding(1) var<storage, read> xb4: array<vec4f>;
@group(0) @binding(2) var<storage, read> dyb4: array<vec4f>;
@group(0) @binding(4) var<storage, read_write> partb4: array<vec4f>;

@compute @workgroup_size(WG)
fn backward_partial4(@builtin(global_invocation_id) gid: vec3u) {
  let C4 = p.C / 4u;
  let t = index(gid);
  if (t >= C4 * p.P) { return; }
  let q = t % C4;
  let m0 = (t / C4) * p.R;
  let m1 = min(m0 + p.R, p.M);
  let c = q * 4u;
  let mean = vec4f(meanb[c], meanb[c + 1u], meanb[c + 2u], meanb[c + 3u]);
  var s = vec4f(0.0);
  var ss = vec4f(0.0);
  for (var m = m0; m < m1; m++) {
    let i = m * C4 + q;
    let dy = dyb4[i];
    s += dy;
    ss += dy * (xb4[i] - mean);
  }
  partb4[t] = s;
  partb4[C4 * p.P + t] = ss;
}

// ---- 2. finalize (one invocation per channel) -----------------------------------------------------

@group(0) @binding(1) var<storage, read> partT: array<f32>;
@group(0) @binding(2) var<storage, read> gammaT: array<f32>;
@group(0) @binding(3) var<storage, read> betaT: array<f32>;
@group(0) @binding(4) var<storage, read_write> saveMean: array<f32>;
@group(0) @binding(5) var<storage, read_write> saveInvStd: array<f32>;
@group(0) @binding(6) var<storage, read_write> runMean: array<f32>;
@group(0) @binding(7) var<storage, read_write> runVar: array<f32>;
@group(0) @binding(8) var<storage, read_write> coefT: array<f32>;

// Batch statistics (chunks merged in order: mean, then squared deviations of the chunk means
// from it added to the chunks' own), running statistics update
// (PyTorch: unbiased variance into runVar), and apply coefficients (mean, gamma*invStd, beta).
@compute @workgroup_size(WG)
fn train_finalize(@builtin(global_invocation_id) gid: vec3u) {
  let c = index(gid);
  if (c >= p.C) { return; }
  let M = f32(p.M);
  var s = 0.0;
  for (var k = 0u; k < p.P; k++) { s += f32(min(p.R, p.M - k * p.R)) * partT[k * p.C + c]; }
  let shifted = s / M;
  var m2 = 0.0;
  for (var k = 0u; k < p.P; k++) {
    let d = partT[k * p.C + c] - shifted;
    m2 += partT[(p.P + k) * p.C + c] + f32(min(p.R, p.M - k * p.R)) * d * d;
  }
  let mean = shifted + partT[2u * p.C * p.P + c];
  let invStd = 1.0 / sqrt(m2 / M + p.eps);
  saveMean[c] = mean;
  saveInvStd[c] = invStd;
  runMean[c] = (1.0 - p.momentum) * runMean[c] + p.momentum * mean;
  runVar[c] = (1.0 - p.momentum) * runVar[c] + p.momentum * (m2 / (M - 1.0));
  coefT[c] = mean;
  coefT[p.C + c] = gammaT[c] * invStd;
  coefT[2u * p.C + c] = betaT[c];
}

@group(0) @binding(1) var<storage, read> gammaI: array<f32>;
@group(0) @binding(2) var<storage, read> betaI: array<f32>;
@group(0) @binding(3) var<storage, read> runMeanI: array<f32>;
@group(0) @binding(4) var<storage, read> runVarI: array<f32>;
@group(0) @binding(5) var<storage, read_write> coefI: array<f32>;

// Inference: apply coefficients from the running statistics.
@compute @workgroup_size(WG)
fn infer_finalize(@builtin(global_invocation_id) gid: vec3u) {
  let c = index(gid);
  if (c >= p.C) { return; }
  coefI[c] = runMeanI[c];
  coefI[p.C + c] = gammaI[c] / sqrt(runVarI[c] + p.eps);
  coefI[2u * p.C + c] = betaI[c];
}

@group(0) @binding(1) var<storage, read> partB: array<f32>;
@group(0) @binding(2) var<storage, read> gammaB: array<f32>;
@group(0) @binding(3) var<storage, read> meanB: array<f32>;
@group(0) @binding(4) var<storage, read> invStdB: array<f32>;
@group(0) @binding(5) var<storage, read_write> dgamma: array<f32>;
@group(0) @binding(6) var<storage, read_write> dbeta: array<f32>;
@group(0) @binding(7) var<storage, read_write> coefB: array<f32>;

// dbeta = sum dy, dgamma = sum dy * xhat, and with xhat = (x - mean) * invStd:
//   dx = gamma*invStd * (dy - dbeta/M - xhat * dgamma/M)
//      = dy * k1 + (x - mean) * k2 + k3,  k1 = gamma*invStd, k2 = -k1*invStd*dgamma/M, k3 = -k1*dbeta/M
@compute @workgroup_size(WG)
fn backward_finalize(@builtin(global_invocation_id) gid: vec3u) {
  let c = index(gid);
  if (c >= p.C) { return; }
  var s = 0.0;
  var q = 0.0;
  for (var k = 0u; k < p.P; k++) {
    s += partB[k * p.C + c];
    q += partB[(p.P + k) * p.C + c];
  }
  let invStd = invStdB[c];
  let dg = q * invStd;
  dgamma[c] = dg;
  dbeta[c] = s;
  let M = f32(p.M);
  let k1 = gammaB[c] * invStd;
  coefB[c] = meanB[c];
  coefB[p.C + c] = -k1 * invStd * dg / M;
  coefB[2u * p.C + c] = -k1 * s / M;
  coefB[3u * p.C + c] = k1;
}

// ---- 3. apply ---------------------------------------------------------------------------------------
// Invocation t owns channels 4q..4q+3 (q = t % ceil(C/4)) of rowsPerInv consecutive rows: one
// integer division per invocation, not per element (CPU Vulkan has no vector division).

@group(0) @binding(1) var<storage, read> xa: array<f32>;
@group(0) @binding(2) var<storage, read> coefA: array<f32>;
@group(0) @binding(3) var<storage, read_write> ya: array<f32>;

// y = (x - mean) * scale + shift
@compute @workgroup_size(WG)
fn apply(@builtin(global_invocation_id) gid: vec3u) {
  let t = index(gid);
  let C4 = (p.C + 3u) / 4u;
  let m0 = (t / C4) * p.rowsPerInv;
  if (m0 >= p.M) { return; }
  let c0 = (t % C4) * 4u;
  let m1 = min(m0 + p.rowsPerInv, p.M);
  let nc = min(4u, p.C - c0);
  for (var j = 0u; j < nc; j++) {
    let c = c0 + j;
    let mean = coefA[c];
    let scale = coefA[p.C + c];
    let shift = coefA[2u * p.C + c];
    for (var m = m0; m < m1; m++) {
      let i = m * p.C + c;
      ya[i] = (xa[i] - mean) * scale + shift;
    }
  }
}

// vec4 variant (C a multiple of 4): one vec4 load per row instead of four scalar ones, which is
// what costs on CPU Vulkan (each storage access is a per-lane loop there).
@group(0) @binding(1) var<storage, read> xa4: array<vec4f>;
@group(0) @binding(3) var<storage, read_write> ya4: array<vec4f>;

@compute @workgroup_size(WG)
fn apply4(@builtin(global_invocation_id) gid: vec3u) {
  let t = index(gid);
  let C4 = p.C / 4u;
  let m0 = (t / C4) * p.rowsPerInv;
  if (m0 >= p.M) { return; }
  let q = t % C4;
  let c = q * 4u;
  let m1 = min(m0 + p.rowsPerInv, p.M);
  let mean = vec4f(coefA[c], coefA[c + 1u], coefA[c + 2u], coefA[c + 3u]);
  let scale = vec4f(coefA[p.C + c], coefA[p.C + c + 1u], coefA[p.C + c + 2u], coefA[p.C + c + 3u]);
  let shift = vec4f(coefA[2u * p.C + c], coefA[2u * p.C + c + 1u], coefA[2u * p.C + c + 2u], coefA[2u * p.C + c + 3u]);
  for (var m = m0; m < m1; m++) {
    let i = m * C4 + q;
    ya4[i] = (xa4[i] - mean) * scale + shift;
  }
}

@group(0) @binding(1) var<storage, read> xd: array<f32>;
@group(0) @binding(2) var<storage, read> dyd: array<f32>;
@group(0) @binding(3) var<storage, read> coefD: array<f32>;
@group(0) @binding(4) var<storage, read_write> dxd: array<f32>;

// dx = (x - mean) * k2 + k3 + dy * k1
@compute @workgroup_size(WG)
fn apply_backward(@builtin(global_invocation_id) gid: vec3u) {
  let t = index(gid);
  let C4 = (p.C + 3u) / 4u;
  let m0 = (t / C4) * p.rowsPerInv;
  if (m0 >= p.M) { return; }
  let c0 = (t % C4) * 4u;
  let m1 = min(m0 + p.rowsPerInv, p.M);
  let nc = min(4u, p.C - c0);
  for (var j = 0u; j < nc; j++) {
    let c = c0 + j;
    let mean = coefD[c];
    let k2 = coefD[p.C + c];
    let k3 = coefD[2u * p.C + c];
    let k1 = coefD[3u * p.C + c];
    for (var m = m0; m < m1; m++) {
      let i = m * p.C + c;
      dxd[i] = (xd[i] - mean) * k2 + k3 + dyd[i] * k1;
    }
  }
}

@group(0) @binding(1) var<storage, read> xd4: array<vec4f>;
@group(0) @binding(2) var<storage, read> dyd4: array<vec4f>;
@group(0) @binding(4) var<storage, read_write> dxd4: array<vec4f>;

@compute @workgroup_size(WG)
fn apply_backward4(@builtin(global_invocation_id) gid: vec3u) {
  let t = index(gid);
  let C4 = p.C / 4u;
  let m0 = (t / C4) * p.rowsPerInv;
  if (m0 >= p.M) { return; }
  let q = t % C4;
  let c = q * 4u;
  let m1 = min(m0 + p.rowsPerInv, p.M);
  let mean = vec4f(coefD[c], coefD[c + 1u], coefD[c + 2u], coefD[c + 3u]);
  let k2 = vec4f(coefD[p.C + c], coefD[p.C + c + 1u], coefD[p.C + c + 2u], coefD[p.C + c + 3u]);
  let k3 = vec4f(coefD[2u * p.C + c], coefD[2u * p.C + c + 1u], coefD[2u * p.C + c + 2u], coefD[2u * p.C + c + 3u]);
  let k1 = vec4f(coefD[3u * p.C + c], coefD[3u * p.C + c + 1u], coefD[3u * p.C + c + 2u], coefD[3u * p.C + c + 3u]);
  for (var m = m0; m < m1; m++) {
    let i = m * C4 + q;
    dxd4[i] = (xd4[i] - mean) * k2 + k3 + dyd4[i] * k1;
  }
}
