#!/usr/bin/env node
// node dist/upscale.js IN... [-o OUT] [options]: the upscaler as a daily tool. Any number of images
// and folders (walked recursively, structure kept); every output checked against every input and
// every other output before any work; one image decoded at a time; a bad file is reported on one
// line and skipped, and the run ends with a summary and exit 1 when anything failed.
import { parseArgs } from 'node:util';
import { stat, mkdir, realpath, access, constants as fsConstants } from 'node:fs/promises';
import { basename, dirname, extname, join, relative, resolve } from 'node:path';
import { getGpu, gpu, listAdapters, GpuError } from './node/gpu.js';
import { runCli, runInFilteredChild, stderrIsTTY } from './cli.js';
import { writeAtomic } from './node/state.js';
import { MAX_PIXELS, type Image } from './image/pixels.js';
import { decodeImage, imageByteCap, type ImageHeader } from './image/image.js';
import { encodePng } from './image/png.js';
import { encodeJpeg } from './image/jpeg.js';
import { readMetadata, writeMetadata } from './image/metadata.js';
import { readImageBytes, readImageFileHeader } from './node/image-files.js';
import { imresize } from './image/resize.js';
import { listImages } from './node/image-files.js';
import { realOut } from './node/paths.js';
import { modelPath, readGeneratorFile, shippedModelList } from './node/model.js';
import { DEFAULT_MODEL, checkGeneratorTensors } from './srgan/model.js';
import { FoldedGenerator, planTiles, tileSizeProblem } from './srgan/inference.js';
import { upscaleImage, type FloatImage } from './srgan/upscaler.js';
import type { GeneratorConfig } from './srgan/generator.js';

// Time from process start (Node's timeOrigin) to the first line of main: start-up and imports.
const mainAt = performance.now();

const HELP = () => `4x super-resolution with an SRGAN/SRResNet generator.

usage: node dist/upscale.js INPUT... [options]

  INPUT               images (PNG, JPEG, BMP) and folders; folders are walked recursively
                      (symbolic links followed, each real file once) and their structure is kept
                      under the output folder
  -o, --output PATH   output file (.png, .jpg, .jpeg; a name without extension is written in
                      --format) for one input image; otherwise an output folder, created when
                      missing (a PATH ending in / is always a folder). Default: IMAGE_x4.png
                      beside each image, FOLDER_x4/ beside each folder
  --outscale X        final scale, e.g. 2 or 3.5: the network's x4 result resampled with
                      antialiased bicubic to round(w*X) x round(h*X) (default 4: no resampling)
  --suffix S          added to each output name (default _x4, or _x<outscale>)
  --format png|jpg    output format for folders, default names and -o without extension
                      (default png)
  --quality Q         JPEG quality 1-100 (default 92)
  --model NAME|FILE   a shipped model by name (default: 'default' = ${DEFAULT_MODEL}):
%MODELS%
                      or a generator file: from train.js, or a PyTorch state_dict with the same
                      tensor names (.safetensors or a torch.save .pth), or Real-ESRGAN's compact
                      network (SRVGGNetCompact, e.g. realesr-general-x4v3) as a .pth/.safetensors
                      with its own names (body.N) or an ncnn model (NAME.param, NAME.bin beside it),
                      or ESRGAN's RRDBNet (RealESRGAN_x4plus, x2plus) the same ways (x2 not as ncnn)
  --tile N            largest tile side in LR pixels, context included (default: from the
                      adapter's limits); a warning says when the context would dominate the work
  --max-pixels N      skip images whose x4 network output or final output is over N pixels
                      (default 268435456 = 2^28); checked from the file header before decoding
  --overwrite         replace existing output files (never an input of the same run)
  --skip-existing     leave existing output files alone (a re-run only does what is missing)
  --adapter NAME      WebGPU adapter whose name contains NAME (see --list-adapters)
  --list-adapters     print the adapters Dawn offers (name, backend, type) and exit
  --quiet             print errors only
  --verbose           print the time of each phase and each image's tile plan
  -h, --help          this text

Outputs: an existing output is an error for that image (reported, skipped) unless --overwrite or
--skip-existing. Two inputs that would write the same output (a.png and a.jpg in one folder, or
files of the same name given from different folders with one -o) are refused before any work
starts, naming both; rename one or use --suffix. The ICC profile and EXIF of PNG and JPEG inputs
are carried to the output (EXIF orientation reset to 1: the pixels are already upright). Exit status: 0 when every image was written or
skipped as existing, 1 when any failed, 2 for usage errors.
`;

