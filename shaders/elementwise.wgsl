// Elementwise kernels over flat float32 tensors, four elements per invocation.
// vec4 loads run about 3.5x faster than scalar ones on lavapipe, so every n takes the vec4 path:
// the last vec4 may straddle n, and there only the components below n are stored (reading past
// n is safe because pool buffers are whole multiples of 16 bytes; the launchers check it).
// Entry points share binding numbers; each entry point uses its own contiguous set, 1, 2, ...
struct Params {
  n: u32,        // elements
  stride: u32,   // invocations per grid row (2-D grids for more than 65535 workgroups)
  alpha: f32,
  beta: f32,
  op: u32,       // binary: 0 = alpha*a + beta*b, 1 = a*b
}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<vec4f>;
@group(0) @binding(2) var<storage, read> b: array<vec4f>;
@group(0) @binding(3) var<storage, read_write> result: array<vec4f>;
@group(0) @binding(1) var<storage, read_write> dst: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> scaled: array<vec4f>;

fn full(i: u32) -> bool { return 4u * i + 3u < p.n; }
fn inside(i: u32, k: u32) -> bool { return 4u * i + k < p.n; }

@compute @workgroup_size(256)
fn binary(@builtin(global_invocation_id) id: vec3u) {
  let i = id.x + id.y * p.stride;
  if (4u * i >= p.n) { return; }
  let x = a[i];
  let y = b[i];
  var r: vec4f;
  if (p.op == 1u) { r = x * y; } else { r = p.alpha * x + p.beta * y; }
  if (full(i)) { result[i] = r; return; }
  for (var k = 0u; k < 3u; k++) { if (inside(i, k)) { result[i][k] = r[k]; } }
}

@compute @workgroup_size(256)
fn scale(@builtin(global_invocation_id) id: vec3u) {
  let i = id.x + id.y * p.stride;
  if (4u * i >= p.n) { return; }
  let r = p.alpha * a[i];
  if (full(i)) { scaled[i] = r; return; }
  for (var k = 0u; k < 3u; k++) { if (inside(i, k)) { scaled[i][k] = r[k]; } }
}

@compute @workgroup_size(256)
fn fill(@builtin(global_invocation_id) id: vec3u) {
  let i = id.x + id.y * p.stride;
  if (4u * i >= p.n) { return; }
  if (full(i)) { dst[i] = vec4f(p.alpha); return; }
  for (var k = 0u; k < 3u; k++) { if (inside(i, k)) { dst[i][k] = p.alpha; } }
}

// acc += x, with acc bound once as read_write (the gradient accumulator of autograd).
@compute @workgroup_size(256)
fn accumulate(@builtin(global_invocation_id) id: vec3u) {
  let i = id.x + id.y * p.stride;
  if (4u * i >= p.n) { return; }
  let r = dst[i] + b[i];
  if (full(i)) { dst[i] = r; return; }
  for (var k = 0u; k < 3u; k++) { if (inside(i, k)) { dst[i][k] = r[k]; } }
}
