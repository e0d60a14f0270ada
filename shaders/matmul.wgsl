// Dense matmul: C[M,N] = op(A)·op(B) (+ bias[N]) (+ C), all row-major.
//   TRANS_A: A is stored [K,M];  TRANS_B: B is stored [N,K].
//
// Register tiles without workgroup memory: each invocation owns TM rows x 4 columns of C and
// keeps them in registers for the whole K loop. On lavapipe (CPU Vulkan) barriers are expensive
// and the CPU caches already do what workgroup memory would, so this style is ~10x faster there
// than shared-memory tiles. What costs there is loads (llvmpipe turns each storage access into a
// per-lane scalar loop), hence vec4 loads and TM x 4 outputs per invocation. Each output is summed by one invocation in increasing k: the same
// inputs give the same bits.
//
// Split-K (tiny M·N, huge K): grid z picks a K range; each split writes its own partial slab and
// `splitk_reduce` adds the slabs in split order (deterministic, no atomics).
//
// Entry points: mm_vec4[_bias] when M, N, K are multiples of 4 (vec4 loads and stores), mm_gen[_bias]
// for any shape (scalar loads, rows/columns clamped so the K loop has no bounds tests).
// Different entry points reuse binding numbers with different types; each uses only its own.

struct Params {
  M: u32, N: u32, K: u32,
  kPer: u32,        // K range per split (a multiple of 4); >= K when not split
  rowOff: u32,      // first row of this dispatch (tall matrices go in chunks of rows)
  accumulate: u32,  // 1: C += result
  splitStride: u32, // elements between split slabs of the output (M*N), 0 when not split
  splits: u32,      // number of slabs (splitk_reduce)
  rowStride: u32,   // elements per grid row (splitk_reduce's 2D grid)
}

override TRANS_A: bool = false;
override TRANS_B: bool = false;
override TM: u32 = 8;   // rows per invocation, at most 8 (a multiple of 4 for the vec4 path)
override WG_X: u32 = 8; // invocations along N (4 columns each)
override WG_Y: u32 = 8; // invocations along M (TM rows each)
override WG_R: u32 = 256; // splitk_reduce

@group(0) @binding(0) var<uniform> p: Params;

@group(0) @binding(1) var<storage, read> a4: array<vec4f>;
@group(0) @binding(2) var<storage, read> b4: array<vec4f>;
@group(0) @binding(3) var<storage, read_write> c4: array<vec4f>;

@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;

@group(0) @binding(4) var<storage, read> bias: array<f32>;

// splitk_reduce: partial slabs, the output, the bias.
@group(0) @binding(1) var<storage, read> part: array<f32>;
@group(0) @binding(2) var<storage, read_write> cr: array<f32>;
@group(0) @binding(3) var<storage, read> biasR: array<f32>;

struct Acc { v: array<vec4f, 8> }

// ---- vec4 path: M, N, K multiples of 4 ----------------------------------------------------------

fn core_vec4(row0: u32, col0: u32, k0: u32, k1: u32) -> Acc {
  var acc: Acc;
  let M4 = p.M / 4u;
  let N4 = p.N / 4u;
  let K4 = p.K / 4u;
  let cq = col0 / 4u;
  for (var kq = k0 / 4u; kq < k1 / 4u; kq++) {
    let k = kq * 4u;
    // bm's column kk = row k+kk of op(B), a vec4 over the 4 output columns.
    var bm: mat4x4f;
    if (TRANS_B) {
      bm = transpose(mat4x4f(b4[col0 * K4 + kq], b4[(col0 + 1u) * K4 + kq],
                             b4[(col0 + 2u) * K4 + kq], b4[(col0 + 3u) * K4 + kq]));
    } else {
      bm = mat4x4f(b4[k * N4 + cq], b4[(k + 1u) * N4 + cq], b4[(k + 2u) * N4 + cq], b4[(k + 3u) * N4 + cq]);
    }
    for (var rg = 0u; rg < TM; rg += 4u) {
      // Rows past M (M is a multiple of 4, so whole groups) read the last group; never stored.
      let r = min(row0 + rg, p.M - 4u);
      // am's column i = row r+i of op(A) over k..k+3.
      var am: mat4x4f;
      if (TRANS_A) {
        let rq = r / 4u;
        am = transpose(mat4x4f(a4[k * M4 + rq], a4[(k + 1u) * M4 + rq], a4[(k + 2u) * M4 + rq], a4[(k + 3u) * M4 + rq]));
      } else {
        am = mat4x4f(a4[r * K4 + kq], a4[(r + 1u) * K4 + kq], a4[(r + 2u) * K4 + kq], a4[(r + 3u) * K4 + kq]);
      }
      acc.v[rg] += bm * am[0];
      acc.v[rg + 1u] += bm * am[1];
      acc.v[rg + 2u] += bm * am[2];
      acc.v[rg + 3u] += bm * am[3];
    }
  }
  return acc;
}

fn store_vec4(acc: Acc, row0: u32, col0: u32, slab: u32, bv: vec4f) {
  let N4 = p.N / 4u;
  for (var r = 0u; r < TM; r++) {
    let row = row0 + r;
    if (row < p.M) {
      let i = slab / 4u + row * N4 + col0 / 4u;
      var v = acc.v[r] + bv;
      if (p.accumulate != 0u) { v += c4[i]; }
      c4[i] = v;
    }
  }
}

