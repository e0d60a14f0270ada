// scripts/interpolate.mjs (ESRGAN's network interpolation): each tensor of the output is
// (1 - alpha) A + alpha B, checked in float64 against the two inputs; the result loads as a
// generator; mismatched files, a bad alpha and an output that is an input are refused in one line
// with nothing written.
import { describe, it, expect } from 'vitest';
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseSafetensors, toFloat32, fromFloat32, type StTensor } from '../src/nn/safetensors.js';
import { serializeChecked } from '../src/node/state.js';
import { readGeneratorFile } from '../src/node/model.js';
import { rng } from './helpers.js';

const script = fileURLToPath(new URL('../scripts/interpolate.mjs', import.meta.url));
const model = (m: string) => fileURLToPath(new URL(`../models/${m}.safetensors`, import.meta.url));
const run = (args: string[], cwd: string) => new Promise<{ code: number; stderr: string }>((res) => {
  execFile('node', [script, ...args], { cwd, timeout: 60_000 }, (e, _o, stderr) => res({ code: e ? (e as { code?: number }).code ?? -1 : 0, stderr }));
});
const read = (p: string) => parseSafetensors(new Uint8Array(readFileSync(p)), p);

describe('scripts/interpolate.mjs', () => {
  it('blends every tensor as (1 - alpha) A + alpha B, keeps B\'s metadata and loads as a generator', async () => {
    const d = mkdtempSync(join(tmpdir(), 'srgan-interp-'));
    copyFileSync(model('srresnet'), join(d, 'a.safetensors'));
    // B: the same network with every weight moved by random noise of the weight's own scale
    const A = read(join(d, 'a.safetensors'));
    const r = rng(7);
    const bList: Array<[string, StTensor]> = [...A.tensors].map(([n, t]) => {
      const x = toFloat32(t, n);
      const y = x.map((v) => v + (r() - 0.5) * (Math.abs(v) + 0.01));
      return [n, fromFloat32(y, t.shape, 'F32')];
    });
    writeFileSync(join(d, 'b.safetensors'), serializeChecked(bList, { ...A.metadata, step: '1234' }));
    const B = read(join(d, 'b.safetensors'));
    for (const alpha of [0, 0.3, 1]) {
      const out = join(d, `m${alpha}.safetensors`);
      const res = await run(['a.safetensors', 'b.safetensors', String(alpha), out], d);
      expect(res.code, res.stderr).toBe(0);
      const M = read(out);
      expect([...M.tensors.keys()].sort()).toEqual([...A.tensors.keys()].sort());
      let worst = 0;
      for (const [n, t] of M.tensors) {
        const m = toFloat32(t, n), a = toFloat32(A.tensors.get(n)!, n), b = toFloat32(B.tensors.get(n)!, n);
        for (let i = 0; i < m.length; i++) {
          const want = (1 - alpha) * a[i] + alpha * b[i];
          worst = Math.max(worst, Math.abs(m[i] - want) / (Math.abs(want) + 1e-6));
        }
        if (alpha === 0) expect(m, n).toEqual(a);
        if (alpha === 1) expect(m, n).toEqual(b);
      }
      expect(worst).toBeLessThan(1e-6); // float32 rounding of the blend
      expect(M.metadata.step).toBe('1234');
      expect(JSON.parse(M.metadata.interpolated)).toEqual({ a: 'a.safetensors', b: 'b.safetensors', alpha });
      const g = await readGeneratorFile(out); // the data checksum matches and the network is read off it
      expect(g.config).toEqual((await readGeneratorFile(model('srresnet'))).config);
    }
    // --f16 halves the file and stays within float16's rounding
    const res = await run(['a.safetensors', 'b.safetensors', '0.5', 'h.safetensors', '--f16'], d);
    expect(res.code, res.stderr).toBe(0);
    const H = read(join(d, 'h.safetensors'));
    for (const [n, t] of H.tensors) expect(t.dtype, n).toBe('F16');
  }, 120_000);

  it('refuses another architecture, a bad alpha and writing over an input, in one line, writing nothing', async () => {
    const d = mkdtempSync(join(tmpdir(), 'srgan-interp-'));
    copyFileSync(model('srresnet'), join(d, 'a.safetensors'));
    copyFileSync(model('srgan'), join(d, 'g.safetensors'));
    const cases: Array<[string[], RegExp]> = [
      [['a.safetensors', 'g.safetensors', '0.5', 'o.safetensors'], /^error: g\.safetensors: generator .*"upsample":"nearest".* is not a\.safetensors's .*"upsample":"shuffle-espcn"/],
      [['a.safetensors', 'a.safetensors', '1.5', 'o.safetensors'], /^error: ALPHA 1\.5: expected a number from 0 to 1$/],
      [['a.safetensors', 'a.safetensors', 'half', 'o.safetensors'], /^error: ALPHA half: expected a number from 0 to 1$/],
      [['a.safetensors', 'a.safetensors', '0.5', './a.safetensors'], /^error: \.\/a\.safetensors: is the input a\.safetensors; refusing to overwrite it$/],
      [['a.safetensors', 'missing.safetensors', '0.5', 'o.safetensors'], /^error: .*missing\.safetensors/],
    ];
    for (const [args, re] of cases) {
      const before = readFileSync(join(d, 'a.safetensors'));
      const r = await run(args, d);
      const errors = r.stderr.split('\n').filter((l) => l.startsWith('error:'));
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(1);
      expect(errors, args.join(' ')).toHaveLength(1);
      expect(errors[0]).toMatch(re);
      expect(existsSync(join(d, 'o.safetensors'))).toBe(false);
      expect(readFileSync(join(d, 'a.safetensors')).equals(before)).toBe(true);
    }
  }, 120_000);
});
