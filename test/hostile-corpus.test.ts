// A corpus of hostile or unlucky inputs run end to end through the three CLIs, each with a time
// limit, and one set of assertions for all (issue 14): a non-zero exit, exactly one 'error:' line
// that names the file or flag at fault, no internal text (stack frames, TypeError, typed-array
// messages), no file created, changed or removed in the case's folder, no hang, and (issue 29) a
// bounded cost: a bad file of a few KB must not cost more than a few hundred MB (peak RSS, GNU time).
import { describe, it, expect, beforeAll } from 'vitest';
import { execFile, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync, symlinkSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodePng } from '../src/image/png.js';
import { serializeSafetensors, fromFloat32 } from '../src/nn/safetensors.js';
import { generatorTensorShapes } from '../src/srgan/generator.js';
import { setup, img } from './upscale-cli.js';
import { CRAFTED_PTH } from './pth-builder.js';

const dist = (f: string) => fileURLToPath(new URL(`../dist/${f}`, import.meta.url));
const LIMIT_MS = 30_000;
/** Peak resident memory a refusal may cost (a CLI that starts Dawn and lavapipe takes about 150 MB). */
const MEMORY_LIMIT_MB = 400;

interface Case {
  what: string;
  cli: 'upscale.js' | 'eval.js' | 'train.js';
  /** Makes the case's files in `d` (its own folder) and returns the arguments. */
  make: (d: string) => string[];
  error: RegExp;
}

/** Every file under d (symlinks not followed) with a hash of its bytes, or its kind. */
function snapshot(d: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (p: string) => {
    for (const f of readdirSync(p, { withFileTypes: true })) {
      const q = join(p, f.name);
      if (f.isDirectory()) { out.set(relative(d, q) + '/', 'dir'); walk(q); }
      else if (f.isFile()) out.set(relative(d, q), createHash('sha256').update(readFileSync(q)).digest('hex'));
      else out.set(relative(d, q), f.isSymbolicLink() ? 'symlink' : 'other');
    }
  };
  walk(d);
  return out;
}

/** Runs a CLI under GNU time (its peak RSS, written outside the case's folder). */
function runCli(cli: string, args: string[], cwd: string): Promise<{ code: number | null; stderr: string; timedOut: boolean; peakMb: number }> {
  const rss = join(base, `rss-${Date.now()}-${Math.random().toString(36).slice(2)}`);
  return new Promise((resolve) => {
    execFile('/usr/bin/time', ['-f', '%M', '-o', rss, 'node', dist(cli), ...args], { cwd, timeout: LIMIT_MS, env: { ...process.env, XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? '/tmp' } },
      (err, _stdout, stderr) => {
        const e = err as (Error & { code?: number; killed?: boolean; signal?: string }) | null;
        let peakMb = NaN;
        try { peakMb = Number(readFileSync(rss, 'utf8').trim().split('\n').at(-1)) / 1024; } catch { /* killed before GNU time wrote it */ }
        // GNU time prints "Command exited with non-zero status N" on stderr: not the CLI's
        const own = stderr.split('\n').filter((l) => !/^Command (exited with non-zero status|terminated by signal)/.test(l)).join('\n');
        resolve({ code: e ? (typeof e.code === 'number' ? e.code : null) : 0, stderr: own, timedOut: !!e?.killed, peakMb });
      });
  });
}

let model = '';
let base = '';
const NCNN = fileURLToPath(new URL('fixtures/compact_x4.param', import.meta.url));
/** The compact fixture as an ncnn model in d (NAME.param, NAME.bin), its text and bytes changed by `edit`. */
function ncnn(d: string, name: string, edit: (t: string) => string, bin?: Uint8Array): void {
  writeFileSync(join(d, `${name}.param`), edit(readFileSync(NCNN, 'utf8')));
  writeFileSync(join(d, `${name}.bin`), bin ?? readFileSync(NCNN.replace(/\.param$/, '.bin')));
}
const png = (w: number, h: number, seed = 1) => encodePng(img(w, h, 3, 8, seed));

/** A generator file with the given metadata over the tiny model's shapes (zeros), or with one NaN. */
function craftedModel(path: string, meta: Record<string, string>, nan = false): void {
  const cfg = { channels: 4, blocks: 1, scale: 4 as const };
  const tensors = [...generatorTensorShapes(cfg)].map(([k, shape]) => {
    const v = new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(0.01);
    if (nan && k === 'conv_in.weight') v[5] = NaN;
    return [k, fromFloat32(v, shape)] as [string, ReturnType<typeof fromFloat32>];
  });
  writeFileSync(path, serializeSafetensors(tensors, { format: 'srgan-webgpu-generator', generator: JSON.stringify(cfg), ...meta }));
}

