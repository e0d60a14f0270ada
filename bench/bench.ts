// Kernel benchmark suite: `npm run bench [-- --filter conv --quick]`.
// Prints the adapter, measures the engine's own ceilings (best f32 matmul, large buffer copy),
// then every kernel at the shapes SRGAN runs: median of warm runs (compilation timed separately),
// GFLOPS or GB/s from analytically counted work, % of the measured ceiling. Writes
// bench/results/<adapter>.json so two runs can be compared.
import { writeFileSync, mkdirSync, existsSync, readFileSync, renameSync } from 'node:fs';
import { mergeResults } from './results-file.js';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BENCH_HELP, parseBenchArgs, type BenchArgs } from './args.js';
import { getGpu, destroyGpu, type Gpu } from '../src/node/gpu.js';
import * as conv from '../src/kernels/conv2d.js';
import { matmul } from '../src/kernels/matmul.js';
import { batchNormTrain, batchNormBackward } from '../src/kernels/batchnorm.js';
import { prelu, preluBackward, activation } from '../src/kernels/activation.js';
import { pixelShuffle } from '../src/kernels/pixel_shuffle.js';
import { upsampleNearest2, upsampleNearest2Backward } from '../src/kernels/upsample.js';
import { maxPool2 } from '../src/kernels/maxpool.js';
import { adamStep } from '../src/kernels/adam.js';
import { fill } from '../src/kernels/elementwise.js';
import { Generator, generatorFlopsPerLrPixel, makeGenerator, type GeneratorConfig } from '../src/srgan/generator.js';
import { srresnetStep, srganStep } from '../src/srgan/steps.js';
import { FoldedGenerator } from '../src/srgan/inference.js';
import { Adam } from '../src/nn/adam.js';
import { fromArray, tidy } from '../src/nn/tensor.js';
import { Discriminator } from '../src/srgan/discriminator.js';
import { VGG19Features } from '../src/srgan/vgg19.js';

/** The command line, or one line on stderr and exit 2 (a stack trace is no answer to a typo). */
function benchArgs(): BenchArgs {
  try {
    const a = parseBenchArgs(process.argv.slice(2));
    if (a === 'help') { process.stdout.write(BENCH_HELP); process.exit(0); }
    return a;
  } catch (e) {
    process.stderr.write(`error: ${(e as Error).message.split('\n')[0]} (npm run bench -- --help)\n`);
    process.exit(2);
  }
}

const args = benchArgs();
const filter = args.filter;
const RUNS = args.runs;

interface Row { name: string; ms: number; compileMs: number; work: number; unit: 'GFLOPS' | 'GB/s'; rate: number; pct?: number; note?: string }
const rows: Row[] = [];

function median(a: number[]): number { const s = [...a].sort((x, y) => x - y); return s[Math.floor(s.length / 2)]; }

async function time(g: Gpu, fn: () => void, runs = RUNS): Promise<{ ms: number; compileMs: number }> {
  const c0 = performance.now();
  fn(); await g.sync(); // first run: pipeline compilation + warm-up
  const compileMs = performance.now() - c0;
  fn(); await g.sync();
  const ts: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    fn();
    await g.sync();
    ts.push(performance.now() - t0);
  }
  return { ms: median(ts), compileMs };
}

function buf(g: Gpu, n: number): GPUBuffer {
  const b = g.pool.acquire(n * 4);
  fill(g, b, n, 0.01);
  return b;
}

let ceiling = 0;
async function bench(g: Gpu, name: string, work: number, unit: Row['unit'], fn: () => void, note?: string): Promise<void> {
  if (filter && !filter.test(name)) return;
  const { ms, compileMs } = await time(g, fn);
  const rate = unit === 'GFLOPS' ? work / (ms / 1000) / 1e9 : work / (ms / 1000) / 1e9;
  const row: Row = { name, ms, compileMs, work, unit, rate, note };
  if (unit === 'GFLOPS' && ceiling > 0) row.pct = (100 * rate) / ceiling;
  rows.push(row);
  process.stdout.write(`${name.padEnd(52)} ${ms.toFixed(2).padStart(10)} ms ${rate.toFixed(2).padStart(8)} ${unit.padEnd(6)} ${row.pct !== undefined ? row.pct.toFixed(0).padStart(4) + '%' : '     '}  compile ${compileMs.toFixed(0)} ms${note ? '  ' + note : ''}\n`);
}

