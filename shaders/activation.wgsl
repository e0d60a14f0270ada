// Pointwise activations and their backward, plus PReLU (one slope per channel, NHWC so the
// channel of flat index i is i % C). Flat kernels take four elements per invocation (see
// elementwise.wgsl for the vec4 tail rule). The activation kind is a uniform: the branch is
// uniform, so it costs nothing measurable next to the memory traffic, and one pipeline serves all.
struct Params {
  n: u32,        // elements
  stride: u32,   // invocations per grid row
  kind: u32,     // ACT_CODE of src/kernels/activation.ts: 1 relu, 2 leaky relu, 4 tanh, 5 sigmoid
  alpha: f32,    // leaky relu negative slope
  C: u32,        // prelu channels
  rows: u32,     // prelu backward: n / C
  block: u32,    // prelu backward: rows per partial sum
  blocks: u32,   // prelu backward: partial sums per channel
}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x4: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> y4: array<vec4f>;
@group(0) @binding(2) var<storage, read> grad: array<vec4f>;        // backward: dy
@group(0) @binding(3) var<storage, read_write> grad_in: array<vec4f>;
@group(0) @binding(2) var<storage, read> slope: array<f32>;
@group(0) @binding(3) var<storage, read_write> prelu_y: array<vec4f>;
// prelu backward, scalar: x, slope, dy, dx, partial sums
@group(0) @binding(1) var<storage, read> xs: array<f32>;
@group(0) @binding(3) var<storage, read> dys: array<f32>;
@group(0) @binding(4) var<storage, read_write> dxs: array<f32>;
@group(0) @binding(5) var<storage, read_write> partial: array<f32>;
// prelu backward, four channels at once (C % 4 == 0): x, slope, dy, dx, partial sums
@group(0) @binding(3) var<storage, read> dy4: array<vec4f>;
@group(0) @binding(4) var<storage, read_write> dx4: array<vec4f>;
// prelu slope finalize: partial sums in, dslope out
@group(0) @binding(1) var<storage, read> partialIn: array<f32>;
@group(0) @binding(2) var<storage, read_write> dslope: array<f32>;

fn full(i: u32) -> bool { return 4u * i + 3u < p.n; }
fn inside(i: u32, k: u32) -> bool { return 4u * i + k < p.n; }

// tanh from exp(-2|x|): never inf/inf (the textbook (e^2x-1)/(e^2x+1) is NaN past x ~ 44), and
// a short odd series near 0, where 1 - exp(-2|x|) would lose most of its digits.
fn tanh4(v: vec4f) -> vec4f {
  let a = abs(v);
  let t = exp(-2.0 * a);
  let big = (1.0 - t) / (1.0 + t);
  let a2 = a * a;
  let small = a * (1.0 + a2 * (-1.0 / 3.0 + a2 * (2.0 / 15.0 + a2 * (-17.0 / 315.0))));
  return sign(v) * select(big, small, a < vec4f(0.125));
}

// sigmoid from exp(-|x|) <= 1: no overflow on either side.
fn sigmoid4(v: vec4f) -> vec4f {
  let e = exp(-abs(v));
  return select(e, vec4f(1.0), v >= vec4f(0.0)) / (1.0 + e);
}

@compute @workgroup_size(256)
fn forward(@builtin(global_invocation_id) id: vec3u) {
  let i = id.x + id.y * p.stride;
  if (4u * i >= p.n) { return; }
  let v = x4[i];
  var r: vec4f;
  switch p.kind {
    case 1u: { r = max(v, vec4f(0.0)); }
    case 2u: { r = select(p.alpha * v, v, v > vec4f(0.0)); }
    case 4u: { r = tanh4(v); }
    case 5u: { r = sigmoid4(v); }
    default: { r = v; }
  }
  if (full(i)) { y4[i] = r; return; }
  for (var k = 0u; k < 3u; k++) { if (inside(i, k)) { y4[i][k] = r[k]; } }
}