/** A usage error: exit 2, like the usage text. */
class UsageError extends Error {}

type Format = 'png' | 'jpg';

interface Options {
  inputs: string[];
  output?: string;
  outscale?: number;
  suffix?: string;
  format?: Format;
  quality: number;
  model: string;
  tile?: number;
  maxPixels: number;
  overwrite: boolean;
  skipExisting: boolean;
  adapter?: string;
  quiet: boolean;
  verbose: boolean;
}

/** One input image and where its result goes. */
interface Job {
  input: string;
  output: string;
  format: Format;
  header?: ImageHeader;
}

/** Running totals for the summary line and the exit code. */
const tally = { written: 0, skipped: 0, failed: 0 };

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      output: { type: 'string', short: 'o' }, model: { type: 'string' }, quality: { type: 'string' },
      tile: { type: 'string' }, 'max-pixels': { type: 'string' }, overwrite: { type: 'boolean' },
      'skip-existing': { type: 'boolean' }, outscale: { type: 'string' }, suffix: { type: 'string' },
      format: { type: 'string' }, adapter: { type: 'string' }, 'list-adapters': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' }, quiet: { type: 'boolean' }, verbose: { type: 'boolean' },
    },
  });
  if (values.help) { process.stdout.write(HELP().replace('%MODELS%', shippedModelList(24))); return; }
  if (values['list-adapters']) { await printAdapters(); return; }
  if (positionals.length === 0) { process.stderr.write(HELP().replace('%MODELS%', shippedModelList(24))); process.exitCode = 2; return; }
  const o = checkOptions(values, positionals);
  const say = (line: string) => { if (!o.quiet) process.stderr.write(line + '\n'); };
  const report = (e: unknown) => { tally.failed++; process.stderr.write(`error: ${oneLine(e)}\n`); };
  // --verbose: one line per phase, seconds since the previous mark
  let mark = 0;
  const phase = (what: string, now = performance.now()) => {
    if (o.verbose) process.stderr.write(`[time] ${what.padEnd(34)} ${((now - mark) / 1000).toFixed(3)} s\n`);
    mark = now;
  };
  phase('process start to main (imports)', mainAt);

  // The model first: its scale names the outputs, and a bad file is refused before anything else.
  const { config, tensors } = await readGeneratorFile(o.model);
  phase('model read');
  const outscale = o.outscale ?? config.scale;
  const suffix = o.suffix ?? `_x${outscale}`;
  const jobs = await planJobs(o, suffix, report, say);
  for (const job of jobs) {
    try {
      const header = await readImageFileHeader(job.input, imageByteCap(inputPixelLimit(o, config)));
      checkSize(job.input, header, o, config.scale, outscale);
      job.header = header;
    } catch (e) { report(e); }
  }
  const todo = jobs.filter((j) => j.header);
  phase('arguments, outputs and headers');
  if (todo.length) await run(o, todo, config, tensors, outscale, phase, report, say);
  if (tally.written + tally.skipped + tally.failed > 1 || (tally.skipped && !tally.written && !tally.failed)) {
    say(`${tally.written} written, ${tally.skipped} skipped (output exists), ${tally.failed} failed`);
  }
  if (tally.failed) process.exitCode = 1;
}