const g = await getGpu({ verbose: false });
const info = g.info;
process.stdout.write(`adapter: ${g.describe()}\n  vendor ${info.vendor}, architecture ${info.architecture}, device ${info.device}\n`);
process.stdout.write(`  features: ${info.features.join(', ')}\n  limits: ${Object.entries(info.limits).map(([k, v]) => `${k}=${v}`).join(', ')}\n\n`);
process.stdout.write(`${'kernel'.padEnd(52)} ${'median'.padStart(13)} ${'rate'.padStart(8)}\n`);

// ---- ceilings ----
{
  const n = 1024;
  const a = buf(g, n * n), b = buf(g, n * n), c = buf(g, n * n);
  await bench(g, 'ceiling: matmul f32 1024^3', 2 * n ** 3, 'GFLOPS', () => matmul(g, a, b, c, n, n, n));
  const r = rows.find((x) => x.name.startsWith('ceiling: matmul'));
  if (r) ceiling = r.rate;
  const bytes = 64 * 2 ** 20;
  const s = g.pool.acquire(bytes), d = g.pool.acquire(bytes);
  await bench(g, 'ceiling: buffer copy 64 MiB', 2 * bytes, 'GB/s', () => g.copy(s, 0, d, 0, bytes));
}

// ---- convolutions at SRGAN shapes ----
interface ConvCase { name: string; s: conv.ConvShape }
const convCases: ConvCase[] = [];
for (const [N, H] of [[16, 24], [1, 128], ...(args.quick ? [] : [[16, 48], [16, 96]])]) {
  convCases.push({ name: `G conv 3->64 9x9 ${N}x${H}x${H}`, s: { N, H, W: H, Cin: 3, Cout: 64, K: 9, stride: 1 } });
  convCases.push({ name: `G conv 64->64 3x3 ${N}x${H}x${H}`, s: { N, H, W: H, Cin: 64, Cout: 64, K: 3, stride: 1 } });
  convCases.push({ name: `G conv 64->256 3x3 ${N}x${H}x${H}`, s: { N, H, W: H, Cin: 64, Cout: 256, K: 3, stride: 1 } });
  convCases.push({ name: `G conv 64->3 9x9 ${N}x${H}x${H}`, s: { N, H, W: H, Cin: 64, Cout: 3, K: 9, stride: 1 } });
}
// the shipped srresnet's (32 channels) output conv on a 512x512 HR tile
convCases.push({ name: 'G32 conv 32->3 9x9 1x512x512', s: { N: 1, H: 512, W: 512, Cin: 32, Cout: 3, K: 9, stride: 1 } });
// and in its training step (batch 16, 64x64 HR crops)
convCases.push({ name: 'G32 conv 32->3 9x9 16x64x64', s: { N: 16, H: 64, W: 64, Cin: 32, Cout: 3, K: 9, stride: 1 } });
if (!args.quick) {
  for (const [cin, cout, st, hw] of [[64, 64, 2, 96], [128, 128, 2, 48], [256, 256, 2, 24], [512, 512, 2, 12]] as const) {
    convCases.push({ name: `D conv ${cin}->${cout} 3x3 s${st} 16x${hw}x${hw}`, s: { N: 16, H: hw, W: hw, Cin: cin, Cout: cout, K: 3, stride: st } });
  }
  for (const [cin, cout, hw] of [[3, 64, 96], [64, 64, 96], [128, 128, 48], [256, 256, 24], [512, 512, 12], [512, 512, 6]] as const) {
    convCases.push({ name: `VGG conv ${cin}->${cout} 3x3 16x${hw}x${hw}`, s: { N: 16, H: hw, W: hw, Cin: cin, Cout: cout, K: 3, stride: 1 } });
  }
}
for (const { name, s } of convCases) {
  if (filter && !filter.test(name)) continue;
  const { Ho, Wo } = conv.convOutSize(s);
  const flops = 2 * s.N * Ho * Wo * s.Cout * s.K * s.K * s.Cin;
  // A tensor past the adapter's storage binding limit cannot be bound (lavapipe: 128 MiB); the
  // generator never runs such a shape (its 64->256 convs work at the LR sizes), so it is skipped.
  const biggest = 4 * Math.max(s.N * s.H * s.W * s.Cin, s.N * Ho * Wo * s.Cout);
  if (biggest > Number(g.limits.maxStorageBufferBindingSize)) {
    process.stdout.write(`${name.padEnd(52)} skipped: a ${(biggest / 2 ** 20).toFixed(0)} MiB tensor exceeds the adapter's binding limit\n`);
    continue;
  }
  const x = buf(g, s.N * s.H * s.W * s.Cin), w = buf(g, s.K * s.K * s.Cin * s.Cout), bias = buf(g, s.Cout);
  const y = buf(g, s.N * Ho * Wo * s.Cout), dx = buf(g, s.N * s.H * s.W * s.Cin), dw = buf(g, s.K * s.K * s.Cin * s.Cout);
  // Winograd-eligible shapes (and the 9x9 convs the split path takes) run twice in the same run:
  // the direct kernels, then the default. Rates count direct-convolution work for both, so they
  // compare as speed.
  const split = conv.usesSplit9(s);
  const eligible = conv.usesWinograd(s) || split;
  for (const wino of eligible ? [false, true] : [true]) {
    conv.conv2dTiles.winograd = wino;
    const tag = eligible ? (wino ? (split ? ' split9' : ' winograd') : ' direct') : '';
    await bench(g, `${name}${tag} fwd`, flops, 'GFLOPS', () => conv.conv2dForward(g, s, x, w, y, { bias }));
    await bench(g, `${name}${tag} bwd-input`, flops, 'GFLOPS', () => conv.conv2dBackwardInput(g, s, y, w, dx));
    await bench(g, `${name}${tag} bwd-weight`, flops, 'GFLOPS', () => conv.conv2dBackwardWeight(g, s, x, y, dw));
  }
  conv.conv2dTiles.winograd = true;
  for (const b of [x, w, bias, y, dx, dw]) g.pool.release(b);
}

