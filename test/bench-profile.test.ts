// bench/profile.ts end to end: a model file's inference profiled kernel by kernel, and a bad run
// configuration refused on one line. Runs the built script (dist-bench, built by `npm run build`).
import { describe, it, expect } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const script = fileURLToPath(new URL('../dist-bench/bench/profile.js', import.meta.url));
const model = fileURLToPath(new URL('../models/srresnet.safetensors', import.meta.url));
const run = promisify(execFile);

describe('bench/profile.js', () => {
  it('times each kernel of a model file\'s inference and sums them under the wall time', async () => {
    const r = await run('node', [script, model, '--size', '20'], { timeout: 120_000 });
    const head = r.stdout.match(/wall (\d+) ms; profiled run (\d+) ms, (\d+) dispatches, kernel time (\d+) ms/);
    expect(head).not.toBeNull();
    const [, , profiled, dispatches, kernels] = head!.map(Number);
    const rows = [...r.stdout.matchAll(/^\| (\S+) \| ([\d.]+) \| (\d+) \| ([\d.]+)% \|$/gm)];
    expect(rows.map((m) => m[1])).toContain('matmul_sg.main'); // the Winograd GEMMs of the residual blocks
    expect(rows.reduce((n, m) => n + Number(m[3]), 0)).toBe(dispatches);
    expect(Math.abs(rows.reduce((ms, m) => ms + Number(m[2]), 0) - kernels)).toBeLessThanOrEqual(1 + rows.length * 0.05);
    expect(kernels).toBeLessThanOrEqual(profiled);
  });

  it('profiles one training step of a run configuration, with its networks and losses', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'profile-'));
    const cfg = join(dir, 'run.json');
    writeFileSync(cfg, JSON.stringify({
      generator: { channels: 8, blocks: 1, upsample: 'shuffle-espcn', norm: 'none', skip: 'bilinear' },
      discriminator: { channels: 8, denseUnits: 16, head: 'pool' }, batch: 2, crop: 32, phase1Steps: 0, phase2Steps: 10,
      vggLayer: 'vgg22', pixelWeight2: 0.2, lowWeight2: 1, chromaWeight2: 1, gridWeight2: 5, ema: 0.9,
    }));
    const r = await run('node', [script, cfg], { timeout: 120_000 });
    expect(r.stdout).toContain(`${cfg}: SRGAN step, batch 2 of 32x32, vgg22`);
    const names = [...r.stdout.matchAll(/^\| (\S+) \| [\d.]+ \| \d+ \|/gm)].map((m) => m[1]);
    expect(names).toEqual(expect.arrayContaining(['adam.main', 'maxpool.forward4', 'pixel_shuffle.main']));
  });

  it('refuses a run configuration with an unknown entry, naming the file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'profile-'));
    const bad = join(dir, 'run.json');
    writeFileSync(bad, JSON.stringify({ batch: 2, crop: 32, bogus: 1 }));
    const e = await run('node', [script, bad], { timeout: 60_000 }).then(() => null, (x) => x);
    expect(e?.code).toBe(1);
    const line = e.stderr.split('\n').filter((l: string) => l.startsWith('profile:'));
    expect(line).toEqual([`profile: ${bad}: unknown entry 'bogus' (see --help for the entries)`]);
  });

  it.each([
    [['nope.safetensors'], 1, /^profile: nope\.safetensors: no such file$/],
    [['inference', '--size', 'x'], 2, /^profile: --size "x": expected an integer in 1\.\.4096$/],
    [['srresnet-step', '--batch', '0'], 2, /^profile: --batch "0": expected an integer in 1\.\.256$/],
    [['--bogus'], 2, /^profile: Unknown option '--bogus'/],
  ])('%j: one line naming the problem, exit %i (no stack trace)', async (args, code, message) => {
    const e = await run('node', [script, ...args], { timeout: 60_000 }).then(() => null, (x) => x);
    expect(e?.code).toBe(code);
    const lines = e.stderr.split('\n').filter((l: string) => l && !l.startsWith('Warning: ') && !l.startsWith('WebGPU adapter'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(message);
  });
});
