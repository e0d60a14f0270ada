#!/usr/bin/env node
// node dist/upscale.js in.png [-o out.png|out.jpg] [--model M] [--tile N] ...
import { parseArgs } from 'node:util';
import { stat, readFile, mkdir } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';
import { getGpu, gpu } from './gpu/gpu.js';
import { runCli } from './cli.js';
import { decodeImage, encodePng, encodeJpeg, writeFileAtomic, type Image } from './image/image.js';
import { imresize } from './image/resize.js';
import { listImages } from './srgan/data.js';
import { defaultModelPath, readGeneratorFile, checkGeneratorTensors } from './srgan/model.js';
import { FoldedGenerator, upscaleTiled, planTiles } from './srgan/inference.js';

// Time from process start (Node's timeOrigin) to the first line of main: start-up and imports.
const mainAt = performance.now();

const HELP = `4x super-resolution with an SRGAN/SRResNet generator.

usage: node dist/upscale.js INPUT [options]

  INPUT               an image (PNG, JPEG, BMP) or a folder of images
  -o, --output PATH   output file (.png or .jpg); for a folder input, an output folder
                      (default: INPUT_x4.png beside the input; a folder gets INPUT_x4/)
  --model FILE        generator checkpoint from train.js (default: the shipped model)
  --quality Q         JPEG quality 1-100 (default 92)
  --tile N            largest tile side in LR pixels, context included (default: from the
                      adapter's limits)
  --max-pixels N      refuse outputs larger than N pixels (default 268435456 = 2^28)
  --overwrite         replace an existing output file
  --quiet             no progress bar, no adapter line
  --verbose           print the time of each phase (start-up, device, model, compile, ...)
  -h, --help          this text
`;

interface Job { input: string; output: string }