function checkOptions(values: Record<string, string | boolean | undefined>, inputs: string[]): Options {
  const str = (k: string) => values[k] as string | undefined;
  const quality = str('quality') !== undefined ? Number(str('quality')) : 92;
  if (!(quality >= 1 && quality <= 100)) throw new UsageError(`--quality ${str('quality')}: expected 1-100`);
  const tile = str('tile') !== undefined ? Number(str('tile')) : undefined;
  if (tile !== undefined && !(Number.isInteger(tile) && tile > 0)) throw new UsageError(`--tile ${str('tile')}: expected a positive integer`);
  const maxPixels = str('max-pixels') !== undefined ? Number(str('max-pixels')) : 2 ** 28;
  if (!(Number.isInteger(maxPixels) && maxPixels > 0)) throw new UsageError(`--max-pixels ${str('max-pixels')}: expected a positive integer`);
  const outscale = str('outscale') !== undefined ? Number(str('outscale')) : undefined;
  if (outscale !== undefined && !(Number.isFinite(outscale) && outscale > 0 && outscale <= 64)) {
    throw new UsageError(`--outscale ${str('outscale')}: expected a number above 0 (at most 64)`);
  }
  const suffix = str('suffix');
  if (suffix !== undefined && /[/\\\0]/.test(suffix)) throw new UsageError(`--suffix ${suffix}: must not contain / or \\`);
  let format: Format | undefined;
  if (str('format') !== undefined) {
    const f = str('format')!.toLowerCase();
    if (f !== 'png' && f !== 'jpg' && f !== 'jpeg') throw new UsageError(`--format ${str('format')}: expected png or jpg`);
    format = f === 'png' ? 'png' : 'jpg';
  }
  if (values.overwrite && values['skip-existing']) throw new UsageError('--overwrite and --skip-existing contradict each other');
  return {
    inputs, output: str('output'), outscale, suffix, format, quality, model: modelPath(str('model')), tile, maxPixels,
    overwrite: Boolean(values.overwrite), skipExisting: Boolean(values['skip-existing']), adapter: str('adapter'),
    quiet: Boolean(values.quiet), verbose: Boolean(values.verbose),
  };
}

function oneLine(e: unknown): string {
  return String((e as Error)?.message ?? e).split('\n')[0];
}

// ---------------------------------------------------------------------------------------------
// Planning: inputs -> jobs, all outputs checked before any work

/** One input image found on the command line or in a folder, with its path relative to the output root. */
interface Found { input: string; rel: string; root?: string }

const FILE_EXT: Record<string, Format> = { '.png': 'png', '.jpg': 'jpg', '.jpeg': 'jpg' };

async function planJobs(o: Options, suffix: string, report: (e: unknown) => void, say: (s: string) => void): Promise<Job[]> {
  const found = await findInputs(o, report, say);
  const outStat = o.output !== undefined ? await stat(o.output).catch(() => null) : null;
  // one input that is not a folder (it may have failed already: -o still means a file then)
  const single = o.inputs.length === 1 && !(await stat(o.inputs[0]).catch(() => null))?.isDirectory();
  // -o is a file only for one input image, when it does not end in / and is not a folder
  const outIsFile = o.output !== undefined && single && !/[/\\]$/.test(o.output) && !outStat?.isDirectory();
  if (o.output !== undefined && !outIsFile && FILE_EXT[extname(o.output).toLowerCase()] && !outStat?.isDirectory() && !single) {
    throw new UsageError(`-o ${o.output}: names one file, but there are several inputs (give a folder)`);
  }
  const jobs: Job[] = [];
  for (const f of found) {
    if (outIsFile) { jobs.push(fileOutput(f.input, o.output!, o.format)); continue; }
    const format = o.format ?? 'png';
    const name = basename(f.rel, extname(f.rel)) + suffix + '.' + format;
    const base = o.output ?? (f.root !== undefined ? folderOutput(f.root, suffix) : dirname(f.input));
    jobs.push({ input: f.input, output: join(base, dirname(f.rel), name), format });
  }
  await checkCollisions(jobs);
  const kept = await checkExisting(jobs, found, o, report);
  await checkWritable(kept, o, outIsFile);
  return kept;
}