// ---- the discriminator's dense layer (matmul): 16 x 18432 -> 1024 ----
{
  const B = 16, I = 18432, O = 1024, flops = 2 * B * I * O;
  const x = buf(g, B * I), w = buf(g, I * O), bias = buf(g, O), y = buf(g, B * O), dx = buf(g, B * I), dw = buf(g, I * O);
  await bench(g, 'D dense 18432->1024 batch 16 fwd', flops, 'GFLOPS', () => matmul(g, x, w, y, B, O, I, { bias }));
  await bench(g, 'D dense 18432->1024 batch 16 bwd-input', flops, 'GFLOPS', () => matmul(g, y, w, dx, B, I, O, { transB: true }));
  await bench(g, 'D dense 18432->1024 batch 16 bwd-weight', flops, 'GFLOPS', () => matmul(g, x, y, dw, I, O, B, { transA: true }));
  for (const b of [x, w, bias, y, dx, dw]) g.pool.release(b);
}

// ---- memory-bound kernels ----
{
  const N = 16, H = 96, C = 64, M = N * H * H, n = M * C;
  const x = buf(g, n), y = buf(g, n), dy = buf(g, n), dx = buf(g, n);
  const c1 = buf(g, C), c2 = buf(g, C), c3 = buf(g, C), c4 = buf(g, C), c5 = buf(g, C), c6 = buf(g, C), c7 = buf(g, C);
  await bench(g, `batchnorm train fwd 16x96x96x64`, 3 * n * 4, 'GB/s', () => batchNormTrain(g, x, y, c1, c2, c3, c4, c5, c6, M, C));
  await bench(g, `batchnorm bwd 16x96x96x64`, 4 * n * 4, 'GB/s', () => batchNormBackward(g, x, dy, c1, c3, c4, dx, c7, c2, M, C));
  await bench(g, `prelu fwd 16x96x96x64`, 2 * n * 4, 'GB/s', () => prelu(g, x, c1, y, n, C));
  await bench(g, `prelu bwd 16x96x96x64`, 3 * n * 4, 'GB/s', () => preluBackward(g, x, c1, dy, dx, c2, n, C));
  await bench(g, `leaky relu fwd 16x96x96x64`, 2 * n * 4, 'GB/s', () => activation(g, 'lrelu', x, y, n, 0.2));
  await bench(g, `pixel shuffle 16x48x48x256`, 2 * n * 4, 'GB/s', () => pixelShuffle(g, x, y, 16, 48, 48, 256, 2));
  // the nearest-upsampling generator's step: 16x48x48x64 -> 16x96x96x64 (writes the whole n)
  await bench(g, `upsample nearest x2 fwd 16x48x48x64`, 1.25 * n * 4, 'GB/s', () => upsampleNearest2(g, x, y, 16, 48, 48, 64));
  await bench(g, `upsample nearest x2 bwd 16x48x48x64`, 1.25 * n * 4, 'GB/s', () => upsampleNearest2Backward(g, dy, dx, 16, 48, 48, 64));
  await bench(g, `max-pool 2x2 16x96x96x64`, 1.25 * n * 4, 'GB/s', () => maxPool2(g, x, y, 16, 96, 96, 64));
  for (const P of [1_548_419, 23_600_000]) {
    const p = buf(g, P), gr = buf(g, P), m = buf(g, P), v = buf(g, P);
    await bench(g, `adam ${(P / 1e6).toFixed(2)} M params`, 7 * P * 4, 'GB/s', () => adamStep(g, p, gr, m, v, P, { lr: 1e-4, beta1: 0.9, beta2: 0.999, eps: 1e-8, step: 3 }));
    for (const b of [p, gr, m, v]) g.pool.release(b);
  }
  for (const b of [x, y, dy, dx, c1, c2, c3, c4, c5, c6, c7]) g.pool.release(b);
}

