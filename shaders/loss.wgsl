// Scalar losses as means over n elements, with their backward.
// The sum is deterministic and atomic-free: pass 1 (mse_partial / bce_partial) gives each
// invocation a fixed contiguous run of vec4s and writes one partial sum (four lanes summed
// separately, then combined); pass 2 (finalize) adds the partials in index order and divides by n.
// Elements past n in the last vec4 are masked with select(), never multiplied by 0: the padding
// of a pooled buffer holds arbitrary bits, possibly NaN.
struct Params {
  n: u32,          // elements
  stride: u32,     // invocations per grid row
  chunk: u32,      // vec4s per partial sum
  parts: u32,      // partial sums
  label: f32,      // bce target (WGSL reserves "target")
}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<vec4f>;
@group(0) @binding(2) var<storage, read> b: array<vec4f>;
@group(0) @binding(3) var<storage, read_write> mse_parts: array<f32>;
@group(0) @binding(2) var<storage, read_write> bce_parts: array<f32>;
@group(0) @binding(1) var<storage, read> partialIn: array<f32>;
@group(0) @binding(2) var<storage, read_write> result: array<f32>;
@group(0) @binding(3) var<storage, read> mse_dout: array<f32>;
@group(0) @binding(4) var<storage, read_write> mse_grad: array<vec4f>;
@group(0) @binding(2) var<storage, read> bce_dout: array<f32>;
@group(0) @binding(3) var<storage, read_write> bce_grad: array<vec4f>;

fn lanes(i: u32) -> vec4<bool> { return 4u * i + vec4u(0u, 1u, 2u, 3u) < vec4u(p.n); }
fn full(i: u32) -> bool { return 4u * i + 3u < p.n; }
fn inside(i: u32, k: u32) -> bool { return 4u * i + k < p.n; }
fn nvec4() -> u32 { return (p.n + 3u) / 4u; }

// log(1 + e) for 0 <= e <= 1 without losing small e. Below 1/8 a series (truncation below 1e-8
// relative); above, log(1 + e) loses at most ulp(1)/e = 5e-7 relative. (Goldberg's
// log(u) * e / (u - 1) trick is no use here: lavapipe's log is not accurate enough near 1.)
fn log1p4(e: vec4f) -> vec4f {
  let series = e * (1.0 + e * (-1.0 / 2.0 + e * (1.0 / 3.0 + e * (-1.0 / 4.0 + e * (1.0 / 5.0
    + e * (-1.0 / 6.0 + e * (1.0 / 7.0 + e * (-1.0 / 8.0))))))));
  return select(log(1.0 + e), series, e < vec4f(0.125));
}

// max(z, 0) - z*t + log(1 + exp(-|z|)): the stable form of binary cross-entropy on logits.
fn bce4(z: vec4f) -> vec4f {
  return max(z, vec4f(0.0)) - z * p.label + log1p4(exp(-abs(z)));
}

// sigmoid(z) - t written as (1 - t) sigmoid(z) - t sigmoid(-z): for the usual labels 0 and 1 this
// has no cancellation, so a saturated logit (z = 20, t = 1) keeps its tiny gradient (-2e-9)
// instead of 1 - 1 = 0. exp(-|z|) <= 1: no overflow on either side.
fn sigmoidMinus4(z: vec4f, t: f32) -> vec4f {
  let e = exp(-abs(z));
  let big = 1.0 / (1.0 + e);    // sigmoid(|z|)
  let small = e / (1.0 + e);    // sigmoid(-|z|)
  let pos = z >= vec4f(0.0);
  return (1.0 - t) * select(small, big, pos) - t * select(big, small, pos);
}

@compute @workgroup_size(64)
fn mse_partial(@builtin(global_invocation_id) id: vec3u) {
  let j = id.x + id.y * p.stride;
  if (j >= p.parts) { return; }
  let i1 = min((j + 1u) * p.chunk, nvec4());
  var acc = vec4f(0.0);
  for (var i = j * p.chunk; i < i1; i++) {
    let d = a[i] - b[i];
    acc += select(vec4f(0.0), d * d, lanes(i));
  }
  mse_parts[j] = (acc.x + acc.y) + (acc.z + acc.w);
}

@compute @workgroup_size(64)
fn bce_partial(@builtin(global_invocation_id) id: vec3u) {
  let j = id.x + id.y * p.stride;
  if (j >= p.parts) { return; }
  let i1 = min((j + 1u) * p.chunk, nvec4());
  var acc = vec4f(0.0);
  for (var i = j * p.chunk; i < i1; i++) {
    acc += select(vec4f(0.0), bce4(a[i]), lanes(i));
  }
  bce_parts[j] = (acc.x + acc.y) + (acc.z + acc.w);
}

@compute @workgroup_size(1)
fn finalize() {
  var acc = 0.0;
  for (var j = 0u; j < p.parts; j++) { acc += partialIn[j]; }
  result[0] = acc / f32(p.n);
}

// da = dOut * 2 (a - b) / n
@compute @workgroup_size(256)
fn mse_backward(@builtin(global_invocation_id) id: vec3u) {
  let i = id.x + id.y * p.stride;
  if (4u * i >= p.n) { return; }
  let r = (mse_dout[0] * 2.0 / f32(p.n)) * (a[i] - b[i]);
  if (full(i)) { mse_grad[i] = r; return; }
  for (var k = 0u; k < 3u; k++) { if (inside(i, k)) { mse_grad[i][k] = r[k]; } }
}

// dz = dOut * (sigmoid(z) - t) / n
@compute @workgroup_size(256)
fn bce_backward(@builtin(global_invocation_id) id: vec3u) {
  let i = id.x + id.y * p.stride;
  if (4u * i >= p.n) { return; }
  let r = (bce_dout[0] / f32(p.n)) * (sigmoidMinus4(a[i], p.label));
  if (full(i)) { bce_grad[i] = r; return; }
  for (var k = 0u; k < 3u; k++) { if (inside(i, k)) { bce_grad[i][k] = r[k]; } }
}