struct Tile { row0: u32, col0: u32, k0: u32, k1: u32, slab: u32, ok: bool }

fn tile(gid: vec3u) -> Tile {
  var t: Tile;
  t.col0 = gid.x * 4u;
  t.row0 = p.rowOff + gid.y * TM;
  t.k0 = gid.z * p.kPer;
  t.k1 = min(p.K, t.k0 + p.kPer);
  t.slab = gid.z * p.splitStride;
  t.ok = t.col0 < p.N && t.row0 < p.M;
  return t;
}

@compute @workgroup_size(WG_X, WG_Y)
fn mm_vec4(@builtin(global_invocation_id) gid: vec3u) {
  let t = tile(gid);
  if (!t.ok) { return; }
  store_vec4(core_vec4(t.row0, t.col0, t.k0, t.k1), t.row0, t.col0, t.slab, vec4f(0.0));
}

@compute @workgroup_size(WG_X, WG_Y)
fn mm_vec4_bias(@builtin(global_invocation_id) gid: vec3u) {
  let t = tile(gid);
  if (!t.ok) { return; }
  let bv = vec4f(bias[t.col0], bias[t.col0 + 1u], bias[t.col0 + 2u], bias[t.col0 + 3u]);
  store_vec4(core_vec4(t.row0, t.col0, t.k0, t.k1), t.row0, t.col0, t.slab, bv);
}

// ---- general path: any M, N, K ------------------------------------------------------------------

fn core_gen(row0: u32, col0: u32, k0: u32, k1: u32) -> Acc {
  var acc: Acc;
  // Clamp rows and columns into range: the loop then needs no tests, the extras are never stored.
  let c0 = min(col0, p.N - 1u);
  let c1 = min(col0 + 1u, p.N - 1u);
  let c2 = min(col0 + 2u, p.N - 1u);
  let c3 = min(col0 + 3u, p.N - 1u);
  var rows: array<u32, 8>;
  for (var r = 0u; r < TM; r++) { rows[r] = min(row0 + r, p.M - 1u); }
  for (var k = k0; k < k1; k++) {
    var bv: vec4f;
    if (TRANS_B) {
      bv = vec4f(b[c0 * p.K + k], b[c1 * p.K + k], b[c2 * p.K + k], b[c3 * p.K + k]);
    } else {
      let o = k * p.N;
      bv = vec4f(b[o + c0], b[o + c1], b[o + c2], b[o + c3]);
    }
    for (var r = 0u; r < TM; r++) {
      var av: f32;
      if (TRANS_A) { av = a[k * p.M + rows[r]]; } else { av = a[rows[r] * p.K + k]; }
      acc.v[r] += av * bv;
    }
  }
  return acc;
}

fn store_gen(acc: Acc, row0: u32, col0: u32, slab: u32, bv: vec4f) {
  for (var r = 0u; r < TM; r++) {
    let row = row0 + r;
    if (row >= p.M) { break; }
    let v = acc.v[r] + bv;
    for (var j = 0u; j < 4u; j++) {
      if (col0 + j < p.N) {
        let i = slab + row * p.N + col0 + j;
        var x = v[j];
        if (p.accumulate != 0u) { x += c[i]; }
        c[i] = x;
      }
    }
  }
}

@compute @workgroup_size(WG_X, WG_Y)
fn mm_gen(@builtin(global_invocation_id) gid: vec3u) {
  let t = tile(gid);
  if (!t.ok) { return; }
  store_gen(core_gen(t.row0, t.col0, t.k0, t.k1), t.row0, t.col0, t.slab, vec4f(0.0));
}

@compute @workgroup_size(WG_X, WG_Y)
fn mm_gen_bias(@builtin(global_invocation_id) gid: vec3u) {
  let t = tile(gid);
  if (!t.ok) { return; }
  let n1 = p.N - 1u;
  let bv = vec4f(bias[t.col0], bias[min(t.col0 + 1u, n1)], bias[min(t.col0 + 2u, n1)], bias[min(t.col0 + 3u, n1)]);
  store_gen(core_gen(t.row0, t.col0, t.k0, t.k1), t.row0, t.col0, t.slab, bv);
}

// ---- split-K reduction: C[i] = (C[i]) + bias + sum over slabs, in slab order -------------------

fn reduce_at(i: u32) -> f32 {
  var s = 0.0;
  for (var z = 0u; z < p.splits; z++) { s += part[z * p.splitStride + i]; }
  if (p.accumulate != 0u) { s += cr[i]; }
  return s;
}

@compute @workgroup_size(WG_R)
fn splitk_reduce(@builtin(global_invocation_id) gid: vec3u) {
  let i = gid.x + gid.y * p.rowStride;
  if (i < p.M * p.N) { cr[i] = reduce_at(i); }
}

@compute @workgroup_size(WG_R)
fn splitk_reduce_bias(@builtin(global_invocation_id) gid: vec3u) {
  let i = gid.x + gid.y * p.rowStride;
  if (i < p.M * p.N) { cr[i] = reduce_at(i) + biasR[i % p.N]; }
}