// ---- end to end ----
/** Times fn end to end, twice: with the direct conv kernels (the reference), then the default (Winograd). */
async function e2e(name: string, flops: number, fn: () => Promise<void>): Promise<void> {
  if (filter && !filter.test(name)) return;
  for (const wino of [false, true]) {
    conv.conv2dTiles.winograd = wino;
    const label = wino ? name : `${name} (direct convs)`;
    await fn(); // warm-up + compile
    const ts: number[] = [];
    let disp = 0, subs = 0;
    const runs = Math.max(1, Math.min(RUNS, 3));
    for (let i = 0; i < runs; i++) {
      const d0 = g.stats.dispatches, s0 = g.stats.submits;
      const t0 = performance.now();
      await fn();
      ts.push(performance.now() - t0);
      disp = g.stats.dispatches - d0; subs = g.stats.submits - s0;
    }
    const ms = median(ts);
    const rate = flops / (ms / 1000) / 1e9;
    const note = `${disp} dispatches, ${subs} submits, pool peak ${(g.pool.peakAllocatedBytes / 2 ** 20).toFixed(0)} MiB`;
    rows.push({ name: label, ms, compileMs: 0, work: flops, unit: 'GFLOPS', rate, pct: ceiling ? (100 * rate) / ceiling : undefined, note });
    process.stdout.write(`${label.padEnd(52)} ${ms.toFixed(0).padStart(10)} ms ${rate.toFixed(2).padStart(8)} GFLOPS  ${note}\n`);
  }
}
{
  const G = new Generator();
  const F = await FoldedGenerator.fromGenerator(G);
  const lr = new Float32Array(128 * 128 * 3).fill(0.5);
  await e2e('generator inference 1x128x128 -> 512x512', 4.44e6 * 128 * 128, async () => {
    const t = tidy(() => F.forward(fromArray(lr, [1, 128, 128, 3])));
    await t.data(); t.dispose();
  });
  F.dispose();
  const opt = new Adam(G.parameters(), { lr: 1e-4 });
  const B = args.quick ? 4 : 16;
  const lrB = new Float32Array(B * 24 * 24 * 3).fill(0.5), hrB = new Float32Array(B * 96 * 96 * 3).fill(0.1);
  // the trainer's own steps (src/srgan/steps.ts), the paper's losses
  const batch = () => [fromArray(lrB, [B, 24, 24, 3]), fromArray(hrB, [B, 96, 96, 3])];
  await e2e(`SRResNet step batch ${B} 96x96`, 3 * 2.56e9 * B, async () => {
    const [lr, hr] = batch();
    const [l] = srresnetStep({ G, optG: opt, pixelLoss: 'mse' }, lr, hr);
    await l.item(); l.dispose(); lr.dispose(); hr.dispose();
  });
  // SRGAN step: G update (VGG54 content + adversarial) then D update; VGG weights random (timing only)
  const D = new Discriminator({ channels: 64, inputSize: 96, denseUnits: 1024 });
  const vgg = new VGG19Features('vgg54');
  const optD = new Adam(D.parameters(), { lr: 1e-4 });
  const perSample = 3 * 2.56e9 + 8 * 1.77e9 + 3 * 7.17e9;
  await e2e(`SRGAN step batch ${B} 96x96 (VGG54)`, perSample * B, async () => {
    const [lr, hr] = batch();
    const o = srganStep({ G, D, vgg, optG: opt, optD, contentScale: 1 / 12.75, advWeight: 1e-3 }, lr, hr);
    await o.lossG.item(); await o.lossD.item(); Object.values(o).forEach((t) => t.dispose()); lr.dispose(); hr.dispose();
  });
  optD.dispose(); D.dispose(); vgg.dispose();
  opt.dispose(); G.dispose();
}