// src is x for relu / leaky relu (PyTorch's rule: the gradient passes where x > 0) and y for
// tanh / sigmoid (their derivatives are cheapest from the output).
@compute @workgroup_size(256)
fn backward(@builtin(global_invocation_id) id: vec3u) {
  let i = id.x + id.y * p.stride;
  if (4u * i >= p.n) { return; }
  let s = x4[i];
  let g = grad[i];
  var r: vec4f;
  switch p.kind {
    case 1u: { r = select(vec4f(0.0), g, s > vec4f(0.0)); }
    case 2u: { r = select(p.alpha * g, g, s > vec4f(0.0)); }
    case 4u: { r = g * (1.0 - s * s); }
    case 5u: { r = g * s * (1.0 - s); }
    default: { r = g; }
  }
  if (full(i)) { grad_in[i] = r; return; }
  for (var k = 0u; k < 3u; k++) { if (inside(i, k)) { grad_in[i][k] = r[k]; } }
}

@compute @workgroup_size(256)
fn prelu_forward(@builtin(global_invocation_id) id: vec3u) {
  let i = id.x + id.y * p.stride;
  if (4u * i >= p.n) { return; }
  let v = x4[i];
  let c0 = (4u * i) % p.C;
  var w: vec4f;
  if (p.C % 4u == 0u) {
    // the four elements are channels c0 .. c0+3 of one pixel: no per-element modulo
    w = vec4f(slope[c0], slope[c0 + 1u], slope[c0 + 2u], slope[c0 + 3u]);
  } else {
    for (var k = 0u; k < 4u; k++) { w[k] = slope[(c0 + k) % p.C]; }
  }
  let r = select(w * v, v, v > vec4f(0.0));
  if (full(i)) { prelu_y[i] = r; return; }
  for (var k = 0u; k < 3u; k++) { if (inside(i, k)) { prelu_y[i][k] = r[k]; } }
}

// Invocation (block b, channel c) walks rows [b*block, (b+1)*block) of channel c: it writes dx and
// one partial sum of dslope. Neighbouring invocations take neighbouring channels, so loads stay
// contiguous across a workgroup. The partial sums are reduced in a fixed order by prelu_slope.
@compute @workgroup_size(64)
fn prelu_backward(@builtin(global_invocation_id) id: vec3u) {
  let j = id.x + id.y * p.stride;
  if (j >= p.blocks * p.C) { return; }
  let c = j % p.C;
  let b = j / p.C;
  let w = slope[c];
  let r0 = b * p.block;
  let r1 = min(r0 + p.block, p.rows);
  var acc = 0.0;
  for (var r = r0; r < r1; r++) {
    let e = r * p.C + c;
    let v = xs[e];
    let g = dys[e];
    if (v > 0.0) {
      dxs[e] = g;
    } else {
      dxs[e] = w * g;
      acc += v * g;
    }
  }
  partial[j] = acc;
}

// prelu_backward with one invocation per (block, group of four channels), vec4 loads and stores.
@compute @workgroup_size(64)
fn prelu_backward4(@builtin(global_invocation_id) id: vec3u) {
  let Cq = p.C / 4u;
  let j = id.x + id.y * p.stride;
  if (j >= p.blocks * Cq) { return; }
  let cq = j % Cq;
  let b = j / Cq;
  let c = 4u * cq;
  let w = vec4f(slope[c], slope[c + 1u], slope[c + 2u], slope[c + 3u]);
  let r0 = b * p.block;
  let r1 = min(r0 + p.block, p.rows);
  var acc = vec4f(0.0);
  for (var r = r0; r < r1; r++) {
    let e = r * Cq + cq;
    let v = x4[e];
    let g = dy4[e];
    let pos = v > vec4f(0.0);
    dx4[e] = select(w * g, g, pos);
    acc += select(v * g, vec4f(0.0), pos);
  }
  let o = b * p.C + c;
  partial[o] = acc.x;
  partial[o + 1u] = acc.y;
  partial[o + 2u] = acc.z;
  partial[o + 3u] = acc.w;
}

@compute @workgroup_size(64)
fn prelu_slope(@builtin(global_invocation_id) id: vec3u) {
  let c = id.x;
  if (c >= p.C) { return; }
  var acc = 0.0;
  for (var b = 0u; b < p.blocks; b++) { acc += partialIn[b * p.C + c]; }
  dslope[c] = acc;
}
