// The upscale command as a user runs it: node dist/upscale.js (built by `npm test`).
import { describe, it, expect, beforeAll } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, writeFileSync, readFileSync, existsSync, readdirSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fixture } from './image/fixtures.js';
import { testGpu, rng } from './helpers.js';
import type { Image } from '../src/image/pixels.js';
import { decodeImage } from '../src/image/image.js';
import { encodePng } from '../src/image/png.js';
import { encodeJpeg } from '../src/image/jpeg.js';
import { Generator } from '../src/srgan/generator.js';
import { saveModule } from '../src/node/state.js';
import { setInitSeed } from '../src/nn/layers.js';

const run = promisify(execFile);
const CLI = fileURLToPath(new URL('../dist/upscale.js', import.meta.url));
let dir = '';
let model = '';

function img(w: number, h: number, channels: Image['channels'], bitDepth: 8 | 16 = 8, seed = 1): Image {
  const r = rng(seed);
  const data = new Float32Array(w * h * channels);
  for (let i = 0; i < data.length; i++) data[i] = Math.round(r() * (bitDepth === 16 ? 65535 : 255)) / (bitDepth === 16 ? 65535 : 255);
  return { width: w, height: h, channels, bitDepth, data };
}

async function upscale(args: string[]): Promise<{ code: number; stderr: string }> {
  try {
    const r = await run('node', [CLI, '--quiet', '--model', model, ...args], { env: { ...process.env, SRGAN_QUIET: '1' } });
    return { code: 0, stderr: r.stderr };
  } catch (e) {
    const err = e as { code: number; stderr: string };
    return { code: err.code, stderr: err.stderr };
  }
}

beforeAll(async () => {
  await testGpu();
  dir = mkdtempSync(join(tmpdir(), 'srgan-up-'));
  setInitSeed(4);
  const G = new Generator({ channels: 8, blocks: 1, scale: 4 });
  model = join(dir, 'tiny.safetensors');
  await saveModule(model, G.eval(), { format: 'srgan-webgpu-generator', generator: JSON.stringify(G.config) });
  G.dispose();
});

