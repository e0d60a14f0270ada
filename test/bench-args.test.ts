// bench/bench.js's command line: --help answers without starting the GPU, and a bad flag is one
// line on stderr with exit 2 (it was a parseArgs stack trace). Runs the built script (dist-bench).
import { describe, it, expect } from 'vitest';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseBenchArgs } from '../bench/args.js';

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
