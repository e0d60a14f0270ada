// Settings: one validation of every config entry and flag, shared by the CLIs, before anything is
// created; and train.js / eval.js as a user runs them: one 'error:' line naming the problem, exit
// code 1, no run folder left behind.
import { describe, it, expect, beforeAll } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { rng } from '../helpers.js';
import { encodePng } from '../../src/image/png.js';
import { fromFloat32, serializeSafetensors } from '../../src/nn/safetensors.js';
import { applySet, parseDuration, resolveConfig, DEFAULT_CONFIG, CONFIG_RULES } from '../../src/srgan/config.js';
import { generatorTensorShapes } from '../../src/srgan/generator.js';
import { PHASE2_TERMS } from '../../src/srgan/losses.js';

const tmp = (p: string) => mkdtempSync(join(tmpdir(), p));
const exec = promisify(execFile);
const dist = (f: string) => fileURLToPath(new URL(`../../dist/${f}`, import.meta.url));

/** Runs a CLI; never throws. `errors`: stderr lines starting 'error:'. */
async function cli(script: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string; errors: string[] }> {
  let code = 0, stdout = '', stderr = '';
  try {
    ({ stdout, stderr } = await exec('node', [dist(script), ...args], { timeout: 60_000, env: { ...process.env, XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? '/tmp' } }));
  } catch (e) {
    ({ code, stdout, stderr } = e as { code: number; stdout: string; stderr: string });
  }
  return { code, stdout, stderr, errors: stderr.split('\n').filter((l) => l.startsWith('error:')) };
}

/** Exit code 1 and exactly one error line, matching `re`, with no internal texts. */
function expectOneError(r: { code: number; errors: string[]; stderr: string }, re: RegExp): void {
  expect(r.errors, r.stderr).toHaveLength(1);
  expect(r.errors[0]).toMatch(re);
  expect(r.stderr).not.toMatch(/Invalid typed array length|TypeError|RangeError|    at /);
  expect(r.code).toBe(1);
}

let data = '';
beforeAll(() => {
  data = tmp('srgan-settings-data-');
  const r = rng(1);
  writeFileSync(join(data, 'a.png'), encodePng({ width: 20, height: 20, channels: 3, bitDepth: 8, data: new Float32Array(1200).map(() => r()) }));
});