const CASES: Case[] = [
  // upscale.js: broken images
  { what: 'a truncated PNG', cli: 'upscale.js', make: (d) => { writeFileSync(join(d, 'cut.png'), png(20, 20).subarray(0, 60)); return ['cut.png']; }, error: /cut\.png/ },
  { what: 'an empty file', cli: 'upscale.js', make: (d) => { writeFileSync(join(d, 'empty.png'), ''); return ['empty.png']; }, error: /empty\.png/ },
  { what: 'text named .png', cli: 'upscale.js', make: (d) => { writeFileSync(join(d, 'text.png'), 'hello'); return ['text.png']; }, error: /text\.png/ },
  { what: 'a JPEG cut after its header', cli: 'upscale.js', make: (d) => { writeFileSync(join(d, 'cut.jpg'), Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 16, 0x4a, 0x46])); return ['cut.jpg']; }, error: /cut\.jpg/ },
  { what: 'a BMP with a lying header', cli: 'upscale.js', make: (d) => { const b = Buffer.alloc(60); b.write('BM', 0, 'latin1'); b.writeUInt32LE(54, 10); b.writeUInt32LE(40, 14); b.writeInt32LE(100000, 18); b.writeInt32LE(100000, 22); b.writeUInt16LE(1, 26); b.writeUInt16LE(24, 28); writeFileSync(join(d, 'bomb.bmp'), b); return ['bomb.bmp']; }, error: /bomb\.bmp/ },
  { what: '/dev/zero', cli: 'upscale.js', make: () => ['/dev/zero', '-o', 'out.png'], error: /\/dev\/zero/ },
  { what: 'a FIFO', cli: 'upscale.js', make: (d) => { execFileSync('mkfifo', [join(d, 'pipe.png')]); return ['pipe.png', '-o', 'out.png']; }, error: /pipe\.png/ },
  { what: 'a missing file', cli: 'upscale.js', make: () => ['nope.png'], error: /nope\.png/ },
  { what: 'a folder without images', cli: 'upscale.js', make: (d) => { mkdirSync(join(d, 'in')); writeFileSync(join(d, 'in', 'notes.txt'), 'x'); return ['in']; }, error: /in/ },
  // upscale.js: outputs that would destroy an input
  { what: 'the input as its own output (./ spelling)', cli: 'upscale.js', make: (d) => { writeFileSync(join(d, 'p.png'), png(8, 8)); return ['p.png', '-o', './p.png', '--overwrite']; }, error: /p\.png/ },
  { what: 'the input as its own output (through a symlink)', cli: 'upscale.js', make: (d) => { writeFileSync(join(d, 'p.png'), png(8, 8)); symlinkSync('p.png', join(d, 'link.png')); return ['p.png', '-o', 'link.png', '--overwrite']; }, error: /p\.png|link\.png/ },
  // upscale.js: flags
  { what: '--tile -5', cli: 'upscale.js', make: (d) => { writeFileSync(join(d, 'p.png'), png(8, 8)); return ['p.png', '--tile', '-5']; }, error: /--tile/ },
  { what: '--tile abc', cli: 'upscale.js', make: (d) => { writeFileSync(join(d, 'p.png'), png(8, 8)); return ['p.png', '--tile', 'abc']; }, error: /--tile/ },
  { what: '--max-pixels abc', cli: 'upscale.js', make: (d) => { writeFileSync(join(d, 'p.png'), png(8, 8)); return ['p.png', '--max-pixels', 'abc']; }, error: /--max-pixels/ },
  { what: '--outscale 0', cli: 'upscale.js', make: (d) => { writeFileSync(join(d, 'p.png'), png(8, 8)); return ['p.png', '--outscale', '0']; }, error: /--outscale/ },
  { what: '--quality 101', cli: 'upscale.js', make: (d) => { writeFileSync(join(d, 'p.png'), png(8, 8)); return ['p.png', '--quality', '101', '-o', 'o.jpg']; }, error: /--quality/ },
  { what: '--format gif', cli: 'upscale.js', make: (d) => { writeFileSync(join(d, 'p.png'), png(8, 8)); return ['p.png', '--format', 'gif']; }, error: /--format/ },
  { what: 'an output under /proc (not writable)', cli: 'upscale.js', make: (d) => { writeFileSync(join(d, 'p.png'), png(8, 8)); return ['p.png', '-o', '/proc/nope/p_x4.png']; }, error: /\/proc\/nope/ },
  // upscale.js: crafted models
  { what: 'a model with NaN weights', cli: 'upscale.js', make: (d) => { writeFileSync(join(d, 'p.png'), png(8, 8)); craftedModel(join(d, 'nan.safetensors'), {}, true); return ['p.png', '--model', 'nan.safetensors']; }, error: /nan\.safetensors.*non-finite/ },
  { what: 'a model claiming 10^8 blocks', cli: 'upscale.js', make: (d) => { writeFileSync(join(d, 'p.png'), png(8, 8)); craftedModel(join(d, 'huge.safetensors'), { generator: JSON.stringify({ channels: 4, blocks: 100000000, scale: 4 }) }); return ['p.png', '--model', 'huge.safetensors']; }, error: /huge\.safetensors/ },
  { what: 'a model claiming 2048 channels', cli: 'upscale.js', make: (d) => { writeFileSync(join(d, 'p.png'), png(8, 8)); craftedModel(join(d, 'wide.safetensors'), { generator: JSON.stringify({ channels: 2048, blocks: 1, scale: 4 }) }); return ['p.png', '--model', 'wide.safetensors']; }, error: /wide\.safetensors/ },
  { what: 'a text file as the model', cli: 'upscale.js', make: (d) => { writeFileSync(join(d, 'p.png'), png(8, 8)); writeFileSync(join(d, 'm.safetensors'), 'not a model'); return ['p.png', '--model', 'm.safetensors']; }, error: /m\.safetensors/ },
  // upscale.js: ncnn models (.param + .bin), the compact network's fixture made damaged
  { what: 'an ncnn .param without its .bin', cli: 'upscale.js', make: (d) => { writeFileSync(join(d, 'p.png'), png(8, 8)); copyFileSync(NCNN, join(d, 'm.param')); return ['p.png', '--model', 'm.param']; }, error: /m\.bin: no such file/ },
  { what: 'an ncnn conv declaring 2^28 weights over a small .bin', cli: 'upscale.js', make: (d) => { writeFileSync(join(d, 'p.png'), png(8, 8)); ncnn(d, 'm', (t) => t.replace('6=576', '6=268435456')); return ['p.png', '--model', 'm.param']; }, error: /m\.param: layer Conv_2/ },
  { what: 'an ncnn .param declaring 99999 layers', cli: 'upscale.js', make: (d) => { writeFileSync(join(d, 'p.png'), png(8, 8)); ncnn(d, 'm', (t) => t.replace('14 15', '99999 15')); return ['p.png', '--model', 'm.param']; }, error: /m\.param: declares 99999 layers/ },
  { what: 'an ncnn .param with a layer of another network', cli: 'upscale.js', make: (d) => { writeFileSync(join(d, 'p.png'), png(8, 8)); ncnn(d, 'm', (t) => t.replace('PReLU            PRelu_5', 'ReLU             PRelu_5')); return ['p.png', '--model', 'm.param']; }, error: /m\.param: layer PRelu_5 \(ReLU\)/ },
  { what: 'an ncnn .bin of another model', cli: 'upscale.js', make: (d) => { writeFileSync(join(d, 'p.png'), png(8, 8)); ncnn(d, 'm', (t) => t, Buffer.concat([readFileSync(NCNN.replace(/\.param$/, '.bin')), Buffer.alloc(64)])); return ['p.png', '--model', 'm.param']; }, error: /m\.param: the \.bin holds/ },
  { what: 'a binary file named .param', cli: 'upscale.js', make: (d) => { writeFileSync(join(d, 'p.png'), png(8, 8)); writeFileSync(join(d, 'm.param'), png(8, 8)); writeFileSync(join(d, 'm.bin'), ''); return ['p.png', '--model', 'm.param']; }, error: /m\.param: not an ncnn \.param file/ },
  // upscale.js: crafted .pth files (a lying tensor record, a pickle built to cost memory or time)
  ...CRAFTED_PTH.filter((c) => c.error('x')).map((c): Case => ({
    what: `a crafted .pth: ${c.name}`, cli: 'upscale.js',
    make: (d) => { writeFileSync(join(d, 'p.png'), png(8, 8)); writeFileSync(join(d, c.name), c.bytes()); return ['p.png', '--model', c.name]; },
    error: c.error(c.name.replace('.', '\\.'))!,
  })),
  // eval.js
  { what: 'eval.js on a folder without images', cli: 'eval.js', make: (d) => { mkdirSync(join(d, 'set')); return ['--data', 'set', '--model', model]; }, error: /set/ },
  { what: 'eval.js with a NaN model', cli: 'eval.js', make: (d) => { mkdirSync(join(d, 'set')); writeFileSync(join(d, 'set', 'a.png'), png(24, 24)); craftedModel(join(d, 'nan.safetensors'), {}, true); return ['--data', 'set', '--model', 'nan.safetensors']; }, error: /nan\.safetensors.*non-finite/ },
  { what: 'eval.js --tile abc', cli: 'eval.js', make: (d) => { mkdirSync(join(d, 'set')); writeFileSync(join(d, 'set', 'a.png'), png(24, 24)); return ['--data', 'set', '--model', model, '--tile', 'abc']; }, error: /--tile/ },
  // train.js
  { what: 'train.js --set batch=1.5', cli: 'train.js', make: (d) => { mkdirSync(join(d, 'data')); writeFileSync(join(d, 'data', 'a.png'), png(40, 40)); return ['--data', 'data', '--out', 'run', '--set', 'batch=1.5']; }, error: /batch/ },
  { what: 'train.js --set generator.blocks=-1', cli: 'train.js', make: (d) => { mkdirSync(join(d, 'data')); writeFileSync(join(d, 'data', 'a.png'), png(40, 40)); return ['--data', 'data', '--out', 'run', '--set', 'generator.blocks=-1']; }, error: /generator\.blocks/ },
  { what: "train.js --max-time ''", cli: 'train.js', make: (d) => { mkdirSync(join(d, 'data')); writeFileSync(join(d, 'data', 'a.png'), png(40, 40)); return ['--data', 'data', '--out', 'run', '--max-time', '']; }, error: /--max-time/ },
  { what: 'train.js --config that is not JSON', cli: 'train.js', make: (d) => { mkdirSync(join(d, 'data')); writeFileSync(join(d, 'data', 'a.png'), png(40, 40)); writeFileSync(join(d, 'c.json'), '{ nope'); return ['--data', 'data', '--out', 'run', '--config', 'c.json']; }, error: /c\.json/ },
  { what: 'train.js --resume without a checkpoint', cli: 'train.js', make: (d) => { mkdirSync(join(d, 'data')); writeFileSync(join(d, 'data', 'a.png'), png(40, 40)); mkdirSync(join(d, 'run')); return ['--data', 'data', '--out', 'run', '--resume']; }, error: /checkpoint/ },
  { what: 'train.js with a missing --data folder', cli: 'train.js', make: () => ['--data', 'nodata', '--out', 'run'], error: /nodata/ },
  { what: 'train.js with images all smaller than the crop', cli: 'train.js', make: (d) => { mkdirSync(join(d, 'data')); writeFileSync(join(d, 'data', 'a.png'), png(20, 20)); return ['--data', 'data', '--out', 'run', '--set', 'phase2Steps=0']; }, error: /data/ },
  { what: 'train.js with an empty --val folder', cli: 'train.js', make: (d) => { mkdirSync(join(d, 'data')); writeFileSync(join(d, 'data', 'a.png'), png(100, 100)); mkdirSync(join(d, 'val')); return ['--data', 'data', '--out', 'run', '--val', 'val', '--set', 'phase2Steps=0']; }, error: /val/ },
];

