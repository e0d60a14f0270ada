// Run folders: checkpoint metadata and checksums verified on resume, settings that change a run's
// meaning refused on resume, one process per folder (lock), a crash's debris cleared (temporary
// files, a generator ahead of its checkpoint, log lines past it, a cut line), and no folder
// created when an input is wrong.
import { describe, it, expect, beforeAll } from 'vitest';
import { mkdtempSync, writeFileSync, readFileSync, existsSync, mkdirSync, appendFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { testGpu, rng } from '../helpers.js';
import { encodePng } from '../../src/image/png.js';
import { parseSafetensors, serializeSafetensors } from '../../src/nn/safetensors.js';
import { resolveConfig } from '../../src/srgan/config.js';
import { Trainer, type TrainOptions } from '../../src/train/trainer.js';
import { resumeConfig } from '../../src/train/checkpoint.js';
import { LOCK_FILE } from '../../src/train/run-folder.js';

const tmp = (p: string) => mkdtempSync(join(tmpdir(), p));

function makeData(n: number, size = 24): string {
  const dir = tmp('srgan-ckpt-data-');
  const r = rng(3);
  for (let k = 0; k < n; k++) {
    const w = size + k, h = size + 2;
    const data = new Float32Array(w * h * 3).map(() => r());
    writeFileSync(join(dir, `img${k}.png`), encodePng({ width: w, height: h, channels: 3, bitDepth: 8, data }));
  }
  return dir;
}

const tinyCfg = (over: Record<string, unknown> = {}) => resolveConfig({
  generator: { channels: 4, blocks: 1, scale: 4 }, discriminator: { channels: 4, denseUnits: 8 },
  batch: 1, crop: 16, phase1Steps: 3, phase2Steps: 0, checkpointEvery: 100, previewEvery: 0, logEvery: 1, seed: 5, ...over,
});

/** Runs fn with stderr captured; returns what was written. */
async function captureStderr(fn: () => Promise<void>): Promise<string> {
  const out: string[] = [];
  const orig = process.stderr.write.bind(process.stderr);
  (process.stderr as unknown as { write: (s: string) => boolean }).write = (s: string) => { out.push(String(s)); return true; };
  try { await fn(); } finally { (process.stderr as unknown as { write: typeof orig }).write = orig; }
  return out.join('');
}

let data = '';
const opts = (outDir: string, o: Partial<TrainOptions> = {}): TrainOptions => ({ dataDir: data, outDir, resume: false, quiet: true, ...o });

/** A run folder trained for `steps` steps of tinyCfg(over). */
async function trainedRun(steps: number, over: Record<string, unknown> = {}, o: Partial<TrainOptions> = {}): Promise<string> {
  const run = tmp('srgan-ckpt-run-');
  const t = new Trainer(tinyCfg(over), opts(run, { stopAfter: steps, ...o }));
  await t.init(); await t.run(); t.dispose();
  return run;
}

/** Rewrites a checkpoint's metadata (the tensors, and so their checksum, unchanged). */
function editMetadata(path: string, edit: (m: Record<string, string>) => void): void {
  const { tensors, metadata } = parseSafetensors(new Uint8Array(readFileSync(path)), path);
  edit(metadata);
  writeFileSync(path, serializeSafetensors(tensors, metadata));
}

const resumeInit = async (run: string, over: Record<string, unknown> = {}, o: Partial<TrainOptions> = {}) => {
  const t = new Trainer(tinyCfg(over), opts(run, { resume: true, ...o }));
  try { await t.init(); return t.step; } finally { t.dispose(); }
};

beforeAll(async () => { await testGpu(); data = makeData(2); });

describe('checkpoints', () => {
  it('metadata is validated on resume: a bad step is a clear line', async () => {
    const run = await trainedRun(2);
    const ckpt = join(run, 'checkpoint.safetensors');
    const good = readFileSync(ckpt);
    for (const bad of ['abc', '-40', '1e9', '', '2.5']) {
      editMetadata(ckpt, (m) => { m.step = bad; });
      const re = new RegExp(`^${ckpt}: metadata 'step' is ${JSON.stringify(bad).replace(/\./g, '\\.')}, expected a whole number of steps$`);
      await expect(resumeConfig(run, {})).rejects.toThrow(re);
      await expect(resumeInit(run)).rejects.toThrow(re);
      writeFileSync(ckpt, good);
    }
    editMetadata(ckpt, (m) => { m.step = '1000000000'; });
    await expect(resumeInit(run)).rejects.toThrow(/metadata step 1000000000 is past the end of its run \(3 steps\)/);
    editMetadata(ckpt, (m) => { m.config = '{"batch": '; });
    await expect(resumeConfig(run, {})).rejects.toThrow(/metadata 'config' is not valid JSON/);
    editMetadata(ckpt, (m) => { m.config = '{"batch": 1.5}'; });
    await expect(resumeConfig(run, {})).rejects.toThrow(new RegExp(`^${ckpt}: saved configuration: batch must be an integer in 1\\.\\.1024, got 1\\.5$`));
    editMetadata(ckpt, (m) => { delete m.adam_g_step; m.config = JSON.stringify(tinyCfg()); });
    await expect(resumeInit(run)).rejects.toThrow(/metadata 'adam_g_step' is missing/);
  });

  it('carry a checksum of their tensors: a mismatch names the file and refuses; a checkpoint without one loads with a note', async () => {
    const run = await trainedRun(2);
    const ckpt = join(run, 'checkpoint.safetensors');
    const good = readFileSync(ckpt);
    expect(parseSafetensors(new Uint8Array(good), ckpt).metadata.data_sha256).toMatch(/^[0-9a-f]{64}$/);
    const bad = Buffer.from(good);
    bad[bad.length - 10] ^= 1;
    writeFileSync(ckpt, bad);
    await expect(resumeInit(run)).rejects.toThrow(new RegExp(`^${ckpt}: checksum mismatch`));
    expect(existsSync(join(run, LOCK_FILE))).toBe(false); // a refused resume releases the lock
    // written by an earlier version: no checksum
    writeFileSync(ckpt, good);
    editMetadata(ckpt, (m) => { delete m.data_sha256; });
    const msg = await captureStderr(async () => { expect(await resumeInit(run, {}, { quiet: false })).toBe(2); });
    expect(msg).toMatch(/has no checksum \(written by an earlier version\)/);
  });

  it('settings that change the run are refused on resume unless allowed; step counts, rates and intervals may change', async () => {
    const run = await trainedRun(2);
    await expect(resumeConfig(run, { batch: 2, seed: 9 })).rejects.toThrow(/resuming would change the run's settings \(batch 1 -> 2, seed 5 -> 9\); pass --allow-changes/);
    await expect(resumeConfig(run, { pixelLoss: 'l1' })).rejects.toThrow(/pixelLoss "mse" -> "l1"/);
    await expect(resumeConfig(run, { generator: { blocks: 2 } })).rejects.toThrow(/generator\.blocks 1 -> 2/);
    expect((await resumeConfig(run, { batch: 2 }, true)).changes).toEqual(['batch 1 -> 2']);
    const free = { phase1Steps: 5, phase2Steps: 0, lr1: 5e-5, lr1Min: 1e-6, checkpointEvery: 7, validateEvery: 3, logEvery: 2 };
    expect((await resumeConfig(run, free)).changes.length).toBe(6); // phase2Steps unchanged
    // the trainer itself refuses too (a library user has no CLI in front of it)
    await expect(resumeInit(run, { seed: 6 })).rejects.toThrow(/seed 5 -> 6.*--allow-changes/);
    expect(await resumeInit(run, { seed: 6 }, { allowChanges: true })).toBe(2);
    expect(await resumeInit(run, { phase1Steps: 4, lr1: 2e-4 })).toBe(2);
  });

  it('a run folder is locked: a second process is refused naming the PID; a stale lock is taken over with a note', async () => {
    const run = await trainedRun(1);
    const lock = join(run, LOCK_FILE);
    expect(existsSync(lock)).toBe(false);
    const t = new Trainer(tinyCfg(), opts(run, { resume: true }));
    await t.init();
    expect(readFileSync(lock, 'utf8').trim()).toBe(String(process.pid));
    // another trainer on the same folder while the first holds it
    await expect(resumeInit(run)).rejects.toThrow(new RegExp(`^${run} is in use by another training process \\(PID ${process.pid}, lock file ${lock}\\)`));
    t.dispose();
    expect(existsSync(lock)).toBe(false);
    // a live process that is not this one (the test runner's parent)
    writeFileSync(lock, `${process.ppid}\n`);
    await expect(resumeInit(run)).rejects.toThrow(new RegExp(`PID ${process.ppid}`));
    // a PID no process can have: stale
    writeFileSync(lock, '99999999\n');
    const msg = await captureStderr(async () => { expect(await resumeInit(run)).toBe(1); });
    expect(msg).toMatch(/taking over a stale lock \(PID 99999999 is no longer running\)/);
    expect(existsSync(lock)).toBe(false);
  });

  it('a crash between the generator and the checkpoint: temporaries removed, generator rewritten to the checkpoint, log trimmed', async () => {
    const run = await trainedRun(2);
    const gen = join(run, 'generator.safetensors');
    const genAt2 = readFileSync(gen);
    expect(parseSafetensors(new Uint8Array(genAt2), gen).metadata.step).toBe('2');
    // what a crash after step 3's log line and generator, before its checkpoint, leaves
    const later = await trainedRun(3);
    writeFileSync(gen, readFileSync(join(later, 'generator.safetensors')));
    appendFileSync(join(run, 'log.jsonl'), JSON.stringify({ step: 3, phase: 1, loss_g: 1 }) + '\n{"step": 4, "pha');
    writeFileSync(join(run, 'checkpoint.safetensors.123.456.tmp'), 'half');
    mkdirSync(join(run, 'previews'), { recursive: true });
    writeFileSync(join(run, 'previews', 'step_0000003.png.123.789.tmp'), 'half');
    writeFileSync(join(run, 'notes.tmp'), 'a user file, not ours: kept');
    const t = new Trainer(tinyCfg(), opts(run, { resume: true, quiet: false }));
    const msg = await captureStderr(() => t.init());
    expect(msg).toMatch(/generator\.safetensors rewritten from the checkpoint \(step 2\): it is from step 3/);
    expect(msg).toMatch(/removed 2 temporary file/);
    expect(msg).toMatch(/log\.jsonl: dropped 1 line\(s\) after step 2 and 1 unreadable line/);
    expect(readFileSync(gen).equals(genAt2)).toBe(true);
    expect(readdirSync(run).filter((f) => f.endsWith('.tmp'))).toEqual(['notes.tmp']);
    expect(readdirSync(join(run, 'previews'))).toEqual([]);
    const steps = () => readFileSync(join(run, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l).step);
    expect(steps()).toEqual([1, 2]);
    await t.run();
    t.dispose();
    expect(steps()).toEqual([1, 2, 3]);
    // the pair ends consistent, and equal to an uninterrupted run's
    expect(readFileSync(gen).equals(readFileSync(join(later, 'generator.safetensors')))).toBe(true);
    expect(readFileSync(join(run, 'checkpoint.safetensors')).equals(readFileSync(join(later, 'checkpoint.safetensors')))).toBe(true);
    // a missing generator file is rewritten too
    const run2 = await trainedRun(1);
    const { unlinkSync } = await import('node:fs');
    unlinkSync(join(run2, 'generator.safetensors'));
    expect(await resumeInit(run2)).toBe(1);
    expect(existsSync(join(run2, 'generator.safetensors'))).toBe(true);
  });
});

describe('inputs are checked before the run folder is created', () => {
  it('no --out folder is left behind by a bad input', async () => {
    const base = tmp('srgan-nodebris-');
    const out = join(base, 'run');
    const empty = tmp('srgan-ckpt-empty-');
    const cases: Array<[Trainer, RegExp]> = [
      [new Trainer(tinyCfg(), opts(out, { dataDir: empty })), /no images/],
      [new Trainer(tinyCfg(), opts(out, { dataDir: join(empty, 'nope') })), /no such folder/],
      [new Trainer(tinyCfg(), opts(out, { valDir: empty })), /^--val: .*no images/],
      [new Trainer(tinyCfg({ phase2Steps: 1 }), opts(out)), /needs ImageNet VGG19 weights: pass --vgg PATH \(a TensorFlow\.js layers-model folder or model\.json, or torchvision-named safetensors/],
      [new Trainer(tinyCfg({ phase2Steps: 1 }), opts(out, { vggPath: join(empty, 'vgg19') })),
        /vgg19: no such file or folder .*\(--vgg takes a TensorFlow\.js layers-model folder or model\.json, or torchvision-named safetensors/],
      [new Trainer(tinyCfg(), opts(out, { resume: true })), /no checkpoint to resume from/],
      [new Trainer(tinyCfg(), opts(out, { initGenerator: join(empty, 'g.safetensors') })), /g\.safetensors: no such file/],
    ];
    writeFileSync(join(empty, 'not-vgg.bin'), 'x');
    cases.push([new Trainer(tinyCfg({ phase2Steps: 1 }), opts(out, { vggPath: join(empty, 'not-vgg.bin') })), /not-vgg\.bin: .*--vgg takes a TensorFlow\.js/]);
    for (const [t, re] of cases) {
      await expect(t.init()).rejects.toThrow(re);
      t.dispose();
      expect(existsSync(out)).toBe(false);
    }
  });
});