/** The job for `-o FILE`: format from the extension, or --format when the name has none. */
function fileOutput(input: string, output: string, format?: Format): Job {
  const ext = extname(output).toLowerCase();
  if (!ext) return { input, output, format: format ?? 'png' };
  const byExt = FILE_EXT[ext];
  if (!byExt) throw new UsageError(`-o ${output}: cannot write ${ext} files (use .png, .jpg or .jpeg, or a name without extension and --format)`);
  if (format && format !== byExt) throw new UsageError(`-o ${output} contradicts --format ${format}`);
  return { input, output, format: byExt };
}

/** FOLDER_x4 beside FOLDER ('.' and '..' by their real names). */
function folderOutput(root: string, suffix: string): string {
  const trimmed = root.replace(/[/\\]+$/, '');
  const b = basename(trimmed);
  return (b === '' || b === '.' || b === '..' ? resolve(root) : trimmed) + suffix;
}

/** Command-line inputs expanded: folders walked, non-regular files refused, each real file once. */
async function findInputs(o: Options, report: (e: unknown) => void, say: (s: string) => void): Promise<Found[]> {
  const found: Found[] = [];
  const seen = new Map<string, string>();
  const add = async (input: string, rel: string, root?: string) => {
    const st = await stat(input);
    const id = `${st.dev}:${st.ino}`;
    if (seen.has(id)) { if (o.verbose) say(`note: ${input} is the same file as ${seen.get(id)}; done once`); return; }
    seen.set(id, input);
    found.push({ input, rel, root });
  };
  for (const p of o.inputs) {
    const st = await stat(p).catch((e: NodeJS.ErrnoException) => e);
    if (st instanceof Error) {
      report(new Error(`${p}: ${st.code === 'ENOENT' ? 'no such file or folder' : st.code === 'EACCES' ? 'permission denied' : st.message}`));
      continue;
    }
    if (st.isDirectory()) {
      const files = await listImages(p, {
        // -o DIR inside an input folder holds this command's outputs: never inputs (a re-run would upscale them again)
        exclude: o.output !== undefined ? [o.output] : [],
        onSkip: (f, problem, dup) => { if (!dup) report(new Error(`${f}: ${problem}`)); else if (o.verbose) say(`note: ${f} is the same file as ${dup}; done once`); },
      }).catch((e) => { report(e); return null; });
      if (files && !files.length) report(new Error(`${p}: no images (.png, .jpg, .jpeg, .bmp) found`));
      for (const f of files ?? []) await add(f, relative(p, f), p);
    } else if (!st.isFile()) {
      // refused by name, before anything is read: /dev/zero would never end
      await readImageBytes(p, 0).catch(report);
    } else await add(p, basename(p));
  }
  return found;
}

/** Two inputs writing one output is refused before any work: whichever came second would win silently. */
async function checkCollisions(jobs: Job[]): Promise<void> {
  const byOut = new Map<string, Job>();
  for (const j of jobs) {
    const key = await realOut(j.output);
    const other = byOut.get(key);
    if (other) {
      throw new Error(`${other.input} and ${j.input} would both be written to ${j.output}; nothing done ` +
        '(rename one, process them in separate runs, or use --suffix)');
    }
    byOut.set(key, j);
  }
}

/**
 * Existing outputs: replaced with --overwrite, skipped with --skip-existing, else an error for that
 * image. An output that is an input of this run (same device and inode, or same real path) is
 * never written, whatever the flags.
 */