// The project's own generator sizes (models/): 32 channels, 6 blocks with the paper's tail (convs at
// 2x and 4x) and with shuffle-espcn's (nothing at 4x), and 10 blocks with ESPCN's (every conv at
// LR); inference and the phase-1 step their runs take (L1, batch 16 of 64x64 crops)
{
  const sizes: Array<[string, GeneratorConfig]> = [
    ['32 ch, 6 blocks, paper tail', { channels: 32, blocks: 6, scale: 4, norm: 'none', skip: 'bilinear' }],
    ['32 ch, 6 blocks, shuffle-espcn tail', { channels: 32, blocks: 6, scale: 4, upsample: 'shuffle-espcn', norm: 'none', skip: 'bilinear' }],
    ['32 ch, 10 blocks, ESPCN tail', { channels: 32, blocks: 10, scale: 4, upsample: 'espcn', norm: 'none', skip: 'bilinear' }],
    // Real-ESRGAN's compact network at realesr-general-x4v3's size, and a smaller one
    ['compact 64 ch, 32 convs (x4v3)', { arch: 'compact', channels: 64, blocks: 32, scale: 4 }],
    ['compact 32 ch, 16 convs', { arch: 'compact', channels: 32, blocks: 16, scale: 4 }],
  ];
  // ESRGAN's RRDBNet at x4plus's size (23 RRDBs, 64 channels, growth 32): 18.6 M multiply-adds per
  // LR pixel, so a 32x32 input, inference only (its step at batch 16 would take minutes here)
  {
    const cfg: GeneratorConfig = { arch: 'rrdb', channels: 64, blocks: 23, growth: 32, scale: 4 };
    const G = makeGenerator(cfg);
    const F = await FoldedGenerator.fromGenerator(G);
    const lr = new Float32Array(32 * 32 * 3).fill(0.5);
    await e2e('G inference 1x32x32 (RRDBNet x4plus size)', generatorFlopsPerLrPixel(cfg) * 32 * 32, async () => {
      const t = tidy(() => F.forward(fromArray(lr, [1, 32, 32, 3])));
      await t.data(); t.dispose();
    });
    F.dispose(); G.dispose();
  }
  for (const [what, cfg] of sizes) {
    const G = makeGenerator(cfg);
    const F = await FoldedGenerator.fromGenerator(G);
    const lr = new Float32Array(128 * 128 * 3).fill(0.5);
    const fl = generatorFlopsPerLrPixel(cfg);
    await e2e(`G inference 1x128x128 (${what})`, fl * 128 * 128, async () => {
      const t = tidy(() => F.forward(fromArray(lr, [1, 128, 128, 3])));
      await t.data(); t.dispose();
    });
    F.dispose();
    const opt = new Adam(G.parameters(), { lr: 1e-4 });
    const B = args.quick ? 4 : 16;
    const lrB = new Float32Array(B * 16 * 16 * 3).fill(0.5), hrB = new Float32Array(B * 64 * 64 * 3).fill(0.1);
    await e2e(`G step batch ${B} 64x64 (${what})`, 3 * fl * 16 * 16 * B, async () => {
      const [x, y] = [fromArray(lrB, [B, 16, 16, 3]), fromArray(hrB, [B, 64, 64, 3])];
      const [l] = srresnetStep({ G, optG: opt, pixelLoss: 'l1' }, x, y);
      await l.item(); l.dispose(); x.dispose(); y.dispose();
    });
    opt.dispose(); G.dispose();
  }
}

