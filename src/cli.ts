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