beforeAll(async () => {
  ({ model } = await setup('srgan-corpus-'));
  base = mkdtempSync(join(tmpdir(), 'srgan-corpus-cases-'));
});

describe('hostile corpus: every case fails cleanly', () => {
  it(`${CASES.length} cases through upscale.js, eval.js and train.js`, async () => {
    const failures: string[] = [];
    let peak = 0;
    for (const [i, c] of CASES.entries()) {
      const d = join(base, String(i));
      mkdirSync(d);
      copyFileSync(model, join(d, 'tiny.safetensors')); // the upscale cases' model, unless a case names another
      const args = c.make(d);
      const full = c.cli === 'upscale.js' && !args.includes('--model') ? ['--model', 'tiny.safetensors', ...args] : args;
      const before = snapshot(d);
      const t0 = Date.now();
      const r = await runCli(c.cli, full, d);
      const after = snapshot(d);
      const errors = r.stderr.split('\n').filter((l) => l.startsWith('error:'));
      const problems: string[] = [];
      if (r.timedOut) problems.push(`no end within ${LIMIT_MS / 1000} s`);
      if (r.code === 0) problems.push('exit 0');
      if (errors.length !== 1) problems.push(`${errors.length} error lines`);
      else if (!c.error.test(errors[0])) problems.push(`error line does not name ${c.error}: ${errors[0]}`);
      if (/    at |TypeError|RangeError|Invalid typed array|undefined is not|Cannot read properties/.test(r.stderr)) problems.push('internal text in stderr');
      const changed = [...new Set([...before.keys(), ...after.keys()])].filter((k) => before.get(k) !== after.get(k));
      if (changed.length) problems.push(`files changed: ${changed.join(', ')}`);
      peak = Math.max(peak, r.peakMb || 0);
      if (!(r.peakMb <= MEMORY_LIMIT_MB)) problems.push(`peak memory ${r.peakMb.toFixed(0)} MB (limit ${MEMORY_LIMIT_MB})`);
      if (problems.length) failures.push(`${c.cli} ${c.what} (${Date.now() - t0} ms): ${problems.join('; ')}\n    ${r.stderr.trim().split('\n').join('\n    ')}`);
    }
    console.log(`hostile corpus: ${CASES.length} cases, the costliest refusal peaked at ${peak.toFixed(0)} MB`);
    expect(failures, failures.join('\n')).toEqual([]);
  }, CASES.length * LIMIT_MS);
});
