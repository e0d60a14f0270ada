// Bilinear upsampling by an integer factor s, NHWC, PyTorch's F.interpolate(mode='bilinear',
// align_corners=False): output pixel o samples the input at (o + 0.5) / s - 0.5, clamped below at 0,
// between input pixels i0 = floor of that and i1 = min(i0 + 1, size - 1) with weight l = src - i0
// on i1 (so the edges repeat the edge pixel). Separable: the row blend of the two column blends.
// Then y = a * that + b (the generator maps its [0, 1] input to its [-1, 1] output: a = 2, b = -1).
// The generator's global skip (`skip: 'bilinear'`, as in BasicSR's MSRResNet): forward only, its
// input is the LR image, which takes no gradient.
//
// `nearest`: the same for nearest-neighbour upsampling (output pixel o reads input o / s), the
// global skip of Real-ESRGAN's compact network (SRVGGNetCompact).
//
// One invocation per output element (n, oy, ox, c); C is the image's 3 channels, so scalar loads.
struct Params {
  count: u32,    // output elements: N * sH * sW * C
  stride: u32,   // invocations per grid row
  H: u32, W: u32, C: u32, s: u32,
  a: f32, b: f32,
}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

// Output element d as (n, oy, ox, c).
fn out_coords(d: u32) -> vec4u {
  let pix = d / p.C;
  let Wo = p.W * p.s;
  let noy = pix / Wo;
  return vec4u(noy / (p.H * p.s), noy % (p.H * p.s), pix % Wo, d % p.C);
}

// The two source indices along an axis of `size` pixels and the weight on the second.
fn taps(o: u32, size: u32) -> vec3f {
  let at = max((f32(o) + 0.5) / f32(p.s) - 0.5, 0.0);
  let i0 = min(u32(floor(at)), size - 1u);
  let i1 = min(i0 + 1u, size - 1u);
  return vec3f(f32(i0), f32(i1), at - f32(i0));
}

@compute @workgroup_size(64)
fn bilinear(@builtin(global_invocation_id) id: vec3u) {
  let d = id.x + id.y * p.stride;
  if (d >= p.count) { return; }
  let o = out_coords(d);
  let c = o.w;
  let ox = o.z;
  let oy = o.y;
  let n = o.x;
  let ty = taps(oy, p.H);
  let tx = taps(ox, p.W);
  let base = n * p.H;
  let r0 = (base + u32(ty.x)) * p.W;
  let r1 = (base + u32(ty.y)) * p.W;
  let x0 = u32(tx.x);
  let x1 = u32(tx.y);
  let top = mix(src[(r0 + x0) * p.C + c], src[(r0 + x1) * p.C + c], tx.z);
  let bottom = mix(src[(r1 + x0) * p.C + c], src[(r1 + x1) * p.C + c], tx.z);
  dst[d] = p.a * mix(top, bottom, ty.z) + p.b;
}

@compute @workgroup_size(64)
fn nearest(@builtin(global_invocation_id) id: vec3u) {
  let d = id.x + id.y * p.stride;
  if (d >= p.count) { return; }
  let o = out_coords(d);
  dst[d] = p.a * src[((o.x * p.H + o.y / p.s) * p.W + o.z / p.s) * p.C + o.w] + p.b;
}
