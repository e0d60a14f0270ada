// Batches built ahead in a worker thread (the compiled dist/ build, as train.js runs it): the same
// batches as the main thread's makeBatch, in any order asked; and a run on the real-world
// degradations that resumes from its checkpoint ends with the weights of an uninterrupted one.
import { describe, it, expect, beforeAll } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { rng } from '../helpers.js';
import { encodePng } from '../../src/image/png.js';
import { parseSafetensors } from '../../src/nn/safetensors.js';

const dist = (f: string) => new URL(`../../dist/${f}`, import.meta.url);
const exec = promisify(execFile);

let data = '';
beforeAll(() => {
  data = mkdtempSync(join(tmpdir(), 'srgan-prefetch-'));
  const r = rng(4);
  for (let k = 0; k < 3; k++) {
    const w = 60 + 7 * k, h = 52;
    const px = new Float32Array(w * h * 3);
    for (let i = 0; i < px.length; i++) px[i] = 0.5 + 0.3 * Math.sin(i * 0.01 * (k + 1)) + 0.1 * r();
    writeFileSync(join(data, `i${k}.png`), encodePng({ width: w, height: h, channels: 3, bitDepth: 8, data: px }));
  }
});

describe('BatchSource', () => {
  it('a worker thread builds the batches makeBatch builds, whatever order they are asked in', async () => {
    const { BatchSource } = await import(dist('train/prefetch.js').href);
    const { makeBatch, loadImages } = await import(dist('train/data.js').href);
    const { DEFAULT_DEGRADATION } = await import(dist('srgan/degrade.js').href);
    const images = await loadImages(data, { minSize: 32 });
    const deg = { ...DEFAULT_DEGRADATION, kind: 'realesrgan', cleanProb: 0.2 };
    const src = new BatchSource(images, { n: 4, crop: 32, scale: 4, seed: 9, degradation: deg });
    expect(src.threaded).toBe(true);
    try {
      for (const step of [3, 4, 9, 2]) {
        const a = await src.get(step), b = makeBatch(images, 4, 32, 4, 9, step, deg);
        expect(Buffer.from(a.lr.buffer).equals(Buffer.from(b.lr.buffer))).toBe(true);
        expect(Buffer.from(a.hr.buffer).equals(Buffer.from(b.hr.buffer))).toBe(true);
      }
      expect(src.built).toBeGreaterThanOrEqual(4);
    } finally { await src.close(); }
  });
});

describe('train.js on the real-world degradations', () => {
  it('resumes exactly: 2 steps, then 2 more from the checkpoint, equal 4 in one go; the log says how long steps waited for data', async () => {
    const cfg = { generator: { channels: 8, blocks: 1, scale: 4, norm: 'none', skip: 'bilinear', upsample: 'espcn' }, batch: 2, crop: 32,
      phase2Steps: 0, logEvery: 1, checkpointEvery: 100, previewEvery: 0, seed: 3, degradation: { kind: 'realesrgan', cleanProb: 0.1 } };
    const cfgFile = join(data, '..', `cfg-${process.pid}.json`);
    writeFileSync(cfgFile, JSON.stringify(cfg));
    const run = (out: string, extra: string[]) => exec('node', [fileURLToPath(dist('train.js')), '--data', data, '--out', out, '--config', cfgFile, ...extra],
      { env: { ...process.env, SRGAN_VARIANTS: 'off' }, timeout: 120_000 });
    const a = mkdtempSync(join(tmpdir(), 'srgan-degA-')), b = mkdtempSync(join(tmpdir(), 'srgan-degB-'));
    await run(a, ['--set', 'phase1Steps=4']);
    await run(b, ['--set', 'phase1Steps=2']);
    await run(b, ['--resume', '--set', 'phase1Steps=4']);
    const tensors = (dir: string) => {
      const st = parseSafetensors(new Uint8Array(readFileSync(join(dir, 'generator.safetensors'))), 'g');
      return { names: [...st.tensors.keys()], bytes: [...st.tensors.values()].map((t) => Buffer.from(t.data)) };
    };
    const ta = tensors(a), tb = tensors(b);
    expect(tb.names).toEqual(ta.names);
    ta.bytes.forEach((x, i) => expect(tb.bytes[i].equals(x)).toBe(true));
    const log = readFileSync(join(a, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(log).toHaveLength(4);
    for (const r of log) expect(r.data_wait_ms).toBeGreaterThanOrEqual(0);
    const meta = parseSafetensors(new Uint8Array(readFileSync(join(a, 'generator.safetensors'))), 'g').metadata;
    expect(JSON.parse(meta.trained_with).degradation).toBe('realesrgan');
  }, 240_000);
});
