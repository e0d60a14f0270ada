// Prelude of the same kernels on adapters without subgroups (or with fewer than 8 lanes): every
// invocation loads the shared operand itself (SHARE = false); see prelude_share.wgsl.
const SHARE = false;

fn lane_value(v: vec4<f32>, k: u32) -> vec4<f32> { return v; }  // unused when SHARE is false

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  kernel(wid, lid, 0u);
}
