// Fused Adam step, PyTorch semantics (torch.optim.Adam, no weight decay, not amsgrad):
//   m = m + (1 - b1) (g - m)          (PyTorch's lerp form)
//   v = b2 v + (1 - b2) g^2
//   p = p - stepSize * (m / (sqrt(v) / sqrt(bc2) + eps)),  stepSize = lr / bc1
// in PyTorch's order of operations (its _single_tensor_adam), so results round alike.
// with bc1 = 1 - b1^t and bc2 = 1 - b2^t computed on the host in float64.
// param, m and v are each bound once as read_write (in place); four elements per invocation,
// the last vec4 storing only the components below n.
struct Params {
  n: u32,
  stride: u32,          // invocations per grid row
  oneMinusBeta1: f32,
  beta2: f32,
  oneMinusBeta2: f32,
  stepSize: f32,        // lr / (1 - beta1^t)
  sqrtBc2: f32,         // sqrt(1 - beta2^t)
  eps: f32,
}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> param: array<vec4f>;
@group(0) @binding(2) var<storage, read> grad: array<vec4f>;
@group(0) @binding(3) var<storage, read_write> m: array<vec4f>;
@group(0) @binding(4) var<storage, read_write> v: array<vec4f>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) id: vec3u) {
  let i = id.x + id.y * p.stride;
  if (4u * i >= p.n) { return; }
  let g = grad[i];
  let m1 = m[i] + p.oneMinusBeta1 * (g - m[i]);
  let v1 = p.beta2 * v[i] + p.oneMinusBeta2 * (g * g);
  let p1 = param[i] - p.stepSize * (m1 / (sqrt(v1) / p.sqrtBc2 + p.eps));
  if (4u * i + 3u < p.n) {
    m[i] = m1;
    v[i] = v1;
    param[i] = p1;
    return;
  }
  for (var k = 0u; k < 3u; k++) {
    if (4u * i + k < p.n) {
      m[i][k] = m1[k];
      v[i][k] = v1[k];
      param[i][k] = p1[k];
    }
  }
}