describe('config entries', () => {
  it('every entry has a rule, and the defaults pass them', () => {
    const leaves = (o: Record<string, unknown>, p = ''): string[] => Object.entries(o).flatMap(([k, v]) =>
      v && typeof v === 'object' && !Array.isArray(v) ? leaves(v as Record<string, unknown>, `${p}${k}.`) : [`${p}${k}`]);
    expect(leaves(DEFAULT_CONFIG as unknown as Record<string, unknown>).sort()).toEqual(Object.keys(CONFIG_RULES).sort());
    expect(resolveConfig({})).toEqual(DEFAULT_CONFIG);
  });

  it("every optional loss term of the table is an entry: default 0 (off), a weight's rule, listed in train.js --help", async () => {
    const help = (await cli('train.js', ['--help'])).stdout;
    for (const t of PHASE2_TERMS) {
      expect(DEFAULT_CONFIG[t.setting], t.setting).toBe(0);
      expect(CONFIG_RULES[t.setting](-1), t.setting).toMatch(/in \[0, 1000000\]/);
      expect(help).toContain(`${t.setting}: ${t.doc}`);
    }
  });

  it('integers where integers are meant, ranges, choices: one line naming the entry and the value', () => {
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ batch: 1.5 }, /^config: batch must be an integer in 1\.\.1024, got 1\.5$/],
      [{ degradation: { kind: 'jpeg' } }, /^config: degradation\.kind must be 'bicubic' or 'realesrgan', got "jpeg"$/],
      [{ degradation: { jpeg1: [90, 30] } }, /^config: degradation\.jpeg1 must be a range lo,hi with 1 <= lo <= hi <= 100, got \[90,30\]$/],
      [{ degradation: { jpeg2: [30] } }, /degradation\.jpeg2 must be a range lo,hi/],
      [{ degradation: { blur1Sigma: [0, 3] } }, /degradation\.blur1Sigma must be a range lo,hi with 0 < lo <= hi <= 50, got \[0,3\]$/],
      [{ degradation: { blur2BetaG: [1.5, 4] } }, /degradation\.blur2BetaG must be a range lo,hi with 0 < lo <= hi <= 16 and lo <= 1 <= hi/],
      [{ degradation: { resize1Range: [1.2, 1.5] } }, /degradation\.resize1Range must be a range .* and lo <= 1 <= hi/],
      [{ degradation: { resize2Probs: [0.5, 0.6, 0.1] } }, /^config: degradation\.resize2Probs must be 3 probabilities \(0\.\.1, comma-separated\) that sum to 1, got \[0\.5,0\.6,0\.1\]$/],
      [{ degradation: { blur1Kernel: [1, 0, 0] } }, /degradation\.blur1Kernel must be 6 probabilities/],
      [{ degradation: { noise1Sigma: ['a', 3] } }, /degradation\.noise1Sigma must be a range/],
      [{ degradation: { cleanProb: 1.5 } }, /degradation\.cleanProb must be in \[0, 1\], got 1\.5/],
      [{ degradation: { cleanProb: 0.6, webProb: 0.5 } }, /degradation\.cleanProb \+ degradation\.webProb must be at most 1, got 0\.6 \+ 0\.5/],
      [{ degradation: { webJpeg: [90, 20] } }, /degradation\.webJpeg must be/],
      [{ degradation: 'realesrgan' }, /'degradation' must be an object/],
      [{ validateDegraded: 'jpeg75,bicubic' }, /^config: validateDegraded must be '' or a comma-separated list of jpeg50, jpeg75, jpeg90, noise5, noise10, realesrgan, got "jpeg75,bicubic"$/],
      [{ batch: 0 }, /batch must be an integer/],
      [{ batch: 1e9 }, /batch must be an integer in 1\.\.1024, got 1000000000/],
      [{ generator: { blocks: -1 } }, /generator\.blocks must be an integer in 0\.\.256, got -1/],
      [{ generator: { blocks: 2.5 } }, /generator\.blocks must be an integer/],
      [{ generator: { channels: 0 } }, /generator\.channels must be an integer in 1\.\.1024/],
      [{ generator: { scale: 3 } }, /generator\.scale must be 2 or 4, got 3/],
      [{ discriminator: { denseUnits: 0.5 } }, /discriminator\.denseUnits must be an integer/],
      [{ lr1: 0 }, /lr1 must be in \(0, 1\], got 0/],
      [{ lr2: -1e-4 }, /lr2 must be in \(0, 1\]/],
      [{ phase1Steps: 2.5 }, /phase1Steps must be an integer in 0\.\./],
      [{ phase2Steps: -1 }, /phase2Steps must be an integer/],
      [{ ema: 1 }, /ema must be in \[0, 1\), got 1/],
      [{ beta2: 1 }, /beta2 must be in \[0, 1\)/],
      [{ crop: 40 }, /crop must be a multiple of 16 in 16\.\.2048, got 40/],
      [{ crop: 1e9 }, /crop must be a multiple of 16/],
      [{ seed: -1 }, /seed must be an integer in 0\.\.4294967295/],
      [{ seed: 'abc' }, /seed must be an integer .*got "abc"/],
      [{ previewCount: 1000 }, /previewCount must be an integer in 1\.\.64/],
      [{ logEvery: 0 }, /logEvery must be an integer in 1\.\./],
      [{ pixelLoss: 'l2' }, /pixelLoss must be 'mse' or 'l1', got "l2"/],
      [{ vggLayer: 54 }, /vggLayer must be 'vgg54' or 'vgg34' or 'vgg22', got 54/],
      [{ batchSize: 4 }, /^config: unknown entry 'batchSize'/],
      [{ constructor: 1 }, /unknown entry 'constructor'/],
      [{ generator: 4 }, /'generator' must be an object/],
      [{ generator: [4] }, /'generator' must be an object/],
    ];
    for (const [partial, re] of cases) expect(() => resolveConfig(partial), JSON.stringify(partial)).toThrow(re);
    expect(() => resolveConfig([] as unknown as Record<string, unknown>)).toThrow(/expected a JSON object/);
    expect(() => resolveConfig(null as unknown as Record<string, unknown>)).toThrow(/expected a JSON object/);
    // numbers may come as strings (JSON written by hand, --set)
    expect(resolveConfig({ batch: '8', lr1: '3e-4' })).toMatchObject({ batch: 8, lr1: 3e-4 });
    expect(() => resolveConfig({ batch: '' })).toThrow(/batch must be an integer in 1\.\.1024, got ""/);
  });

  it('--set KEY=VALUE: an unknown key or a bad value is a one-line error naming the flag', () => {
    const p: Record<string, unknown> = {};
    applySet(p, 'phase1Steps=2000');
    applySet(p, 'generator.blocks=8');
    applySet(p, 'pixelLoss=l1');
    applySet(p, 'lr1=1e-4');
    expect(p).toEqual({ phase1Steps: 2000, generator: { blocks: 8 }, pixelLoss: 'l1', lr1: 1e-4 });
    // lists (ranges, probabilities) as comma-separated numbers
    const d: Record<string, unknown> = {};
    applySet(d, 'degradation.kind=realesrgan');
    applySet(d, 'degradation.jpeg1=40, 80');
    applySet(d, 'degradation.resize1Probs=0.2,0.7,0.1');
    expect(d).toEqual({ degradation: { kind: 'realesrgan', jpeg1: [40, 80], resize1Probs: [0.2, 0.7, 0.1] } });
    expect(resolveConfig(d).degradation).toMatchObject({ kind: 'realesrgan', jpeg1: [40, 80], jpeg2: [30, 95], usm: 0.5 });
    const cases: Array<[string, RegExp]> = [
      ['degradation.jpeg1=80,40', /^--set degradation\.jpeg1=80,40: degradation\.jpeg1 must be a range lo,hi with 1 <= lo <= hi <= 100, got "80,40"$/],
      ['degradation.jpeg1=40,', /^--set degradation\.jpeg1=40,: degradation\.jpeg1 must be a range/],
      ['degradation.jpeg1=40', /degradation\.jpeg1 must be a range/],
      ['degradation.noise2Sigma=1,x', /degradation\.noise2Sigma must be a range/],
      ['degradation.resize1Probs=1,1,1', /must be 3 probabilities/],
      ['degradation=realesrgan', /^--set degradation=realesrgan: 'degradation' is a group; set its entries, e.g. degradation\.kind=/],
      ['batch=1.5', /^--set batch=1\.5: batch must be an integer in 1\.\.1024, got 1\.5$/],
      ['batch=abc', /^--set batch=abc: batch must be an integer .*got "abc"$/],
      ['batch=', /batch must be an integer/],
      ['foo=1', /^--set foo=1: unknown key 'foo'/],
      ['generator=4', /^--set generator=4: 'generator' is a group; set its entries, e.g. generator\.arch=/],
      ['generator.depth=4', /unknown key 'generator\.depth'/],
      ['__proto__.polluted=1', /unknown key '__proto__\.polluted'/],
      ['constructor=1', /unknown key 'constructor'/],
      ['batch', /^--set batch: expected KEY=VALUE$/],
      ['ema=1', /ema must be in \[0, 1\)/],
      ['schedule1=linear', /schedule1 must be 'constant' or 'cosine', got "linear"/],
    ];
    for (const [kv, re] of cases) expect(() => applySet({}, kv), kv).toThrow(re);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('--max-time: a duration above zero, nothing else', () => {
    expect(parseDuration('8h')).toBe(28800);
    expect(parseDuration('1h30m')).toBe(5400);
    expect(parseDuration('90')).toBe(90);
    expect(parseDuration('1.5m')).toBe(90);
    for (const bad of ['', ' ', 'abc', '0', '0s', '8h ', '-5m', '1e3', '5d', 'h']) {
      expect(() => parseDuration(bad), bad).toThrow(/^--max-time ".*": expected a duration above zero/);
    }
  });
});

