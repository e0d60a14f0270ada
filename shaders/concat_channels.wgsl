// Channel slices of NHWC tensors: the concatenation along channels (a dense block's conv input) and
// its gradient. `pack` copies src [P, Cs] into channels [off, off + Cs) of dst [P, Cd]; `unpack`
// copies those channels of src [P, Cd] out into dst [P, Cs]. Plain copies, one element per
// invocation: the channel counts of a dense block (64, 32, ...) are not always multiples of 4 apart.
struct Params {
  count: u32,    // elements copied: P * Cs
  stride: u32,   // invocations per grid row
  Cs: u32,       // the slice's channels
  Cd: u32,       // the whole tensor's channels
  off: u32,      // the slice's first channel
}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

@compute @workgroup_size(64)
fn pack(@builtin(global_invocation_id) id: vec3u) {
  let d = id.x + id.y * p.stride;
  if (d >= p.count) { return; }
  let c = d % p.Cs;
  let px = d / p.Cs;
  dst[px * p.Cd + p.off + c] = src[d];
}

@compute @workgroup_size(64)
fn unpack(@builtin(global_invocation_id) id: vec3u) {
  let d = id.x + id.y * p.stride;
  if (d >= p.count) { return; }
  let c = d % p.Cs;
  let px = d / p.Cs;
  dst[d] = src[px * p.Cd + p.off + c];
}
