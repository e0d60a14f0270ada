// 2x2 max pooling, stride 2, NHWC, output floor(H/2) x floor(W/2) (PyTorch MaxPool2d(2)).
// Ties go to the first maximum in row-major window order (strict >), as in PyTorch, and NaN
// propagates (PyTorch's "val > max || isnan(val)").
// Backward is a gather: one invocation per 2x2 input window (ceil(H/2) x ceil(W/2) of them, so
// the odd last row / column is covered too) writes all of its dx cells: dy at the argmax, 0
// elsewhere. No atomics, no separate zero fill.
// The *4 entry points do four channels at once (C % 4 == 0: every VGG layer).
struct Params {
  count: u32,   // invocations: N*Ho*Wo*Cv forward, N*ceil(H/2)*ceil(W/2)*Cv backward
  stride: u32,  // invocations per grid row
  H: u32, W: u32,
  Cv: u32,      // channels, or channel vec4s in the *4 entry points
}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;
@group(0) @binding(1) var<storage, read> x4: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> y4: array<vec4f>;
@group(0) @binding(2) var<storage, read> dy4: array<vec4f>;
@group(0) @binding(3) var<storage, read_write> dx4: array<vec4f>;

// First max: a later cell wins only if strictly greater, or if it is NaN and the max so far is not.
// NaN is tested on the bits: WGSL lets compilers assume no NaNs, and lavapipe folds v != v away.
fn nan4(v: vec4f) -> vec4<bool> { return (bitcast<vec4u>(v) & vec4u(0x7fffffffu)) > vec4u(0x7f800000u); }
fn nan1(v: f32) -> bool { return (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u; }
fn better(v: f32, m: f32) -> bool { return (v > m || nan1(v)) && !nan1(m); }
fn better4(v: vec4f, m: vec4f) -> vec4<bool> { return ((v > m) | nan4(v)) & !nan4(m); }

struct Win { n: u32, h: u32, w: u32, c: u32 }
fn window(j: u32, Wn: u32, Hn: u32) -> Win {
  let c = j % p.Cv;
  let w = (j / p.Cv) % Wn;
  let h = (j / (p.Cv * Wn)) % Hn;
  return Win(j / (p.Cv * Wn * Hn), h, w, c);
}
fn at(n: u32, h: u32, w: u32, c: u32) -> u32 { return ((n * p.H + h) * p.W + w) * p.Cv + c; }

@compute @workgroup_size(64)
fn forward(@builtin(global_invocation_id) id: vec3u) {
  let j = id.x + id.y * p.stride;
  if (j >= p.count) { return; }
  let o = window(j, p.W / 2u, p.H / 2u);
  let h = 2u * o.h;
  let w = 2u * o.w;
  var m = x[at(o.n, h, w, o.c)];
  let v1 = x[at(o.n, h, w + 1u, o.c)]; if (better(v1, m)) { m = v1; }
  let v2 = x[at(o.n, h + 1u, w, o.c)]; if (better(v2, m)) { m = v2; }
  let v3 = x[at(o.n, h + 1u, w + 1u, o.c)]; if (better(v3, m)) { m = v3; }
  y[j] = m;
}

@compute @workgroup_size(64)
fn backward(@builtin(global_invocation_id) id: vec3u) {
  let j = id.x + id.y * p.stride;
  if (j >= p.count) { return; }
  let Ho = p.H / 2u;
  let Wo = p.W / 2u;
  let o = window(j, (p.W + 1u) / 2u, (p.H + 1u) / 2u);
  let h = 2u * o.h;
  let w = 2u * o.w;
  if (o.h >= Ho || o.w >= Wo) {
    // a partial window on the odd last row / column: never pooled, so no gradient
    for (var a = 0u; a < 2u; a++) {
      for (var b = 0u; b < 2u; b++) {
        if (h + a < p.H && w + b < p.W) { dx[at(o.n, h + a, w + b, o.c)] = 0.0; }
      }
    }
    return;
  }
  var m = x[at(o.n, h, w, o.c)];
  var k = 0u;
  let v1 = x[at(o.n, h, w + 1u, o.c)]; if (better(v1, m)) { m = v1; k = 1u; }
  let v2 = x[at(o.n, h + 1u, w, o.c)]; if (better(v2, m)) { m = v2; k = 2u; }
  let v3 = x[at(o.n, h + 1u, w + 1u, o.c)]; if (better(v3, m)) { m = v3; k = 3u; }
  let g = dy[((o.n * Ho + o.h) * Wo + o.w) * p.Cv + o.c];
  dx[at(o.n, h, w, o.c)] = select(0.0, g, k == 0u);
  dx[at(o.n, h, w + 1u, o.c)] = select(0.0, g, k == 1u);
  dx[at(o.n, h + 1u, w, o.c)] = select(0.0, g, k == 2u);
  dx[at(o.n, h + 1u, w + 1u, o.c)] = select(0.0, g, k == 3u);
}

@compute @workgroup_size(64)
fn forward4(@builtin(global_invocation_id) id: vec3u) {
  let j = id.x + id.y * p.stride;
  if (j >= p.count) { return; }
  let o = window(j, p.W / 2u, p.H / 2u);
  let h = 2u * o.h;
  let w = 2u * o.w;
  var m = x4[at(o.n, h, w, o.c)];
  let v1 = x4[at(o.n, h, w + 1u, o.c)]; m = select(m, v1, better4(v1, m));
  let v2 = x4[at(o.n, h + 1u, w, o.c)]; m = select(m, v2, better4(v2, m));
  let v3 = x4[at(o.n, h + 1u, w + 1u, o.c)]; m = select(m, v3, better4(v3, m));
  y4[j] = m;
}

@compute @workgroup_size(64)
fn backward4(@builtin(global_invocation_id) id: vec3u) {
  let j = id.x + id.y * p.stride;
  if (j >= p.count) { return; }
  let Ho = p.H / 2u;
  let Wo = p.W / 2u;
  let o = window(j, (p.W + 1u) / 2u, (p.H + 1u) / 2u);
  let h = 2u * o.h;
  let w = 2u * o.w;
  let zero = vec4f(0.0);
  if (o.h >= Ho || o.w >= Wo) {
    for (var a = 0u; a < 2u; a++) {
      for (var b = 0u; b < 2u; b++) {
        if (h + a < p.H && w + b < p.W) { dx4[at(o.n, h + a, w + b, o.c)] = zero; }
      }
    }
    return;
  }
  var m = x4[at(o.n, h, w, o.c)];
  var k = vec4u(0u);
  let v1 = x4[at(o.n, h, w + 1u, o.c)]; let b1 = better4(v1, m); m = select(m, v1, b1); k = select(k, vec4u(1u), b1);
  let v2 = x4[at(o.n, h + 1u, w, o.c)]; let b2 = better4(v2, m); m = select(m, v2, b2); k = select(k, vec4u(2u), b2);
  let v3 = x4[at(o.n, h + 1u, w + 1u, o.c)]; let b3 = better4(v3, m); k = select(k, vec4u(3u), b3);
  let g = dy4[((o.n * Ho + o.h) * Wo + o.w) * p.Cv + o.c];
  dx4[at(o.n, h, w, o.c)] = select(zero, g, k == vec4u(0u));
  dx4[at(o.n, h, w + 1u, o.c)] = select(zero, g, k == vec4u(1u));
  dx4[at(o.n, h + 1u, w, o.c)] = select(zero, g, k == vec4u(2u));
  dx4[at(o.n, h + 1u, w + 1u, o.c)] = select(zero, g, k == vec4u(3u));
}