describe('upscale.js', () => {
  it('keeps channels and bit depth for each PNG kind, and writes IN_x4.png beside the input', async () => {
    const kinds: Array<[string, Image]> = [
      ['rgb8', img(7, 5, 3)], ['rgba8', img(6, 5, 4)], ['gray8', img(5, 6, 1)], ['graya8', img(5, 5, 2)], ['rgb16', img(5, 4, 3, 16)], ['gray16', img(4, 5, 1, 16)],
    ];
    for (const [name, im] of kinds) {
      const p = join(dir, `${name}.png`);
      writeFileSync(p, encodePng(im));
      const r = await upscale([p]);
      expect(r.code, r.stderr).toBe(0);
      const out = decodeImage(readFileSync(join(dir, `${name}_x4.png`)), name);
      expect([out.width, out.height, out.channels, out.bitDepth]).toEqual([im.width * 4, im.height * 4, im.channels, im.bitDepth]);
      if (im.channels === 2 || im.channels === 4) {
        // alpha is bicubic-upscaled: the mean is kept
        const mean = (a: Float32Array, c: number, k: number) => { let s = 0; for (let i = k; i < a.length; i += c) s += a[i]; return s / (a.length / c); };
        expect(Math.abs(mean(out.data, out.channels, out.channels - 1) - mean(im.data, im.channels, im.channels - 1))).toBeLessThan(0.05);
      }
    }
    // palette BMP, progressive and baseline JPEG inputs (palette PNG decoding: test/image/png.test.ts)
    writeFileSync(join(dir, 'pal.bmp'), fixture('s_pal.bmp'));
    writeFileSync(join(dir, 'prog.jpg'), fixture('c_prog.jpg'));
    writeFileSync(join(dir, 'photo.jpg'), encodeJpeg(img(9, 7, 3), 90));
    for (const f of ['pal.bmp', 'prog.jpg', 'photo.jpg']) {
      const r = await upscale([join(dir, f), '-o', join(dir, `${f}.out.jpg`), '--quality', '80']);
      expect(r.code, r.stderr).toBe(0);
      expect(decodeImage(readFileSync(join(dir, `${f}.out.jpg`)), f).width).toBeGreaterThan(20);
    }
  });

  it('refuses to overwrite, and bad input gives one clear line, exit 1 and no output file', async () => {
    const p = join(dir, 'a.png');
    writeFileSync(p, encodePng(img(4, 4, 3)));
    expect((await upscale([p])).code).toBe(0);
    const again = await upscale([p]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/a_x4\.png: exists/);
    expect((await upscale([p, '--overwrite'])).code).toBe(0);
    const cases: Array<[string, Buffer | null, RegExp]> = [
      ['missing.png', null, /missing\.png: no such file/],
      ['text.png', Buffer.from('hello, not an image'), /text\.png: .*(not an image|unknown|PNG)/i],
      ['trunc.png', Buffer.from(encodePng(img(20, 20, 3))).subarray(0, 60), /trunc\.png: .*truncated/i],
      ['trunc.jpg', Buffer.from(encodeJpeg(img(32, 32, 3), 90)).subarray(0, 300), /trunc\.jpg: .*truncated/i],
    ];
    for (const [name, bytes, re] of cases) {
      if (bytes) writeFileSync(join(dir, name), bytes);
      const r = await upscale([join(dir, name)]);
      expect(r.code, name).toBe(1);
      const lines = r.stderr.trim().split('\n').filter((l) => l.startsWith('error:'));
      expect(lines.length, r.stderr).toBe(1);
      expect(lines[0]).toMatch(re);
      expect(existsSync(join(dir, name.replace(/\.\w+$/, '_x4.png')))).toBe(false);
    }
    // a model file that is not a generator
    writeFileSync(join(dir, 'junk.safetensors'), Buffer.from('garbage'));
    const r = await run('node', [CLI, '--quiet', '--model', join(dir, 'junk.safetensors'), p, '-o', join(dir, 'j.png')]).catch((e) => e);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/junk\.safetensors/);
    expect(existsSync(join(dir, 'j.png'))).toBe(false);
    // refused up front: output over --max-pixels
    const big = await upscale([p, '-o', join(dir, 'big.png'), '--max-pixels', '100']);
    expect(big.code).toBe(1);
    expect(big.stderr).toMatch(/max-pixels/);
    // no usable WebGPU adapter: the install hint, exit 1, no output
    const noGpu = await run('node', [CLI, '--quiet', '--model', model, p, '-o', join(dir, 'nogpu.png')],
      { env: { ...process.env, SRGAN_ADAPTER: 'no-such-adapter-anywhere' } }).catch((e) => e);
    expect(noGpu.code).toBe(1);
    expect(noGpu.stderr).toMatch(/error: No WebGPU adapter found.*install-vulkan\.sh/);
    expect(existsSync(join(dir, 'nogpu.png'))).toBe(false);
  });

  it('--help lists every option; no arguments prints the usage with exit 2; --verbose times each phase', async () => {
    const help = await run('node', [CLI, '--help']);
    for (const o of ['--output', '--model', '--quality', '--tile', '--max-pixels', '--overwrite', '--skip-existing', '--outscale', '--suffix', '--format', '--adapter', '--list-adapters', '--quiet', '--verbose', '--help']) expect(help.stdout).toContain(o);
    const none = await run('node', [CLI]).catch((e) => e);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/^4x super-resolution/);
    expect(none.stderr).toMatch(/usage: node dist\/upscale\.js INPUT\.\.\./);
    expect(none.stderr).not.toMatch(/error:/);
    const p = join(dir, 'v.png');
    writeFileSync(p, encodePng(img(9, 6, 3)));
    const r = await upscale([p, '--verbose']);
    expect(r.code, r.stderr).toBe(0);
    for (const phase of ['process start to main', 'adapter and device', 'model read', 'BN fold', 'pipeline compile', 'inference', 'check, encode and write', 'total']) {
      expect(r.stderr).toMatch(new RegExp(`\\[time\\] ${phase}.* \\d+\\.\\d{3} s`));
    }
    expect(r.stderr).toMatch(/\[plan\] .*v\.png: 9x6 LR, 1x1 tiles of 9x6/);
  });

  it('processes a folder into an output folder', async () => {
    const inDir = join(dir, 'batch');
    mkdirSync(inDir);
    for (let k = 0; k < 3; k++) writeFileSync(join(inDir, `p${k}.png`), encodePng(img(5 + k, 6, 3, 8, k)));
    const r = await upscale([inDir, '-o', join(dir, 'batch_out')]);
    expect(r.code, r.stderr).toBe(0);
    expect(readdirSync(join(dir, 'batch_out')).sort()).toEqual(['p0_x4.png', 'p1_x4.png', 'p2_x4.png']);
  });
});