describe('train.js', () => {
  it('refuses bad flags and settings in one line, exit 1, creating nothing', async () => {
    const base = tmp('srgan-settings-out-');
    const out = join(base, 'run');
    const cfgFile = join(base, 'cfg.json');
    writeFileSync(cfgFile, JSON.stringify({ batch: 2, generator: { blocks: 100000000 } }));
    const cases: Array<[string[], RegExp]> = [
      [['--set', 'batch=1.5'], /^error: --set batch=1\.5: batch must be an integer in 1\.\.1024, got 1\.5$/],
      [['--set', 'nope=1'], /^error: --set nope=1: unknown key 'nope'/],
      [['--max-time', ''], /^error: --max-time "": expected a duration/],
      [['--max-time', 'soon'], /^error: --max-time "soon"/],
      [['--config', cfgFile], new RegExp(`^error: ${cfgFile}: generator\\.blocks must be an integer in 0\\.\\.256, got 100000000$`)],
      [['--config', join(base, 'missing.json')], /missing\.json: no such file$/],
      [['--resume'], /checkpoint\.safetensors: no checkpoint to resume from$/],
      [['--allow-changes'], /^error: --allow-changes only applies with --resume$/],
      [['--bogus'], /^error: Unknown option '--bogus'/],
      [['--set', 'phase2Steps=0', '--set', 'crop=16', '--set', 'batch=1', '--vgg', ''], /^error: --vgg: expected a path/],
    ];
    for (const [args, re] of cases) {
      const r = await cli('train.js', ['--data', data, '--out', out, ...args]);
      expectOneError(r, re);
      expect(existsSync(out), args.join(' ')).toBe(false);
    }
    // inputs: data and VGG weights (these reach the trainer, still before the folder is made)
    expectOneError(await cli('train.js', ['--data', join(base, 'nodata'), '--out', out, '--set', 'phase2Steps=0']), /nodata: no such folder$/);
    expectOneError(await cli('train.js', ['--data', data, '--out', out, '--set', 'crop=16', '--set', 'phase2Steps=1', '--vgg', join(base, 'vgg')]),
      /vgg: no such file or folder .*--vgg takes a TensorFlow\.js layers-model folder or model\.json, or torchvision-named safetensors/);
    expect(existsSync(out)).toBe(false);
  }, 120_000);
});

