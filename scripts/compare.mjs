#!/usr/bin/env node
// Side-by-side crops for model cards (run `npm run build` first):
//   node scripts/compare.mjs --out models/compare.png --model srresnet=models/srresnet.safetensors \
//     [--model srgan=FILE ...] [--zoom 2] IMAGE@X,Y,W,H [IMAGE@X,Y,W,H ...]
// For each HR image: mod-crop to 4, make the LR input by the evaluation's MATLAB-style bicubic
// (8-bit), upscale it with bicubic and with each model (the whole image, as a user would), then cut
// the same W x H box out of each result and of HR. One row per image, columns left to right:
// bicubic, each --model in the order given, HR; 4 white pixels between tiles; --zoom magnifies by
// pixel replication so that texture is visible on a page. The card's caption names the columns.
// With --lr each IMAGE is itself the input (a real JPEG photograph, say, with no HR to show): its box
// is in the input's pixels, and there is no HR column. --results NAME=DIR adds a column from another
// upscaler's x4 outputs, DIR/<image name>.png (e.g. Real-ESRGAN's upscayl-bin run on the same files).
// --degrade CASE makes the LR as eval.js --degrade does (jpeg75, ...) instead of bicubic.
import { parseArgs } from 'node:util';
import { toRGB, fromRGB } from '../dist/image/pixels.js';
import { encodePng } from '../dist/image/png.js';
import { readImage } from '../dist/node/image-files.js';
import { writeAtomic } from '../dist/node/state.js';
import { imresize, upscaleNearest } from '../dist/image/resize.js';
import { downscale } from '../dist/train/data.js';
import { getGpu } from '../dist/node/gpu.js';
import { loadFoldedGenerator } from '../dist/node/model.js';
import { upscaleTiled } from '../dist/srgan/inference.js';
import { sameFile } from '../dist/node/paths.js';
import { EVAL_CASES, evalInput } from '../dist/srgan/degrade.js';
import { basename, extname, join } from 'node:path';

