// Where the time of one piece of work goes, kernel by kernel: `node dist-bench/bench/profile.js WORK`.
// Times every dispatch on the adapter's clock (timestamp queries, Gpu.startProfile) over one run of
// the work, after two warm-up runs (compilation), and prints GPU milliseconds per kernel beside the
// wall time of an unprofiled run. WORK:
//   srresnet-step  the paper's SRResNet training step (batch 16 of 96x96, MSE; random weights)
//   srgan-step     the paper's SRGAN step (G on VGG54 + adversarial, then D; random weights)
//   inference      the paper generator's inference of one 128x128 image
//   MODEL.safetensors  that generator's inference (BN folded, as upscale.js runs it) of one
//                  --size x --size image (default 256)
//   RUN.json       one training step of a run configuration (train.js's config file, or a run's
//                  saved one): phase 2 (SRGAN) if it has phase-2 steps, else phase 1, with its
//                  networks, batch, crop, losses and moving average (random weights and images)
// --batch N changes the steps' batch. Kernel names are the pipelines' (one name covers every tile
// variant of a kernel family).
import { parseArgs } from 'node:util';
import { getGpu } from '../src/node/gpu.js';
import { loadFoldedGenerator } from '../src/node/model.js';
import { Generator } from '../src/srgan/generator.js';
import { srresnetStep, srganStep, phase2Weights } from '../src/srgan/steps.js';
import { FoldedGenerator } from '../src/srgan/inference.js';
import { Adam } from '../src/nn/adam.js';
import { fromArray, tidy } from '../src/nn/tensor.js';
import { Discriminator } from '../src/srgan/discriminator.js';
import { VGG19Features } from '../src/srgan/vgg19.js';
import { Rng } from '../src/nn/random.js';
import { Ema } from '../src/nn/ema.js';
import { resolveConfig } from '../src/srgan/config.js';
import { readFileSync } from 'node:fs';