describe('eval.js', () => {
  it('validates its flags and the model file in one line, exit 1', async () => {
    const base = tmp('srgan-settings-eval-');
    const cfg = { channels: 4, blocks: 1, scale: 4 as const };
    const tensors = [...generatorTensorShapes(cfg)].map(([k, shape]) => {
      const v = new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(0.01);
      if (k === 'conv_mid.weight') v[3] = NaN;
      return [k, fromFloat32(v, shape)] as const;
    });
    const nanModel = join(base, 'nan.safetensors');
    writeFileSync(nanModel, serializeSafetensors(tensors.map(([k, t]) => [k, t]), { generator: JSON.stringify(cfg) }));
    const cases: Array<[string[], RegExp]> = [
      [['--tile', '0'], /^error: --tile "0": expected a positive integer$/],
      [['--tile', '1.5'], /^error: --tile "1\.5": expected a positive integer$/],
      [['--tile', ''], /^error: --tile "": expected a positive integer$/],
      [['--model', nanModel], new RegExp(`^error: ${nanModel}: tensor 'conv_mid.weight' holds a non-finite value \\(NaN at element 3\\)`)],
      [['--model', join(base, 'none.safetensors')], /none\.safetensors: no such file$/],
      [['--model', ''], /^error: --model: expected a file/],
      [['--vgg', join(base, 'vgg')], /^error: --vgg .*vgg: no such file or folder \(expected a TensorFlow\.js layers-model folder or model\.json, or torchvision-named safetensors\)$/],
      [['--vgg', join(base, 'vgg'), '--vgg-layer', 'vgg43'], /^error: --vgg-layer "vgg43": expected vgg34, vgg22, vgg54$/],
      [['--vgg-layer', 'vgg54'], /^error: --vgg-layer needs --vgg PATH$/],
      [['--degrade', 'jpeg75,jpeg60'], /^error: --degrade "jpeg75,jpeg60": unknown case "jpeg60" \(expected bicubic, jpeg50, jpeg75, jpeg90, noise5, noise10, realesrgan\)$/],
      [['--bogus'], /^error: Unknown option '--bogus'/],
      [['stray'], /^error: Unexpected argument 'stray'/],
    ];
    for (const [args, re] of cases) expectOneError(await cli('eval.js', ['--data', data, ...args]), re);
    expectOneError(await cli('eval.js', ['--data', join(base, 'nodata')]), /^error: --data: .*nodata: no such folder$/);
    expectOneError(await cli('eval.js', ['--data', base]), /^error: --data: .*no images/);
    expectOneError(await cli('eval.js', []), /^error: --data DIR is required/);
    // a run that works: exit 0, and Dawn's start-up notices are filtered as in upscale.js
    const good = join(base, 'good.safetensors');
    writeFileSync(good, serializeSafetensors(tensors.map(([k, t]) => [k, k === 'conv_mid.weight' ? fromFloat32(new Float32Array(t.shape.reduce((a, b) => a * b, 1)).fill(0.01), t.shape) : t]), { generator: JSON.stringify(cfg) }));
    const ok = await cli('eval.js', ['--data', data, '--model', good]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stderr).not.toMatch(/artificially reduced/);
    expect(ok.stdout).toMatch(/\| model Y-PSNR \/ Y-SSIM \/ RGB-PSNR \/ texture \/ grid \/ block \|/);
    expect(ok.stdout).toMatch(/ block \| HR grid \|\n/); // HR's own grid share, the level to read the model's against
    // one table per degradation case, each saying its input; the JPEG case's bicubic row is worse than the clean one's
    const two = await cli('eval.js', ['--data', data, '--model', good, '--degrade', 'bicubic,jpeg50', '--json']);
    expect(two.code, two.stderr).toBe(0);
    const [clean, jpg] = JSON.parse(two.stdout);
    expect(clean.degrade).toBeUndefined(); expect(jpg.degrade).toBe('jpeg50');
    expect(jpg.bicubicMean.psnrY).toBeLessThan(clean.bicubicMean.psnrY);
    // another upscaler's outputs: the inputs saved as DIR/CASE/NAME.png, upscaled by upscale.js, scored
    // with --results: the model's own figures to the last digit
    const saved = join(base, 'saved'), results = join(base, 'results');
    const m = await cli('eval.js', ['--data', data, '--model', good, '--degrade', 'noise10', '--save-inputs', saved, '--json']);
    expect(m.code, m.stderr).toBe(0);
    expect(existsSync(join(saved, 'noise10', 'a.png'))).toBe(true);
    const up = await cli('upscale.js', [join(saved, 'noise10'), '-o', join(results, 'noise10') + '/', '--suffix', '', '--model', good]);
    expect(up.code, up.stderr).toBe(0);
    const r = await cli('eval.js', ['--data', data, '--results', results, '--degrade', 'noise10', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).mean).toEqual(JSON.parse(m.stdout).mean);
    expectOneError(await cli('eval.js', ['--data', data, '--results', results, '--degrade', 'jpeg75']), /^error: --results .*results: no folder jpeg75\/ in it/);
    expectOneError(await cli('eval.js', ['--data', data, '--results', results, '--model', good]), /^error: --results scores the images in a folder, --model a model's: give one$/);
    expectOneError(await cli('eval.js', ['--data', data, '--save-inputs', join(data, 'in')]), /^error: --save-inputs .*: inside --data .*; the inputs written there would be read back as HR images$/);
    expect(existsSync(join(data, 'in'))).toBe(false);
  }, 120_000);
});
