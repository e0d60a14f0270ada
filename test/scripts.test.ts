// The scripts under the CLIs' guards (issue 29, class 5): a script never writes over one of its
// inputs, however the output is spelt (./x, a symbolic link, a hard link), and prepare-data.mjs
// refuses two inputs that would write one name; each refusal is one 'error:' line, exit 1, and no
// file is created or changed.
import { describe, it, expect } from 'vitest';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, linkSync, mkdtempSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodePng } from '../src/image/png.js';
import { encodeJpeg } from '../src/image/jpeg.js';
import { img } from './upscale-cli.js';

const script = (s: string) => fileURLToPath(new URL(`../scripts/${s}`, import.meta.url));
const model = fileURLToPath(new URL('../models/srresnet.safetensors', import.meta.url));
const run = (s: string, args: string[], cwd: string) => new Promise<{ code: number; stderr: string }>((res) => {
  execFile('node', [script(s), ...args], { cwd, timeout: 60_000 }, (e, _o, stderr) => res({ code: e ? (e as { code?: number }).code ?? -1 : 0, stderr }));
});
const state = (d: string) => readdirSync(d, { recursive: true }).map(String).sort()
  .map((f) => { try { return `${f}:${createHash('sha256').update(readFileSync(join(d, f))).digest('hex')}`; } catch { return `${f}/`; } });

describe('scripts refuse to destroy their inputs', () => {
  it('to-f16, extract-generator, compare and prepare-data', async () => {
    const d = mkdtempSync(join(tmpdir(), 'srgan-scripts-'));
    copyFileSync(model, join(d, 'g.safetensors'));
    symlinkSync('g.safetensors', join(d, 'link.safetensors'));
    linkSync(join(d, 'g.safetensors'), join(d, 'hard.safetensors'));
    mkdirSync(join(d, 'photos'));
    writeFileSync(join(d, 'photos', 'a.png'), encodePng(img(40, 30, 3)));
    writeFileSync(join(d, 'photos', 'a.jpg'), encodeJpeg(img(40, 30, 3, 8, 2), 90));
    const cases: Array<[string, string[], RegExp]> = [
      ['to-f16.mjs', ['g.safetensors', './g.safetensors'], /^error: \.\/g\.safetensors: is the input g\.safetensors; refusing to overwrite it$/],
      ['to-f16.mjs', ['g.safetensors', 'link.safetensors'], /^error: link\.safetensors: is the input/],
      ['to-f16.mjs', ['g.safetensors', 'hard.safetensors'], /^error: hard\.safetensors: is the input/],
      ['extract-generator.mjs', ['g.safetensors', `${d}/./g.safetensors`], /is the input g\.safetensors; refusing to overwrite it$/],
      ['compare.mjs', ['--out', 'photos/./a.png', '--model', 's=g.safetensors', 'photos/a.png@0,0,8,8'], /^error: --out photos\/\.\/a\.png: is the input photos\/a\.png; refusing to overwrite it$/],
      ['compare.mjs', ['--out', 'link.safetensors', '--model', 's=g.safetensors', 'photos/a.png@0,0,8,8'], /^error: --out link\.safetensors: is the input g\.safetensors/],
      ['prepare-data.mjs', ['--out', 'prepared', 'photos'], /^error: .*photos\/a\.jpg and .*photos\/a\.png would both be written as a\*\.png; rename one$/],
    ];
    for (const [s, args, re] of cases) {
      const before = state(d);
      const r = await run(s, args, d);
      const errors = r.stderr.split('\n').filter((l) => l.startsWith('error:'));
      expect(r.code, `${s} ${args.join(' ')}: ${r.stderr}`).toBe(1);
      expect(errors, `${s} ${args.join(' ')}`).toHaveLength(1);
      expect(errors[0]).toMatch(re);
      expect(state(d), `${s} ${args.join(' ')} changed files`).toEqual(before);
    }
  }, 120_000);
});

describe('scripts answer an unknown option in one line', () => {
  it('compare, prepare-data, extract-generator: an error naming the option and the usage, no stack trace', async () => {
    const d = mkdtempSync(join(tmpdir(), 'srgan-scripts-'));
    for (const s of ['compare.mjs', 'prepare-data.mjs', 'extract-generator.mjs']) {
      const r = await run(s, ['--bogus', 'x'], d);
      expect(r.code, `${s}: ${r.stderr}`).toBeGreaterThan(0);
      expect(r.stderr.split('\n')[0], s).toMatch(/^error: Unknown option '--bogus'/);
      expect(r.stderr, s).not.toMatch(/\n\s+at /);
    }
  }, 60_000);
});
