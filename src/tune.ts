#!/usr/bin/env node
// node dist/tune.js: measures the kernel variants (tile sizes) on this machine once and keeps the
// fastest per shape class in the user's cache (src/node/variants.ts); every later run on this
// machine (upscale, train, eval, the library in Node) uses them. See src/kernels/variants.ts.
import { parseArgs } from 'node:util';
import { getGpu } from './node/gpu.js';
import { runCli, runInFilteredChild } from './cli.js';
import { loadVariants, machineKey, resetVariants, tuneAndSave, variantsPath } from './node/variants.js';
import { variantName, type TuneResult } from './kernels/variants.js';

const HELP = `usage: node dist/tune.js [--show | --reset] [--runs N]

Times each tunable kernel's variants (tile sizes) at the shapes SRGAN runs, checks that every
variant gives the default's output bit for bit, and keeps the fastest per shape class for this
machine (adapter and CPU) in ${variantsPath() ?? '(no file: SRGAN_VARIANTS=off)'}
(SRGAN_VARIANTS=FILE moves it, SRGAN_VARIANTS=off ignores it). A few minutes on a CPU adapter,
most of it compiling each variant once. train.js measures by itself when the table is missing.

  --show     print this machine's table and exit
  --reset    forget this machine's table (the built-in tiles are used again)
  --runs N   timed runs per variant (default 5; the median counts)
`;

/** One line per case: the chosen variant, its gain, and every candidate's time. */
export function formatTuneResult(r: TuneResult): string {
  const times = r.timings.map((t) => `${variantName(t.variant)}: ${t.ms === null ? 'refused (output differs)' : `${t.ms.toFixed(1)} ms`}`).join('; ');
  return `${r.key.padEnd(24)} ${r.shape.padEnd(30)} -> ${variantName(r.chosen)} (${r.speedup.toFixed(2)}x the default)\n    ${times}`;
}

if (!(await runInFilteredChild())) {
  await runCli(async () => {
    const { values } = parseArgs({
      options: { show: { type: 'boolean' }, reset: { type: 'boolean' }, runs: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
      strict: true,
    });
    if (values.help) { process.stdout.write(HELP); return; }
    const runs = values.runs === undefined ? 5 : Number(values.runs);
    if (!(Number.isInteger(runs) && runs >= 1 && runs <= 100)) throw new Error(`--runs ${JSON.stringify(values.runs)}: expected an integer in 1..100`);
    if (values.show && values.reset) throw new Error('--show and --reset: pick one');
    const path = variantsPath();
    if (!path && !values.show) throw new Error('SRGAN_VARIANTS=off: no table file to write (unset it, or set it to a file path)');
    const g = await getGpu();
    process.stderr.write(`machine: ${machineKey(g)}\n`);
    if (values.reset) {
      process.stdout.write((await resetVariants(g)) ? `forgot this machine's table in ${path}\n` : `no table for this machine in ${path}\n`);
      return;
    }
    if (values.show) {
      const r = await loadVariants(g);
      if (typeof r === 'object') throw new Error(r.problem);
      if (r === 'none') { process.stdout.write(`no table for this machine${path ? ` in ${path}` : ''}: built-in tiles\n`); return; }
      for (const [k, v] of Object.entries(g.variants)) process.stdout.write(`${k.padEnd(24)} ${variantName(v)}\n`);
      return;
    }
    const t0 = performance.now();
    await tuneAndSave(g, path!, { runs, onResult: (r) => process.stdout.write(formatTuneResult(r) + '\n') });
    process.stdout.write(`measured in ${((performance.now() - t0) / 1000).toFixed(0)} s; saved to ${path}\n`);
  });
}
