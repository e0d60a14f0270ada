// train.js under signals, as a user stops it: SIGTERM (or Ctrl-C's SIGINT) finishes the step, writes a
// checkpoint and exits 0, and --resume goes on from there; a second signal exits at once with code
// 130. Either way the run folder's lock is released.
import { describe, it, expect } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { rng } from '../helpers.js';
import { encodePng } from '../../src/image/png.js';
import { readSafetensors, readSafetensorsHeader } from '../../src/node/state.js';

const tmp = (p: string) => mkdtempSync(join(tmpdir(), p));
const TRAIN = fileURLToPath(new URL('../../dist/train.js', import.meta.url));

function setUp(): { data: string; config: string; out: string } {
  const base = tmp('srgan-signals-');
  const data = join(base, 'data');
  mkdirSync(data);
  const r = rng(7);
  for (let k = 0; k < 3; k++) {
    const img = encodePng({ width: 40, height: 40, channels: 3, bitDepth: 8, data: new Float32Array(40 * 40 * 3).map(() => r()) });
    writeFileSync(join(data, `img${k}.png`), img);
  }
  const config = join(base, 'config.json');
  writeFileSync(config, JSON.stringify({
    // steps long enough (~0.5 s here) that a signal sent 50 ms after the first lands within the step
    generator: { channels: 32, blocks: 4, scale: 4 }, batch: 4, crop: 32, phase1Steps: 100000, phase2Steps: 0,
    checkpointEvery: 100000, previewEvery: 0, logEvery: 1, seed: 3,
  }));
  return { data, config, out: join(base, 'run') };
}

/** Starts train.js and sends it `signals` (see below); resolves with the exit code and stderr. */
function trainUntil(args: string[], out: string, steps: number, signals: NodeJS.Signals[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [TRAIN, ...args], { env: { ...process.env, XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? '/tmp' } });
    let stderr = '';
    child.stderr.on('data', (d) => { stderr += d; });
    const logged = () => (existsSync(join(out, 'log.jsonl')) ? readFileSync(join(out, 'log.jsonl'), 'utf8').trim().split('\n').filter(Boolean).length : 0);
    // the first signal once `steps` are logged; each further one once the previous is acknowledged
    // (two signals sent back to back can reach the process as one)
    let sent = 0;
    const poll = setInterval(() => {
      if (sent === 0 ? logged() >= steps : stderr.split('saving a checkpoint').length - 1 >= sent) child.kill(signals[sent++]);
      if (sent === signals.length) clearInterval(poll);
    }, 50);
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`train.js did not end: ${stderr}`)); }, 90_000);
    child.on('close', (code) => { clearInterval(poll); clearTimeout(timer); resolve({ code, stderr }); });
  });
}

const stepOf = async (out: string) => Number((await readSafetensorsHeader(join(out, 'checkpoint.safetensors'))).metadata.step);

describe('train.js and signals', () => {
  it('SIGTERM: checkpoint at the step reached, exit 0, lock released; --resume continues; SIGINT twice: exit 130 at once', async () => {
    const { data, config, out } = setUp();
    const a = await trainUntil(['--data', data, '--out', out, '--config', config], out, 2, ['SIGTERM']);
    expect(a.code, a.stderr).toBe(0);
    expect(a.stderr).toMatch(/SIGTERM: saving a checkpoint and stopping after this step/);
    const s1 = await stepOf(out);
    expect(s1).toBeGreaterThanOrEqual(2);
    expect(a.stderr).toMatch(new RegExp(`saved .*checkpoint\\.safetensors and .*generator\\.safetensors at step ${s1}`));
    expect(existsSync(join(out, 'train.lock'))).toBe(false);

    const b = await trainUntil(['--data', data, '--out', out, '--resume'], out, s1 + 1, ['SIGINT']);
    expect(b.code, b.stderr).toBe(0);
    expect(b.stderr).toMatch(new RegExp(`resumed from .* at step ${s1}`));
    expect(await stepOf(out)).toBeGreaterThan(s1);

    const s2 = await stepOf(out);
    const c = await trainUntil(['--data', data, '--out', out, '--resume'], out, s2 + 1, ['SIGINT', 'SIGINT']);
    expect(c.code, c.stderr).toBe(130);
    expect(c.stderr).toMatch(/SIGINT again: exiting without waiting/);
    expect(existsSync(join(out, 'train.lock'))).toBe(false);
    // the checkpoint is whole: the one from before, or one the step finished before the second signal
    expect(await stepOf(out)).toBeGreaterThanOrEqual(s2);
    await readSafetensors(join(out, 'checkpoint.safetensors')); // its checksum verifies
  }, 200_000);
});
