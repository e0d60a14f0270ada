// bench/bench.js's command line: --help answers without starting the GPU, and a bad flag is one
// line on stderr with exit 2 (it was a parseArgs stack trace). Runs the built script (dist-bench).
import { describe, it, expect } from 'vitest';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseBenchArgs } from '../bench/args.js';
import { mergeResults } from '../bench/results-file.js';
import { levelDiff } from '../bench/image-diff.js';

const script = fileURLToPath(new URL('../dist-bench/bench/bench.js', import.meta.url));

function bench(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('node', [script, ...args], { timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

describe('npm run bench: its command line', () => {
  it('--help prints the usage and every flag, exit 0', async () => {
    const r = await bench(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^usage: npm run bench/);
    for (const flag of ['--filter', '--quick', '--runs', '--help']) expect(r.stdout).toContain(flag);
    expect(r.stderr).not.toContain('adapter');
  });

  it.each([
    [['--bogus'], /^error: Unknown option '--bogus'/],
    [['--runs', 'x'], /^error: --runs "x": expected an integer in 1\.\.100/],
    [['--runs', '0'], /^error: --runs "0": expected an integer in 1\.\.100/],
    [['--filter', '('], /^error: --filter "\(": not a regular expression/],
  ])('%j: one line naming the problem, exit 2', async (args, message) => {
    const r = await bench(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stdout).toBe('');
  });

  it('the settings a valid command line gives (parsed without running the bench)', () => {
    expect(parseBenchArgs([])).toEqual({ filter: null, quick: false, runs: 5 });
    expect(parseBenchArgs(['--quick'])).toEqual({ filter: null, quick: true, runs: 3 });
    expect(parseBenchArgs(['--quick', '--runs', '7'])).toEqual({ filter: null, quick: true, runs: 7 });
    const a = parseBenchArgs(['--filter', 'inference|SRResNet step']);
    expect(a !== 'help' && a.filter?.test('G inference 1x128x128') && !a.filter.test('conv 3x3 fwd')).toBe(true);
    expect(parseBenchArgs(['-h'])).toBe('help');
  });
});

describe('bench/results/<adapter>.json across runs (mergeResults)', () => {
  const prev = {
    date: '2026-12-01T00:00:00Z', adapter: 'a', ceilingGflops: 18.8, runs: 5,
    rows: [{ name: 'ceiling: matmul', ms: 1 }, { name: 'conv x', ms: 10 }, { name: 'inference y', ms: 20 }],
  };
  const run = { date: '2026-12-07T00:00:00Z', adapter: 'a', ceilingGflops: 0, runs: 3, rows: [{ name: 'inference y', ms: 15 }, { name: 'new z', ms: 5 }] };

  it('a filtered run replaces only the rows it measured, keeps the others with their own date, and appends new ones', () => {
    const m = mergeResults(prev, run, true);
    expect(m.rows.map((r) => [r.name, r.ms, r.date, r.runs])).toEqual([
      ['ceiling: matmul', 1, prev.date, 5], ['conv x', 10, prev.date, 5], ['inference y', 15, run.date, 3], ['new z', 5, run.date, 3],
    ]);
    expect(m.ceilingGflops).toBe(18.8); // not measured in this run: kept
    expect(m.date).toBe(run.date);
  });

  it('a full run, or no readable previous file, writes only what was measured', () => {
    for (const m of [mergeResults(prev, run, false), mergeResults(null, run, true), mergeResults({ rows: 'x' }, run, true)]) {
      expect(m.rows.map((r) => r.name)).toEqual(['inference y', 'new z']);
      expect(m.ceilingGflops).toBe(0);
    }
  });
});

describe('bench/image-diff (the vs-ncnn comparison of two outputs)', () => {
  const img = (f: (x: number, y: number, c: number) => number) => {
    const w = 6, h = 5, data = new Float32Array(w * h * 3);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let c = 0; c < 3; c++) data[(y * w + x) * 3 + c] = f(x, y, c) / 255;
    return { width: w, height: h, channels: 3 as const, bitDepth: 8 as const, data };
  };
  const a = img((x, y, c) => 10 * x + y + c);
  // b: 2 levels off everywhere in channel 1, and 40 more at the outermost ring
  const b = img((x, y, c) => 10 * x + y + c + (c === 1 ? 2 : 0) + (x === 0 || y === 0 || x === 5 || y === 4 ? 40 : 0));
  it('the mean and largest difference in levels, whole and past an edge margin', () => {
    const whole = levelDiff(a, b), inner = levelDiff(a, b, 1);
    expect(whole.values).toBe(90);
    expect(whole.max).toBe(42);
    expect(whole.mean).toBeCloseTo((18 * 3 * 40 + 30 * 2) / 90, 10); // 18 ring pixels, 30 pixels x 1 channel off by 2
    expect(inner).toEqual({ mean: 2 / 3, max: 2, values: 36 });
  });
  it('refuses images of different sizes', () => {
    expect(() => levelDiff(a, { ...a, width: 5 })).toThrow(/differ in size/);
  });
});
