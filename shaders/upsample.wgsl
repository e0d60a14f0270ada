// Nearest-neighbour upsampling by 2, NHWC: out[n, 2h + i, 2w + j, c] = in[n, h, w, c] for i, j in {0, 1}
// (ESRGAN's upsampling: a 3x3 conv after it, in place of the sub-pixel conv and its pixel shuffle).
// Backward: dx[n, h, w, c] = the sum of dy over the four output pixels of (h, w), in a fixed order.
//
// One invocation per input pixel and vec4 of channels (the launcher pads nothing: `up4` / `down4`
// need C % 4 == 0, the generator's case; `up1` / `down1` take any C): each moves one input value to
// four output pixels (or sums four back), so both directions are gathers and plain stores.
struct Params {
  count: u32,    // invocations: N*H*W*C4 (C4 = C/4 for the vec4 entries, C for the scalar ones)
  stride: u32,   // invocations per grid row
  W: u32, C4: u32,
}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src4: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> dst4: array<vec4f>;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

// Invocation d (input element (n*H + h, w, c4)) -> index of its top-left output element.
fn out_index(d: u32) -> u32 {
  let c4 = d % p.C4;
  let pix = d / p.C4;
  let w = pix % p.W;
  let nh = pix / p.W;
  return ((2u * nh) * (2u * p.W) + 2u * w) * p.C4 + c4;
}

@compute @workgroup_size(64)
fn up4(@builtin(global_invocation_id) id: vec3u) {
  let d = id.x + id.y * p.stride;
  if (d >= p.count) { return; }
  let o = out_index(d);
  let row = 2u * p.W * p.C4;
  let v = src4[d];
  dst4[o] = v;
  dst4[o + p.C4] = v;
  dst4[o + row] = v;
  dst4[o + row + p.C4] = v;
}

@compute @workgroup_size(64)
fn down4(@builtin(global_invocation_id) id: vec3u) {
  let d = id.x + id.y * p.stride;
  if (d >= p.count) { return; }
  let o = out_index(d);
  let row = 2u * p.W * p.C4;
  dst4[d] = (src4[o] + src4[o + p.C4]) + (src4[o + row] + src4[o + row + p.C4]);
}

@compute @workgroup_size(64)
fn up1(@builtin(global_invocation_id) id: vec3u) {
  let d = id.x + id.y * p.stride;
  if (d >= p.count) { return; }
  let o = out_index(d);
  let row = 2u * p.W * p.C4;
  let v = src[d];
  dst[o] = v;
  dst[o + p.C4] = v;
  dst[o + row] = v;
  dst[o + row + p.C4] = v;
}

@compute @workgroup_size(64)
fn down1(@builtin(global_invocation_id) id: vec3u) {
  let d = id.x + id.y * p.stride;
  if (d >= p.count) { return; }
  let o = out_index(d);
  let row = 2u * p.W * p.C4;
  dst[d] = (src[o] + src[o + p.C4]) + (src[o + row] + src[o + row + p.C4]);
}
