// What `tuneVariants` measures: each tunable family at one representative shape per class (the
// shapes SRGAN training and upscaling run), with the candidates of that family. Sizes are chosen
// so that one call takes tens of milliseconds on lavapipe; the whole tune is a few minutes there
// (most of it compiling the candidates' pipelines once).
import type { Gpu } from '../gpu/gpu.js';
import { conv2dForward, conv2dBackwardInput, convClass, convOutSize, CONV_CANDIDATES, CONV_THIN_CANDIDATES, conv2dTiles, type ConvShape } from './conv2d.js';
import { matmulBatched, matmulClass, MATMUL_SG, MATMUL_SG_CANDIDATES } from './matmul.js';
import type { TuneCase, Variant } from './variants.js';

/** Deterministic data in [-1, 1) (a fixed LCG), so that every candidate sees the same inputs. */
function randomBuffer(g: Gpu, n: number, seed: number): GPUBuffer {
  const f = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; f[i] = s / 2 ** 31 - 1; }
  const b = g.pool.acquire(Math.max(16, n * 4), 'tune input');
  g.write(b, f);
  return b;
}

function matmulCase(cls: string, M: number, N: number, K: number, transA: boolean): TuneCase {
  if (matmulClass(N, K, transA) !== cls) throw new Error(`tune case ${cls}: shape is of class ${matmulClass(N, K, transA)}`);
  const count = 36; // Winograd F(4x4, 3x3): 36 products per conv
  return {
    family: 'matmul_sg', cls, shape: `36 x ${transA ? '(A^T) ' : ''}${M}x${K} . ${K}x${N}`,
    fallback: { TM: MATMUL_SG.TM, VN: MATMUL_SG.VN, WG: MATMUL_SG.WG }, candidates: MATMUL_SG_CANDIDATES,
    setup(g) {
      const a = randomBuffer(g, count * M * K, 1), b = randomBuffer(g, count * K * N, 2);
      const c = g.pool.acquire(count * M * N * 4, 'tune output');
      return {
        run: () => matmulBatched(g, a, b, c, M, N, K, { count, a: M * K, b: K * N, c: M * N }, { transA }),
        output: c, floats: count * M * N,
        dispose: () => { for (const x of [a, b, c]) g.pool.release(x); },
      };
    },
  };
}

function convCase(family: 'conv2d_fwd' | 'conv2d_bwd_input', cls: string, s: ConvShape): TuneCase {
  const fwd = family === 'conv2d_fwd';
  const blocked = fwd ? s.Cout : s.Cin;
  if (convClass(s, blocked) !== cls) throw new Error(`tune case ${family} ${cls}: shape is of class ${convClass(s, blocked)}`);
  const tiles = fwd ? conv2dTiles.fwd : conv2dTiles.bwdInput;
  const { Ho, Wo } = convOutSize(s);
  const xN = s.N * s.H * s.W * s.Cin, yN = s.N * Ho * Wo * s.Cout;
  const fallback: Variant = { TM: tiles.TM, VN: tiles.VN };
  return {
    family, cls, shape: `${s.N}x${s.H}x${s.W} ${s.Cin}->${s.Cout} ${s.K}x${s.K}${s.stride > 1 ? ` s${s.stride}` : ''}`,
    fallback, candidates: cls === 'thin' ? CONV_THIN_CANDIDATES : CONV_CANDIDATES,
    setup(g) {
      const w = randomBuffer(g, s.K * s.K * s.Cin * s.Cout, 3);
      const src = randomBuffer(g, fwd ? xN : yN, 4);
      const out = g.pool.acquire((fwd ? yN : xN) * 4, 'tune output');
      // Winograd must not take the shape: the direct kernels are what is measured
      const run = () => {
        const wino = conv2dTiles.winograd;
        conv2dTiles.winograd = false;
        try {
          if (fwd) conv2dForward(g, s, src, w, out);
          else conv2dBackwardInput(g, s, src, w, out);
        } finally { conv2dTiles.winograd = wino; }
      };
      return { run, output: out, floats: fwd ? yN : xN, dispose: () => { for (const x of [w, src, out]) g.pool.release(x); } };
    },
  };
}

const shape = (N: number, H: number, Cin: number, Cout: number, K: number, stride = 1): ConvShape =>
  ({ N, H, W: H, Cin, Cout, K, stride });

/** Every case, in the order they are measured. */
export function tuneCases(): TuneCase[] {
  return [
    // Winograd's GEMMs: the generator's body (32-64 channels), VGG and the discriminator, weight gradients
    matmulCase('narrow', 2304, 64, 64, false),
    matmulCase('wide', 576, 256, 256, false),
    matmulCase('tA', 64, 64, 2304, true),
    // the direct kernels: 9x9 to RGB (the generator's last conv), 9x9 from RGB (its first),
    // the discriminator's stride-2 convs, VGG's and the discriminator's first 3x3 conv (RGB in)
    convCase('conv2d_fwd', 'thin', shape(1, 128, 32, 3, 9)),
    convCase('conv2d_fwd', 'wide', shape(4, 32, 3, 32, 9)),
    convCase('conv2d_fwd', 's2', shape(8, 48, 64, 64, 3, 2)),
    convCase('conv2d_fwd', 'k3', shape(8, 64, 3, 64, 3)),
    convCase('conv2d_bwd_input', 'thin', shape(8, 64, 3, 64, 3)),
    convCase('conv2d_bwd_input', 'wide', shape(1, 128, 32, 3, 9)),
    convCase('conv2d_bwd_input', 's2', shape(8, 48, 64, 64, 3, 2)),
  ];
}