const usage = 'usage: node scripts/compare.mjs --out OUT.png [--model NAME=FILE ...] [--results NAME=DIR ...] [--zoom Z] [--lr | --degrade CASE] IMAGE@X,Y,W,H ...';
const fail = (m) => { process.stderr.write(`error: ${m}\n`); process.exit(1); };
let parsed;
try {
  parsed = parseArgs({
    allowPositionals: true,
    options: { out: { type: 'string' }, model: { type: 'string', multiple: true }, zoom: { type: 'string' }, lr: { type: 'boolean' },
      results: { type: 'string', multiple: true }, degrade: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
} catch (e) {
  fail(`${e.message.split('\n')[0].replace(/\. To specify a positional.*$/, '')}; ${usage}`);
}
const { values, positionals } = parsed;
if (values.help) { process.stdout.write(usage + '\n'); process.exit(0); }
if (!values.out || !positionals.length) fail(usage);
const zoom = Number(values.zoom ?? 1);
const models = (values.model ?? []).map((m) => { const i = m.indexOf('='); if (i < 0) fail(`--model ${m}: expected NAME=FILE`); return [m.slice(0, i), m.slice(i + 1)]; });
const results = (values.results ?? []).map((m) => { const i = m.indexOf('='); if (i < 0) fail(`--results ${m}: expected NAME=DIR`); return [m.slice(0, i), m.slice(i + 1)]; });
if (values.degrade !== undefined && !EVAL_CASES.includes(values.degrade)) fail(`--degrade ${values.degrade}: expected one of ${EVAL_CASES.join(', ')}`);
if (values.degrade !== undefined && values.lr) fail('--degrade makes the LR from an HR image; --lr takes the image as the LR');
// --out must not be one of the inputs (an image or a model), however it is spelt
for (const input of [...positionals.map((p) => p.replace(/@[\d,]+$/, '')), ...models.map(([, f]) => f)]) {
  if (await sameFile(input, values.out)) fail(`--out ${values.out}: is the input ${input}; refusing to overwrite it`);
}

await getGpu({ verbose: false });
const nets = [];
for (const [name, file] of models) nets.push([name, await loadFoldedGenerator(file)]);

const GAP = 4;
const rows = [];
for (const spec of positionals) {
  const m = spec.match(/^(.*)@(\d+),(\d+),(\d+),(\d+)$/);
  if (!m) fail(`${spec}: expected IMAGE@X,Y,W,H`);
  const [, file, bx, by, bw, bh] = m; const [x0, y0, w, h] = [bx, by, bw, bh].map(Number);
  const img = await readImage(file);
  const { rgb: full } = toRGB(img);
  let lr, W, H, hr = null;
  // the box in output pixels: given in the input's with --lr
  const [bx0, by0, bw0, bh0] = values.lr ? [4 * x0, 4 * y0, 4 * w, 4 * h] : [x0, y0, w, h];
  if (values.lr) {
    lr = full; W = 4 * img.width; H = 4 * img.height;
    if (x0 + w > img.width || y0 + h > img.height) fail(`${spec}: the box leaves the ${img.width}x${img.height} image`);
  } else {
    W = img.width - (img.width % 4); H = img.height - (img.height % 4);
    if (x0 + w > W || y0 + h > H) fail(`${spec}: the box leaves the ${W}x${H} image`);
    hr = new Float32Array(W * H * 3);
    for (let y = 0; y < H; y++) hr.set(full.subarray(y * img.width * 3, (y * img.width + W) * 3), y * W * 3);
    const hr8 = Uint8Array.from(hr, (v) => Math.round(v * 255));
    lr = downscale(hr8, W, H, 4);
    if (values.degrade) lr = evalInput(values.degrade, { w: W, h: H, data: hr }, { w: W / 4, h: H / 4, data: lr }, 4, basename(file)).data;
  }
  const outs = [imresize(lr, W / 4, H / 4, 3, W, H)];
  for (const [, F] of nets) {
    const sr = await upscaleTiled(F, lr, W / 4, H / 4);
    outs.push(sr.map((v) => (v + 1) / 2));
  }
  for (const [name, dir] of results) {
    const p = join(dir, basename(file, extname(file)) + '.png');
    const r = await readImage(p).catch((e) => fail(`--results ${name}: ${e.message.split('\n')[0]}`));
    if (r.width < W || r.height < H) fail(`${p}: ${r.width}x${r.height}, expected at least ${W}x${H} (x4 of the input)`);
    const rgb = toRGB(r).rgb, o = new Float32Array(W * H * 3);
    for (let y = 0; y < H; y++) o.set(rgb.subarray(y * r.width * 3, (y * r.width + W) * 3), y * W * 3);
    outs.push(o);
  }
  if (hr) outs.push(hr);
  const cut = (a) => {
    const o = new Float32Array(bw0 * bh0 * 3);
    for (let y = 0; y < bh0; y++) for (let i = 0; i < bw0 * 3; i++) o[y * bw0 * 3 + i] = Math.min(1, Math.max(0, a[((by0 + y) * W + bx0) * 3 + i]));
    return zoom > 1 ? upscaleNearest(o, bw0, bh0, 3, zoom) : o;
  };
  rows.push({ tiles: outs.map(cut), w: bw0 * zoom, h: bh0 * zoom });
  process.stderr.write(`${file}: ${W}x${H}, box ${bw0}x${bh0} at ${bx0},${by0}\n`);
}
const cols = rows[0].tiles.length;
const TW = Math.max(...rows.map((r) => r.w)), TH = rows.map((r) => r.h);
const outW = cols * TW + (cols - 1) * GAP, outH = TH.reduce((s, v) => s + v, 0) + (rows.length - 1) * GAP;
const canvas = new Float32Array(outW * outH * 3).fill(1);
let oy = 0;
for (const r of rows) {
  r.tiles.forEach((t, c) => {
    for (let y = 0; y < r.h; y++) canvas.set(t.subarray(y * r.w * 3, (y + 1) * r.w * 3), ((oy + y) * outW + c * (TW + GAP)) * 3);
  });
  oy += r.h + GAP;
}
await writeAtomic(values.out, encodePng(fromRGB(outW, outH, canvas)));
process.stderr.write(`wrote ${values.out}: ${outW}x${outH}, columns: bicubic, ${[...models, ...results].map(([n]) => n).join(', ')}${values.lr ? '' : ', HR'}\n`);
process.exit(0);
