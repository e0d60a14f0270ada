// Dense matmul with subgroup-shared B: C[M,N] = op(A)·op(B) (+ bias[N]) (+ C), row-major, with M, N
// and K multiples of 4. TRANS_A: A is stored [K,M]; TRANS_B: B is stored [N,K].
//
// The same idea as the conv kernels (see prelude_share.wgsl, the prelude this file is compiled
// behind): a workgroup's invocations all work on the same 4*VN output columns and on different rows,
// so at every k step they need the same block of B. With SHARE, that block (4 k-rows x 4*VN columns,
// 4*VN vec4s) is loaded once per subgroup, spread over 8 lanes, and handed to every lane by
// subgroupBroadcast. Each invocation loads only its own TM rows of A (TM vec4s per k step) and keeps
// a TM x 4*VN tile of C in registers: no workgroup memory, no barriers (both costly on lavapipe).
// Subgroup operations need every lane active, so rows and columns past the edges are clamped (their
// results never stored) and the k loop is uniform across the workgroup.
//
// Each output is summed by one invocation in increasing k: the same inputs give the same bits.
// Split-K: workgroup z picks a K range and writes its own slab; matmul.wgsl `splitk_reduce` adds
// the slabs in order (deterministic, no atomics).
// Batches: workgroup z also picks one of `batch` independent products (z = split + S * batch index),
// whose A, B and C start aBatch, bBatch and cBatch vec4s after the previous one's (Winograd's 36
// per-position products, see winograd.wgsl). A's rows (not transposed) are lda4 vec4s apart, which may
// exceed K/4: a product over the first K channels of a wider tensor (winograd.ts WinogradConcat).

struct Params {
  M: u32, N: u32, K: u32,
  kPer: u32,        // K range per split (a multiple of 4); >= K when not split
  accumulate: u32,  // 1: C += result
  splitStride: u32, // elements between split slabs of the output, 0 when not split
  gx: u32,          // row blocks along x (the grid folds into y past 65535)
  has_bias: u32,
  colBlocks: u32,   // column blocks (4*VN columns each)
  S: u32,           // K splits (grid z = S * batches)
  aBatch: u32, bBatch: u32, cBatch: u32,  // vec4s between consecutive batches' A, B, C
  lda4: u32,        // vec4s between A's rows (>= K/4; TRANS_A: unused, rows are M/4 apart)
}

override TRANS_A: bool = false;
override TRANS_B: bool = false;
override TM: u32 = 4u;   // rows per invocation: 4 or 8
override VN: u32 = 4u;   // vec4s of columns per invocation (<= 4)
override WG: u32 = 64u;  // invocations per workgroup, all on different rows

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a4: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> b4: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> c4: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read> bias4: array<vec4<f32>>;  // [N/4], or a dummy

const MAX_TM = 8u;
const MAX_VN = 4u;

/** vec4 e (0 .. 4*VN-1) of the B block at k step kq: column vec4 e % VN of k-row 4kq + e / VN,
 *  or with TRANS_B the k-vec4 of column 4*VN*cb + e. */
fn b_load(e: u32, kq: u32, cb: u32, bOff: u32) -> vec4<f32> {
  let N4 = p.N / 4u;
  let K4 = p.K / 4u;
  if (TRANS_B) {
    let col = min(cb * 4u * VN + e, p.N - 1u);
    return b4[bOff + col * K4 + kq];
  }
  return b4[bOff + (kq * 4u + e / VN) * N4 + min(cb * VN + e % VN, N4 - 1u)];
}

