#!/usr/bin/env node
// Prepares photographs for training or evaluation (run `npm run build` first):
//   node scripts/prepare-data.mjs --out DIR [--downscale F] [--crop S] FILE|FOLDER...
// Each image is decoded (PNG, JPEG with EXIF orientation, BMP), made RGB, optionally downscaled by
// F with the project's MATLAB-style bicubic (antialiased), which also removes most JPEG block and
// ringing artefacts of camera or wallpaper JPEGs, and written to DIR as 8-bit PNG. With --crop S the
// result is cut into S x S sub-images on an even grid (overlapping where S does not divide the
// size), so that a training run decodes small PNGs at start-up instead of large JPEGs and never
// holds a full-size photograph. Grey images stay grey (written as RGB). Existing outputs are kept.
import { readdirSync, statSync, existsSync, mkdirSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { toRGB, fromRGB, cropImage } from '../dist/image/pixels.js';
import { encodePng } from '../dist/image/png.js';
import { readImage } from '../dist/node/image-files.js';
import { writeAtomic } from '../dist/node/state.js';
import { imresize } from '../dist/image/resize.js';

const usage = 'usage: node scripts/prepare-data.mjs --out DIR [--downscale F] [--crop S] FILE|FOLDER...\n';
let parsed;
try {
  parsed = parseArgs({
    allowPositionals: true,
    options: { out: { type: 'string' }, downscale: { type: 'string' }, crop: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
} catch (e) {
  process.stderr.write(`error: ${e.message.split('\n')[0].replace(/\. To specify a positional.*$/, '')}\n${usage}`); process.exit(2);
}
const { values, positionals } = parsed;
if (values.help) { process.stdout.write(usage); process.exit(0); }
const fail = (msg) => { process.stderr.write(`error: ${msg}\n`); process.exit(1); };
if (!values.out || positionals.length === 0) { process.stderr.write(usage); process.exit(2); }
const factor = Number(values.downscale ?? 1);
if (!(factor >= 1)) fail(`--downscale ${values.downscale}: expected a number >= 1`);
const crop = values.crop === undefined ? 0 : Number(values.crop);
if (!(Number.isInteger(crop) && crop >= 0)) fail(`--crop ${values.crop}: expected a positive integer`);

const EXT = new Set(['.png', '.jpg', '.jpeg', '.bmp']);
const files = [];
for (const p of positionals) {
  const st = statSync(p, { throwIfNoEntry: false });
  if (!st) fail(`${p}: no such file or folder`);
  if (st.isDirectory()) {
    for (const f of readdirSync(p).sort()) if (EXT.has(extname(f).toLowerCase())) files.push(join(p, f));
  } else files.push(p);
}

/** Start offsets of n windows of size s spread evenly over [0, full). */
const grid = (full, s) => {
  const n = Math.ceil(full / s);
  return n <= 1 ? [0] : Array.from({ length: n }, (_, i) => Math.round((i * (full - s)) / (n - 1)));
};

// two inputs that would write one name (a.png and a.jpg) are refused before anything is written:
// the second would have been dropped without a word
const nameOf = (file) => { const stem = basename(file, extname(file)); return stem.match(/^\d+x\d+$/) ? basename(join(file, '../../..')) : stem; };
const byName = new Map();
for (const f of files) {
  const n = nameOf(f);
  if (byName.has(n)) fail(`${byName.get(n)} and ${f} would both be written as ${n}*.png; rename one`);
  byName.set(n, f);
}
mkdirSync(values.out, { recursive: true });

let written = 0;
for (const file of files) {
  // the folder names the source (e.g. plasma's <Name>/contents/images/2560x1600.jpg)
  const stem = basename(file, extname(file));
  const name = stem.match(/^\d+x\d+$/) ? basename(join(file, '../../..')) : stem;
  let img;
  try { img = await readImage(file); } catch (e) { fail(`${file}: ${e.message.split('\n')[0]}`); }
  let { rgb } = toRGB(img);
  let w = img.width, h = img.height;
  if (factor > 1) {
    const w2 = Math.round(w / factor), h2 = Math.round(h / factor);
    rgb = imresize(rgb, w, h, 3, w2, h2);
    w = w2; h = h2;
  }
  const small = fromRGB(w, h, rgb.map((v) => Math.min(1, Math.max(0, v))));
  const pieces = [];
  if (crop > 0 && (w > crop || h > crop)) {
    const cw = Math.min(crop, w), ch = Math.min(crop, h);
    for (const y of grid(h, ch)) for (const x of grid(w, cw)) pieces.push([`${name}_${x}_${y}.png`, cropImage(small, x, y, cw, ch)]);
  } else pieces.push([`${name}.png`, small]);
  for (const [out, piece] of pieces) {
    const path = join(values.out, out);
    if (existsSync(path)) continue;
    await writeAtomic(path, encodePng(piece));
    written++;
  }
  process.stderr.write(`${file}: ${img.width}x${img.height} -> ${w}x${h}, ${pieces.length} file(s)\n`);
}
process.stderr.write(`${written} file(s) written to ${values.out}\n`);
