// out[i] = s[0] * factor for i < n: spreads a scalar held on the GPU (an upstream gradient)
// over a tensor without reading it back.
struct Params { n: u32, rowStride: u32, factor: f32, _pad: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> s: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) id: vec3u) {
  let i = id.x + id.y * p.rowStride;
  if (i < p.n) { out[i] = s[0] * p.factor; }
}