// The training data loader on the real-world degradations (Real-ESRGAN's model, batch 8 of 96x96
// crops as the project's real-world runs take them): what a batch costs the CPU, and how long the
// steps of such a run (the shipped srresnet's network, L1) wait for their batches when a worker
// thread builds them ahead. Synthetic photographs, so that the bench needs no data set.
if (!filter || filter.test('data loader')) {
  const { makeBatch } = await import('../src/train/data.js');
  const { BatchSource } = await import('../src/train/prefetch.js');
  const { DEFAULT_DEGRADATION } = await import('../src/srgan/degrade.js');
  const images = Array.from({ length: 12 }, (_, k) => {
    const w = 320 + 16 * k, h = 240, rgb = new Uint8Array(w * h * 3);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let c = 0; c < 3; c++) {
      rgb[(y * w + x) * 3 + c] = 128 + 90 * Math.sin(x * 0.05 * (c + 1) + k) * Math.cos(y * 0.07 + c) + ((x * 7919 + y * 104729 + c) % 31) - 15;
    }
    return { name: `synthetic${k}`, width: w, height: h, rgb };
  });
  const deg = { ...DEFAULT_DEGRADATION, kind: 'realesrgan' as const, cleanProb: 0.1 };
  const B = 8, crop = 96, steps = args.quick ? 10 : 30;
  for (let s = 0; s < 2; s++) makeBatch(images, B, crop, 4, 1, s, deg); // unsharp masks made, code warm
  const ts: number[] = [];
  for (let s = 0; s < RUNS; s++) { const t0 = performance.now(); makeBatch(images, B, crop, 4, 1, 100 + s, deg); ts.push(performance.now() - t0); }
  const batchMs = median(ts);
  rows.push({ name: `data loader: realesrgan batch ${B}x${crop}x${crop}, one CPU thread`, ms: batchMs, compileMs: 0, work: 0, unit: 'GFLOPS', rate: 0, note: `${(batchMs / B).toFixed(1)} ms a sample` });
  process.stdout.write(`${rows[rows.length - 1].name.padEnd(52)} ${batchMs.toFixed(0).padStart(10)} ms  ${rows[rows.length - 1].note}\n`);
  const cfg: GeneratorConfig = { channels: 32, blocks: 6, scale: 4, upsample: 'shuffle-espcn', norm: 'none', skip: 'bilinear' };
  const G = new Generator(cfg);
  const opt = new Adam(G.parameters(), { lr: 1e-4 });
  const src = new BatchSource(images, { n: B, crop, scale: 4, seed: 1, degradation: deg });
  const ls = crop / 4;
  const step = async (b: { lr: Float32Array; hr: Float32Array }) => {
    const [x, y] = [fromArray(b.lr, [B, ls, ls, 3]), fromArray(b.hr, [B, crop, crop, 3])];
    const [l] = srresnetStep({ G, optG: opt, pixelLoss: 'l1' }, x, y);
    await l.item(); l.dispose(); x.dispose(); y.dispose();
  };
  await step(await src.get(0)); // compile, and the worker's unsharp masks
  const wait0 = src.waitMs, t0 = performance.now();
  for (let s = 1; s <= steps; s++) await step(await src.get(s, steps + 1));
  const total = performance.now() - t0, waited = src.waitMs - wait0;
  const name = `data loader: ${steps} steps of a realesrgan run (worker)`;
  const note = `waited ${waited.toFixed(0)} ms of ${total.toFixed(0)} (${((100 * waited) / total).toFixed(1)}%); ${(total / steps).toFixed(0)} ms a step, the worker ${(src.buildMs / src.built).toFixed(0)} ms a batch`;
  rows.push({ name, ms: total / steps, compileMs: 0, work: 0, unit: 'GFLOPS', rate: 0, note });
  process.stdout.write(`${name.padEnd(52)} ${(total / steps).toFixed(0).padStart(10)} ms  ${note}\n`);
  await src.close();
  opt.dispose(); G.dispose();
}

const out = { date: new Date().toISOString(), adapter: info, ceilingGflops: ceiling, runs: RUNS, rows };
const dir = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bench', 'results');
mkdirSync(dir, { recursive: true });
const file = join(dir, `${(info.description || info.device || 'adapter').replace(/[^A-Za-z0-9._-]+/g, '_').slice(0, 60)}.json`);
let prev: unknown = null;
if (args.filter && existsSync(file)) {
  try { prev = JSON.parse(readFileSync(file, 'utf8')); } catch { process.stdout.write(`\n${file} is not readable JSON: written anew\n`); }
}
writeFileSync(`${file}.tmp`, JSON.stringify(mergeResults(prev, out, !!args.filter), null, 2));
renameSync(`${file}.tmp`, file);
process.stdout.write(`\nwrote ${file}${args.filter ? ' (the rows measured; the others kept)' : ''}\n`);
destroyGpu();