await runCli(async () => {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      output: { type: 'string', short: 'o' }, model: { type: 'string' }, quality: { type: 'string' },
      tile: { type: 'string' }, 'max-pixels': { type: 'string' }, overwrite: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' }, quiet: { type: 'boolean' }, verbose: { type: 'boolean' },
    },
  });
  if (values.help) { process.stdout.write(HELP); return; }
  if (positionals.length === 0) { process.stderr.write(HELP); process.exitCode = 2; return; }
  if (positionals.length !== 1) throw new Error('expected one input image or folder (see --help)');
  const input = positionals[0];
  const quality = values.quality ? Number(values.quality) : 92;
  if (!(quality >= 1 && quality <= 100)) throw new Error(`--quality ${values.quality}: expected 1-100`);
  const tile = values.tile ? Number(values.tile) : undefined;
  if (tile !== undefined && !(Number.isInteger(tile) && tile > 0)) throw new Error(`--tile ${values.tile}: expected a positive integer`);
  const maxPixels = values['max-pixels'] ? Number(values['max-pixels']) : 2 ** 28;
  // --verbose: one line per phase, seconds since the previous mark
  let mark = 0;
  const phase = (what: string, now = performance.now()) => {
    if (values.verbose) process.stderr.write(`[time] ${what.padEnd(34)} ${((now - mark) / 1000).toFixed(3)} s\n`);
    mark = now;
  };
  phase('process start to main (imports)', mainAt);
  const st = await stat(input).catch(() => null);
  if (!st) throw new Error(`${input}: no such file or folder`);

  const jobs: Job[] = [];
  if (st.isDirectory()) {
    const outDir = values.output ?? input.replace(/\/+$/, '') + '_x4';
    for (const f of await listImages(input)) {
      jobs.push({ input: f, output: join(outDir, basename(f, extname(f)) + '_x4.png') });
    }
    if (!jobs.length) throw new Error(`${input}: no images found`);
    await mkdir(outDir, { recursive: true });
  } else {
    jobs.push({ input, output: values.output ?? join(dirname(input), basename(input, extname(input)) + '_x4.png') });
  }
  for (const j of jobs) {
    const ext = extname(j.output).toLowerCase();
    if (!['.png', '.jpg', '.jpeg'].includes(ext)) throw new Error(`${j.output}: output must end in .png, .jpg or .jpeg`);
    if (j.output === j.input) throw new Error(`${j.output}: refusing to overwrite the input`);
    if (!values.overwrite && (await stat(j.output).catch(() => null))) throw new Error(`${j.output}: exists (pass --overwrite to replace it)`);
  }

  // Decode everything up front: bad input is refused before minutes of work.
  const images: Image[] = [];
  for (const j of jobs) {
    const bytes = await readFile(j.input).catch((e) => { throw new Error(`${j.input}: ${(e as Error).message}`); });
    const img = decodeImage(new Uint8Array(bytes), j.input);
    if ((img.width * 4) * (img.height * 4) > maxPixels) {
      throw new Error(`${j.input}: output would be ${img.width * 4}x${img.height * 4} = ${img.width * img.height * 16} pixels, over --max-pixels ${maxPixels}`);
    }
    images.push(img);
  }
  phase('arguments, read and decode input');

  const modelPath = values.model ?? defaultModelPath();
  await getGpu({ verbose: !values.quiet });
  phase('adapter and device');
  const { config, tensors } = await readGeneratorFile(modelPath);
  phase('model read');
  if (config.scale !== 4) process.stderr.write(`note: ${modelPath} upscales x${config.scale}\n`);
  // BN folded on the CPU straight from the file's tensors; each folded weight uploaded once
  const F = FoldedGenerator.fromTensors(config, checkGeneratorTensors(config, tensors, modelPath));
  phase('BN fold and weight upload');
  await F.warmup();
  phase('pipeline compile (1x1 warm-up)');

  const scale = F.config.scale;
  const maxBinding = Number(gpu().limits.maxStorageBufferBindingSize);
  const plans = images.map((im) => planTiles(im.width, im.height, F.tileNet, { tile }, maxBinding));
  const totalTiles = plans.reduce((s, p) => s + p.windows.length, 0);
  if (values.verbose) {
    for (let k = 0; k < jobs.length; k++) {
      const p = plans[k], im = images[k];
      const ratio = (p.windows.length * p.tw * p.th) / (im.width * im.height);
      process.stderr.write(`[plan] ${jobs[k].input}: ${im.width}x${im.height} LR, ${p.nx}x${p.ny} tiles of ${p.tw}x${p.th} ` +
        `(context ${p.radius}, ${ratio.toFixed(2)}x the image area), ${p.batch} per batch\n`);
    }
  }
  let inferMs = 0, writeMs = 0;
  const compile0 = gpu().stats.compileMs;
  let tilesDone = 0;
  const t0 = performance.now();
  const bar = (extra: number) => {
    if (values.quiet) return;
    const done = tilesDone + extra;
    const el = (performance.now() - t0) / 1000;
    const eta = done > 0 ? (el / done) * (totalTiles - done) : NaN;
    const w = 30, fill = Math.round((done / totalTiles) * w);
    process.stderr.write(`\r[${'#'.repeat(fill)}${'.'.repeat(w - fill)}] ${done}/${totalTiles} tiles  ${el.toFixed(1)}s  ETA ${Number.isFinite(eta) ? eta.toFixed(1) + 's' : '?'}   `);
  };
  for (let k = 0; k < jobs.length; k++) {
    const img = images[k], job = jobs[k];
    const { width: w, height: h, channels: ch } = img;
    const rgb = new Float32Array(w * h * 3);
    for (let i = 0; i < w * h; i++) for (let c = 0; c < 3; c++) rgb[i * 3 + c] = img.data[i * ch + (ch >= 3 ? c : 0)];
    const tInfer = performance.now();
    const sr = await upscaleTiled(F, rgb, w, h, { tile, onTile: (d) => bar(d) });
    inferMs += performance.now() - tInfer;
    tilesDone += plans[k].windows.length;
    const tWrite = performance.now();
    const W = w * scale, H = h * scale;
    // A lost device or broken kernel shows up as NaN or a black frame: refuse to write it.
    let nan = false, maxOut = -1;
    for (let i = 0; i < sr.length; i++) { const v = sr[i]; if (!Number.isFinite(v)) { nan = true; break; } if (v > maxOut) maxOut = v; }
    let maxIn = 0;
    for (let i = 0; i < rgb.length; i++) maxIn = Math.max(maxIn, rgb[i]);
    if (nan) throw new Error(`${job.input}: the GPU returned NaN values (device lost or kernel failure); no output written`);
    if (maxOut <= -1 && maxIn > 0.02) throw new Error(`${job.input}: the GPU returned an all-black image for a non-black input (device lost?); no output written`);
    const outCh = ch === 1 || ch === 2 ? (ch === 1 ? 1 : 2) : ch;
    // RGB out: map sr to [0,1] in place (an 8000x8000 result is 768 MB of floats; no second copy)
    const data = outCh === 3 ? sr : new Float32Array(W * H * outCh);
    const alpha = ch === 2 || ch === 4 ? new Float32Array(w * h) : null;
    if (alpha) for (let i = 0; i < w * h; i++) alpha[i] = img.data[i * ch + ch - 1];
    const alphaUp = alpha ? imresize(alpha, w, h, 1, W, H) : null;
    for (let i = 0; i < W * H; i++) {
      const r = (sr[i * 3] + 1) / 2, g = (sr[i * 3 + 1] + 1) / 2, b = (sr[i * 3 + 2] + 1) / 2;
      if (ch <= 2) data[i * outCh] = (r + g + b) / 3; // grey in -> grey out
      else { data[i * outCh] = r; data[i * outCh + 1] = g; data[i * outCh + 2] = b; }
      if (alphaUp) data[i * outCh + outCh - 1] = Math.min(1, Math.max(0, alphaUp[i]));
    }
    const out: Image = { width: W, height: H, channels: outCh as Image['channels'], bitDepth: img.bitDepth, data };
    const ext = extname(job.output).toLowerCase();
    const bytes = ext === '.png' ? encodePng(out) : encodeJpeg({ ...out, bitDepth: 8 }, quality);
    // writeFileAtomic removes its temporary file itself when the write fails
    await writeFileAtomic(job.output, bytes).catch((e) => { throw new Error(`${job.output}: cannot write (${(e as Error).message})`); });
    writeMs += performance.now() - tWrite;
    if (!values.quiet) process.stderr.write(`\n${job.input} -> ${job.output} (${W}x${H})\n`);
  }
  F.dispose();
  if (values.verbose) {
    const compileMs = gpu().stats.compileMs - compile0;
    process.stderr.write(`[time] ${'inference'.padEnd(34)} ${(inferMs / 1000).toFixed(3)} s` +
      (compileMs > 1 ? ` (of which ${(compileMs / 1000).toFixed(3)} s compiling pipelines)` : '') + '\n');
    process.stderr.write(`[time] ${'check, encode and write'.padEnd(34)} ${(writeMs / 1000).toFixed(3)} s\n`);
    process.stderr.write(`[time] ${'total since process start'.padEnd(34)} ${(performance.now() / 1000).toFixed(3)} s\n`);
  }
});