async function checkExisting(jobs: Job[], found: Found[], o: Options, report: (e: unknown) => void): Promise<Job[]> {
  const inputs = new Set<string>();
  for (const f of found) {
    const st = await stat(f.input);
    inputs.add(`${st.dev}:${st.ino}`);
    inputs.add(await realpath(f.input));
  }
  const kept: Job[] = [];
  for (const j of jobs) {
    const st = await stat(j.output).catch(() => null);
    const isInput = inputs.has(await realOut(j.output)) || (st !== null && inputs.has(`${st.dev}:${st.ino}`));
    if (st && o.skipExisting) { tally.skipped++; continue; }
    if (isInput) { report(new Error(`${j.input}: the output ${j.output} is an input of this run; not overwriting it`)); continue; }
    if (st?.isDirectory()) { report(new Error(`${j.output}: is a folder; cannot write the output of ${j.input} there`)); continue; }
    if (st && !o.overwrite) { report(new Error(`${j.output}: exists (pass --overwrite to replace it or --skip-existing to keep it)`)); continue; }
    kept.push(j);
  }
  return kept;
}

/**
 * Output folders must be writable before minutes of work: a missing folder is created when its
 * deepest existing parent is a writable folder (the -o folder up front, subfolders when written).
 * `-o FILE` needs its folder to exist: a typo there should not create folders.
 */
async function checkWritable(jobs: Job[], o: Options, outIsFile: boolean): Promise<void> {
  const dirs = new Set(jobs.map((j) => dirname(j.output)));
  for (const d of dirs) {
    let p = resolve(d);
    let st = await stat(p).catch(() => null);
    if (!st && outIsFile) throw new Error(`${o.output}: cannot write: the folder ${d} does not exist`);
    while (!st && dirname(p) !== p) { p = dirname(p); st = await stat(p).catch(() => null); }
    if (!st?.isDirectory()) throw new Error(`${d}: cannot create the output folder: ${p} is not a folder`);
    const ok = await access(p, fsConstants.W_OK | fsConstants.X_OK).then(() => true, () => false);
    if (!ok) throw new Error(`${d}: cannot write the output folder (${p} is read-only)`);
  }
  if (o.output !== undefined && !outIsFile && jobs.length) await mkdir(o.output, { recursive: true });
}

// ---------------------------------------------------------------------------------------------
// Sizes

/** The largest input (in pixels) that --max-pixels allows: it bounds what is read of a file. */
function inputPixelLimit(o: Options, config: GeneratorConfig): number {
  return Math.min(MAX_PIXELS, Math.floor(o.maxPixels / (config.scale * config.scale)));
}

function outSize(w: number, h: number, outscale: number): [number, number] {
  return [Math.max(1, Math.round(w * outscale)), Math.max(1, Math.round(h * outscale))];
}