// Entry point `main` comes from the prelude (prelude_share.wgsl or prelude_noshare.wgsl).
fn kernel(wid: vec3<u32>, lid: u32, lane: u32) {
  let blk = wid.x + (wid.y / p.colBlocks) * p.gx;
  let cb = wid.y % p.colBlocks;
  let K4 = p.K / 4u;
  let M4 = p.M / 4u;
  let N4 = p.N / 4u;
  let row0 = (blk * WG + lid) * TM;
  let split = wid.z % p.S;
  let bi = wid.z / p.S;
  let aOff = bi * p.aBatch;
  let bOff = bi * p.bBatch;
  let k0 = split * p.kPer / 4u;
  let k1 = min(p.K, (split + 1u) * p.kPer) / 4u;

  // First row of each group of 4 (clamped: groups past M reread the last group, never stored).
  var rg: array<u32, 2>;
  for (var g = 0u; g < TM / 4u; g++) { rg[g] = min(row0 + g * 4u, p.M - 4u); }

  var acc: array<array<vec4<f32>, MAX_VN>, MAX_TM>;
  for (var t = 0u; t < TM; t++) { for (var v = 0u; v < VN; v++) { acc[t][v] = vec4<f32>(0.0); } }

  for (var kq = k0; kq < k1; kq++) {
    // ar[t]: row row0+t of op(A) over k = 4kq .. 4kq+3.
    var ar: array<vec4<f32>, MAX_TM>;
    for (var g = 0u; g < TM / 4u; g++) {
      if (TRANS_A) {
        let k = kq * 4u;
        let q = rg[g] / 4u;
        let m = transpose(mat4x4<f32>(a4[aOff + k * M4 + q], a4[aOff + (k + 1u) * M4 + q], a4[aOff + (k + 2u) * M4 + q], a4[aOff + (k + 3u) * M4 + q]));
        ar[g * 4u] = m[0]; ar[g * 4u + 1u] = m[1]; ar[g * 4u + 2u] = m[2]; ar[g * 4u + 3u] = m[3];
      } else {
        for (var i = 0u; i < 4u; i++) { ar[g * 4u + i] = a4[aOff + (rg[g] + i) * p.lda4 + kq]; }
      }
    }
    // bk[v]: columns j = k-row 4kq+j of op(B), entries = the 4 output columns of vec4 v.
    var bk: array<mat4x4<f32>, MAX_VN>;
    if (SHARE) {
      var mine: array<vec4<f32>, 2>;   // 4*VN <= 16 vec4s, 8 per subgroup-wide load
      for (var s = 0u; s < (4u * VN + 7u) / 8u; s++) { mine[s] = b_load(min(s * 8u + lane, 4u * VN - 1u), kq, cb, bOff); }
      for (var v = 0u; v < VN; v++) {
        if (TRANS_B) {
          let e = 4u * v;
          bk[v] = transpose(mat4x4<f32>(lane_value(mine[e / 8u], e % 8u), lane_value(mine[(e + 1u) / 8u], (e + 1u) % 8u),
                                        lane_value(mine[(e + 2u) / 8u], (e + 2u) % 8u), lane_value(mine[(e + 3u) / 8u], (e + 3u) % 8u)));
        } else {
          bk[v] = mat4x4<f32>(lane_value(mine[v / 8u], v % 8u), lane_value(mine[(VN + v) / 8u], (VN + v) % 8u),
                              lane_value(mine[(2u * VN + v) / 8u], (2u * VN + v) % 8u),
                              lane_value(mine[(3u * VN + v) / 8u], (3u * VN + v) % 8u));
        }
      }
    } else {
      for (var v = 0u; v < VN; v++) {
        if (TRANS_B) {
          bk[v] = transpose(mat4x4<f32>(b_load(4u * v, kq, cb, bOff), b_load(4u * v + 1u, kq, cb, bOff), b_load(4u * v + 2u, kq, cb, bOff), b_load(4u * v + 3u, kq, cb, bOff)));
        } else {
          bk[v] = mat4x4<f32>(b_load(v, kq, cb, bOff), b_load(VN + v, kq, cb, bOff), b_load(2u * VN + v, kq, cb, bOff), b_load(3u * VN + v, kq, cb, bOff));
        }
      }
    }
    for (var v = 0u; v < VN; v++) {
      for (var t = 0u; t < TM; t++) { acc[t][v] += bk[v] * ar[t]; }
    }
  }

  let slab4 = split * p.splitStride / 4u + bi * p.cBatch;
  for (var t = 0u; t < TM; t++) {
    let row = row0 + t;
    if (row >= p.M) { continue; }
    for (var v = 0u; v < VN; v++) {
      let cq = cb * VN + v;
      if (cq >= N4) { continue; }
      let i = slab4 + row * N4 + cq;
      var y = acc[t][v];
      if (p.has_bias != 0u) { y += bias4[cq]; }
      if (p.accumulate != 0u) { y += c4[i]; }
      c4[i] = y;
    }
  }
}