const USAGE = 'usage: node dist-bench/bench/profile.js srresnet-step|srgan-step|inference|MODEL|RUN.json [--batch N] [--size N]\n';
/** One line on stderr and exit `code`: a typo or a missing file is not a stack trace. */
function fail(msg: string, code = 1): never {
  process.stderr.write(`profile: ${msg.split('\n')[0]}\n`);
  process.exit(code);
}
let parsed: { values: { batch?: string; size?: string; help?: boolean }; positionals: string[] };
try {
  parsed = parseArgs({
    allowPositionals: true,
    options: { batch: { type: 'string' }, size: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
} catch (e) {
  fail(`${(e as Error).message} (${USAGE.trim()})`, 2);
}
const { values, positionals } = parsed;
const what = positionals[0];
if (values.help || !what) {
  process.stdout.write(USAGE);
  process.exit(values.help ? 0 : 2);
}
const count = (flag: string, v: string | undefined, d: number, hi: number) => {
  const n = v === undefined ? d : Number(v);
  return Number.isInteger(n) && n >= 1 && n <= hi ? n : fail(`--${flag} ${JSON.stringify(v)}: expected an integer in 1..${hi}`, 2);
};
const B = count('batch', values.batch, 16, 256), S = count('size', values.size, 256, 4096);
const g = await getGpu({});
if (!g.canProfile) {
  process.stderr.write(`profile: ${g.describe()} has no 'timestamp-query': kernels cannot be timed here\n`);
  process.exit(1);
}
const rng = new Rng(1);
const random = (n: number) => Float32Array.from({ length: n }, () => rng.next());

let work: () => Promise<void>;
let label: string;
if (what.endsWith('.json')) {
  let cfg: ReturnType<typeof resolveConfig>;
  try {
    cfg = resolveConfig(JSON.parse(readFileSync(what, 'utf8')), undefined, what);
  } catch (e) {
    const msg = (e as Error).message;
    fail(msg.startsWith(what) ? msg : `${what}: ${msg}`);
  }
  const { batch: n, crop, generator: gc } = cfg;
  const G = new Generator(gc);
  const optG = new Adam(G.parameters(), { lr: 1e-4 });
  const ema = cfg.ema > 0 ? new Ema(G, new Generator(gc), cfg.ema) : null;
  const lrB = random(n * (crop / gc.scale) ** 2 * 3), hrB = random(n * crop * crop * 3);
  const batch = () => [fromArray(lrB, [n, crop / gc.scale, crop / gc.scale, 3]), fromArray(hrB, [n, crop, crop, 3])];
  if (cfg.phase2Steps > 0) {
    label = `${what}: SRGAN step, batch ${n} of ${crop}x${crop}, ${cfg.vggLayer}`;
    const D = new Discriminator({ ...cfg.discriminator, inputSize: crop });
    const vgg = new VGG19Features(cfg.vggLayer);
    const optD = new Adam(D.parameters(), { lr: 1e-4 });
    work = async () => {
      const [lr, hr] = batch();
      const o = srganStep({ G, D, vgg, optG, optD, ema, ...phase2Weights(cfg) }, lr, hr);
      await o.lossG.item(); await o.lossD.item();
      Object.values(o).forEach((t) => t.dispose()); lr.dispose(); hr.dispose();
    };
  } else {
    label = `${what}: SRResNet step, batch ${n} of ${crop}x${crop}`;
    work = async () => {
      const [lr, hr] = batch();
      const [l] = srresnetStep({ G, optG, ema, pixelLoss: cfg.pixelLoss }, lr, hr);
      await l.item(); l.dispose(); lr.dispose(); hr.dispose();
    };
  }
} else if (what === 'srresnet-step' || what === 'srgan-step') {
  const G = new Generator();
  const optG = new Adam(G.parameters(), { lr: 1e-4 });
  const lrB = random(B * 24 * 24 * 3), hrB = random(B * 96 * 96 * 3);
  const batch = () => [fromArray(lrB, [B, 24, 24, 3]), fromArray(hrB, [B, 96, 96, 3])];
  if (what === 'srresnet-step') {
    label = `SRResNet step, batch ${B} of 96x96 (paper G)`;
    work = async () => {
      const [lr, hr] = batch();
      const [l] = srresnetStep({ G, optG, pixelLoss: 'mse' }, lr, hr);
      await l.item(); l.dispose(); lr.dispose(); hr.dispose();
    };
  } else {
    label = `SRGAN step, batch ${B} of 96x96, VGG54 (paper G and D)`;
    const D = new Discriminator({ channels: 64, inputSize: 96, denseUnits: 1024 });
    const vgg = new VGG19Features('vgg54');
    const optD = new Adam(D.parameters(), { lr: 1e-4 });
    work = async () => {
      const [lr, hr] = batch();
      const o = srganStep({ G, D, vgg, optG, optD, contentScale: 1 / 12.75, advWeight: 1e-3 }, lr, hr);
      await o.lossG.item(); await o.lossD.item();
      Object.values(o).forEach((t) => t.dispose()); lr.dispose(); hr.dispose();
    };
  }
} else {
  const inference = what === 'inference';
  const size = inference ? 128 : S;
  const F = inference ? await FoldedGenerator.fromGenerator(new Generator()) : await loadFoldedGenerator(what).catch((e: Error) => fail(e.message));
  label = `${inference ? 'paper generator' : what}: inference of 1x${size}x${size}`;
  const x = random(size * size * 3);
  work = async () => {
    const y = tidy(() => F.forward(fromArray(x, [1, size, size, 3])));
    await y.data(); y.dispose();
  };
}

await work(); await work(); // compilation, warm-up
const t0 = performance.now();
await work();
const wall = performance.now() - t0;
g.startProfile();
const t1 = performance.now();
await work();
const times = await g.stopProfile();
const wallProfiled = performance.now() - t1;

let sum = 0, dispatches = 0;
for (const t of times.values()) { sum += t.ms; dispatches += t.dispatches; }
process.stdout.write(`${label}\nwall ${wall.toFixed(0)} ms; profiled run ${wallProfiled.toFixed(0)} ms, ` +
  `${dispatches} dispatches, kernel time ${sum.toFixed(0)} ms\n\n`);
process.stdout.write(`| kernel | ms | dispatches | share |\n|---|---|---|---|\n`);
for (const [name, t] of times) {
  process.stdout.write(`| ${name} | ${t.ms.toFixed(1)} | ${t.dispatches} | ${(100 * t.ms / sum).toFixed(1)}% |\n`);
}
process.exit(0);
