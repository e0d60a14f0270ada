// Prelude of the kernels that share a workgroup-wide operand (conv2d_*, matmul_sg) on adapters with
// subgroups of at least 8 invocations (lavapipe: 8).
// The launcher puts it (or prelude_noshare.wgsl) before the kernel, which declares `kernel`.
//
// Why: on lavapipe (Mesa 25.0) a storage-buffer load costs about the same whether or not every
// invocation reads the same address (measured), and loads are what conv time goes to. The operand that is the
// same for the whole workgroup (weights, or dy for the weight gradient) is therefore loaded once per
// subgroup, spread over lanes 0..7 (lane l loads element l of an 8-vec4 block), and handed to every
// lane by subgroupBroadcast, which costs a register shuffle. Needs all lanes active: the kernels keep
// their loops uniform and mask out-of-range pixels instead of branching.
enable subgroups;

const SHARE = true;

/** Element k (0..7) of the 8-vec4 block whose element (lane % 8) this invocation loaded as v. */
fn lane_value(v: vec4<f32>, k: u32) -> vec4<f32> {
  switch k {
    case 0u: { return subgroupBroadcast(v, 0u); }
    case 1u: { return subgroupBroadcast(v, 1u); }
    case 2u: { return subgroupBroadcast(v, 2u); }
    case 3u: { return subgroupBroadcast(v, 3u); }
    case 4u: { return subgroupBroadcast(v, 4u); }
    case 5u: { return subgroupBroadcast(v, 5u); }
    case 6u: { return subgroupBroadcast(v, 6u); }
    default: { return subgroupBroadcast(v, 7u); }
  }
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
        @builtin(subgroup_invocation_id) lane: u32) {
  kernel(wid, lid, lane % 8u);
}