/** --max-pixels from the header: both the network's output and the final one must fit. */
function checkSize(input: string, header: ImageHeader, o: Options, scale: number, outscale: number): void {
  const { width: w, height: h } = header;
  const [W, H] = outSize(w, h, outscale);
  for (const [a, b, what] of [[w * scale, h * scale, 'the network output'], [W, H, 'the output']] as const) {
    if (a * b > o.maxPixels) {
      throw new Error(`${input}: ${w}x${h}: ${what} would be ${a}x${b} = ${a * b} pixels, over --max-pixels ${o.maxPixels}`);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The work: GPU, model, then one image at a time

async function run(o: Options, jobs: Job[], config: GeneratorConfig, tensors: Parameters<typeof checkGeneratorTensors>[1],
  outscale: number, phase: (what: string) => void, report: (e: unknown) => void, say: (s: string) => void): Promise<void> {
  await startGpu(o);
  phase('adapter and device');
  if (config.scale !== 4) say(`note: ${o.model} upscales x${config.scale}`);
  // BN folded on the CPU straight from the file's tensors; each folded weight uploaded once
  const F = FoldedGenerator.fromTensors(config, checkGeneratorTensors(config, tensors, o.model));
  phase('BN fold and weight upload');
  await F.warmup();
  phase('pipeline compile (1x1 warm-up)');

  const maxBinding = Number(gpu().limits.maxStorageBufferBindingSize);
  const r = F.tileNet.radius;
  const small = o.tile === undefined ? undefined : tileSizeProblem(o.tile, r);
  if (small) throw new UsageError(`--${small}`);
  const plans = new Map<Job, ReturnType<typeof planTiles>>();
  let worst = 1;
  for (const j of jobs) {
    try {
      const p = planTiles(j.header!.width, j.header!.height, F.tileNet, { tile: o.tile }, maxBinding);
      plans.set(j, p);
      const ratio = (p.windows.length * p.tw * p.th) / (j.header!.width * j.header!.height);
      worst = Math.max(worst, ratio);
      if (o.verbose) { // --verbose wins over --quiet, as for the [time] lines
        process.stderr.write(`[plan] ${j.input}: ${j.header!.width}x${j.header!.height} LR, ${p.nx}x${p.ny} tiles of ${p.tw}x${p.th} ` +
          `(context ${p.radius}, ${ratio.toFixed(2)}x the image area), ${p.batch} per batch\n`);
      }
    } catch (e) { report(new Error(`${j.input}: ${oneLine(e)}`)); }
  }
  if (o.tile !== undefined && worst > 2) {
    say(`warning: --tile ${o.tile}: each tile carries ${r} LR pixels of context on every side, so only its central ` +
      `${o.tile - 2 * r}x${o.tile - 2 * r} is new output: up to ${worst.toFixed(1)}x the work of whole-image inference ` +
      `(--tile ${Math.ceil((2 * r) / (1 - Math.SQRT1_2))} or more keeps it under 2x)`);
  }
  const progress = makeProgress(o, [...plans.values()].reduce((s, p) => s + p.windows.length, 0));
  const times = { infer: 0, write: 0 };
  const compile0 = gpu().stats.compileMs;
  for (const j of jobs) {
    const plan = plans.get(j);
    if (!plan) continue;
    try {
      await upscaleOne(F, j, o, outscale, times, (d) => progress.tick(d), say);
      tally.written++;
    } catch (e) {
      progress.clear();
      if (e instanceof GpuError) throw e; // a lost device fails every later image too
      report(e);
    }
    progress.done(plan.windows.length);
  }
  F.dispose();
  if (o.verbose) {
    const compileMs = gpu().stats.compileMs - compile0;
    process.stderr.write(`[time] ${'inference'.padEnd(34)} ${(times.infer / 1000).toFixed(3)} s` +
      (compileMs > 1 ? ` (of which ${(compileMs / 1000).toFixed(3)} s compiling pipelines)` : '') + '\n');
    process.stderr.write(`[time] ${'check, encode and write'.padEnd(34)} ${(times.write / 1000).toFixed(3)} s\n`);
    process.stderr.write(`[time] ${'total since process start'.padEnd(34)} ${(performance.now() / 1000).toFixed(3)} s\n`);
  }
}

/** getGpu with --adapter; an unknown name is answered with the adapters that exist. */
async function startGpu(o: Options): Promise<void> {
  try {
    await getGpu({ verbose: !o.quiet, adapter: o.adapter });
  } catch (e) {
    if (o.adapter === undefined) throw e;
    const list = await listAdapters().catch(() => []);
    const names = list.map((a) => `'${a.name}' (${a.backend}, ${a.type})`).join(', ');
    throw new Error(`--adapter ${o.adapter}: no such adapter; ${names ? `available: ${names}` : 'Dawn offers none'}`);
  }
}

async function printAdapters(): Promise<void> {
  const list = await listAdapters();
  if (!list.length) throw new Error('Dawn offers no WebGPU adapter (see scripts/install-vulkan.sh)');
  for (const a of list) {
    process.stdout.write(`${a.name}\n  backend: ${a.backend}\n  type:    ${a.type}\n` + (a.description ? `  driver:  ${a.description}\n` : ''));
  }
}

/** A progress bar on a terminal (nothing in logs or pipes, nothing with --quiet). */
function makeProgress(o: Options, total: number) {
  const show = !o.quiet && stderrIsTTY() && total > 0;
  const t0 = performance.now();
  let before = 0, drawn = false;
  const tick = (d: number) => {
    if (!show) return;
    const done = before + d;
    const el = (performance.now() - t0) / 1000;
    const eta = done > 0 ? (el / done) * (total - done) : NaN;
    const w = 30, fill = Math.round((done / total) * w);
    process.stderr.write(`\r[${'#'.repeat(fill)}${'.'.repeat(w - fill)}] ${done}/${total} tiles  ${el.toFixed(1)}s  ETA ${Number.isFinite(eta) ? eta.toFixed(1) + 's' : '?'}   `);
    drawn = true;
  };
  const clear = () => { if (drawn) process.stderr.write('\n'); drawn = false; };
  return { tick, clear, done: (n: number) => { before += n; } };
}

/** Reads, decodes, upscales, checks and writes one image; errors name the file. */
async function upscaleOne(F: FoldedGenerator, job: Job, o: Options, outscale: number, times: { infer: number; write: number },
  onTile: (done: number) => void, say: (s: string) => void): Promise<void> {
  const { width: hw, height: hh } = job.header!;
  // The header is trusted for the byte cap: a file much larger than its pixels is not an image we want.
  const bytes = await readImageBytes(job.input, imageByteCap(hw * hh));
  const img = decodeImage(bytes, job.input);
  const meta = readMetadata(bytes); // ICC profile and EXIF, carried to the output
  if (img.width !== hw || img.height !== hh) throw new Error(`${job.input}: decodes to ${img.width}x${img.height}, its header says ${hw}x${hh}`);
  if ((img.channels === 2 || img.channels === 4) && job.format === 'jpg') {
    say(`warning: ${job.input}: has an alpha channel, which JPEG cannot store: dropped in ${job.output} (use --format png to keep it)`);
  }
  const tInfer = performance.now();
  const up = await upscaleImage(F, img, { tile: o.tile, onTile }, job.input);
  times.infer += performance.now() - tInfer;
  const tWrite = performance.now();
  const out = finish(img, up, F.config.scale, outscale);
  const bytesOut = writeMetadata(job.format === 'png' ? encodePng(out) : encodeJpeg({ ...out, bitDepth: 8 }, o.quality), meta);
  await mkdir(dirname(job.output), { recursive: true });
  // the output may have appeared since planning; --overwrite was not given for that one
  if (!o.overwrite && (await stat(job.output).catch(() => null))) throw new Error(`${job.output}: exists (appeared during the run); not overwritten`);
  // writeAtomic removes its temporary file itself when the write fails
  await writeAtomic(job.output, bytesOut).catch((e) => { throw new Error(`${job.output}: cannot write (${(e as Error).message})`); });
  times.write += performance.now() - tWrite;
  say(`${job.input} -> ${job.output} (${out.width}x${out.height})`);
}

/** The upscaled image with the input's bit depth, resampled to --outscale when that is not the network's scale. */
function finish(img: Image, up: FloatImage, scale: number, outscale: number): Image {
  const out: Image = { ...up, bitDepth: img.bitDepth };
  if (outscale === scale) return out;
  const [W2, H2] = outSize(img.width, img.height, outscale);
  return { ...out, width: W2, height: H2, data: imresize(up.data, up.width, up.height, up.channels, W2, H2) };
}

// Last: the module's constants above must be initialised before main runs.
if (!(await runInFilteredChild())) {
  await runCli(async () => {
    try {
      await main();
    } catch (e) {
      if (!(e instanceof UsageError)) throw e;
      process.stderr.write(`error: ${e.message}\n`);
      process.exitCode = 2;
    }
  });
}
