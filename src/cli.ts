// Shared command-line plumbing: one-line errors, non-zero exit, GPU released on the way out.
import { destroyGpu } from './gpu/gpu.js';

export async function runCli(main: () => Promise<void>): Promise<void> {
  try {
    await main();
    destroyGpu();
  } catch (e) {
    const msg = (e as Error).message ?? String(e);
    process.stderr.write(`error: ${msg.split('\n')[0]}\n`);
    if (process.env.SRGAN_DEBUG) process.stderr.write(`${(e as Error).stack}\n`);
    try { destroyGpu(); } catch { /* already gone */ }
    process.exitCode = 1;
  }
}

/**
 * Dawn prints notices from native code straight to file descriptor 2, which Node cannot redirect
 * (no dup2): the two "...artificially reduced from 1000000 to 16..." lines that every Vulkan
 * adapter start prints are not for users. The only way to drop them is to run the command as a
 * child whose stderr passes through this filter.
 */
const DAWN_NOISE = /^Warning: maxDynamic(Uniform|Storage)BuffersPerPipelineLayout artificially reduced from \d+ to \d+/;
const NOISE_START = 'Warning: ';
const CHILD_ENV = 'SRGAN_STDERR_FILTERED';

/** Whether the user's stderr is a terminal (also in the filtered child, whose stderr is a pipe). */
export function stderrIsTTY(): boolean {
  return Boolean(process.stderr.isTTY) || process.env[CHILD_ENV] === 'tty';
}

/**
 * Runs this same command again as a child with Dawn's notices filtered from its stderr, and
 * returns true once it has ended (its exit code or signal passed on); returns false in the child
 * itself, or when the child cannot be started, meaning: run the command here.
 */
export async function runInFilteredChild(): Promise<boolean> {
  if (process.env[CHILD_ENV]) return false;
  const { spawn } = await import('node:child_process');
  const env = { ...process.env, [CHILD_ENV]: process.stderr.isTTY ? 'tty' : '1' };
  let child: import('node:child_process').ChildProcess;
  try {
    child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], { env, stdio: ['inherit', 'inherit', 'pipe'] });
  } catch {
    return false;
  }
  // Ctrl-C reaches the whole process group; a kill aimed at this pid alone is passed on.
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  const forward = (s: NodeJS.Signals) => { child.kill(s); };
  for (const s of signals) process.on(s, forward);
  const filter = lineFilter((s) => process.stderr.write(s));
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', filter.push);
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => {
    child.on('error', () => resolve([1, null]));
    child.on('close', (c, s) => resolve([c, s]));
  });
  filter.end();
  for (const s of signals) process.off(s, forward);
  if (signal) process.kill(process.pid, signal);
  process.exitCode = code ?? 1;
  return true;
}

/**
 * Drops whole lines matching DAWN_NOISE and passes everything else on as it arrives: an unfinished
 * line is held back only while it could still become one of them (a progress bar's '\r' updates
 * are not delayed).
 */
function lineFilter(write: (s: string) => void): { push: (chunk: string) => void; end: () => void } {
  let held = '';
  const flushLines = (s: string) => {
    let nl: number;
    while ((nl = s.indexOf('\n')) >= 0) {
      const line = s.slice(0, nl + 1);
      if (!DAWN_NOISE.test(line)) write(line);
      s = s.slice(nl + 1);
    }
    return s;
  };
  return {
    push: (chunk: string) => {
      const rest = flushLines(held + chunk);
      held = NOISE_START.startsWith(rest) || rest.startsWith(NOISE_START) ? rest : '';
      if (!held && rest) write(rest);
    },
    end: () => { if (held && !DAWN_NOISE.test(held)) write(held); held = ''; },
  };
}
