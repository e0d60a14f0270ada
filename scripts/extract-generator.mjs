#!/usr/bin/env node
// Writes one generator of a training checkpoint as a generator file (run `npm run build` first):
//   node scripts/extract-generator.mjs RUNDIR/checkpoint.safetensors OUT.safetensors [--live]
// By default the moving average (what train.js saves as generator.safetensors when ema > 0), with
// --live the weights the optimiser updates. For comparing the two on a validation set; the metadata
// says which one it is and at which step.
import { parseArgs } from 'node:util';
import { readSafetensors, writeAtomic } from '../dist/node/state.js';
import { sameFile } from '../dist/node/paths.js';
import { serializeSafetensors } from '../dist/nn/safetensors.js';

const usage = 'usage: node scripts/extract-generator.mjs CHECKPOINT OUT.safetensors [--live]\n';
let parsed;
try {
  parsed = parseArgs({ allowPositionals: true, options: { live: { type: 'boolean' } } });
} catch (e) {
  process.stderr.write(`error: ${e.message.split('\n')[0].replace(/\. To specify a positional.*$/, '')}\n${usage}`); process.exit(2);
}
const { values, positionals } = parsed;
const [inp, out] = positionals;
if (!inp || !out || positionals.length > 2) { process.stderr.write(usage); process.exit(2); }
try {
  if (await sameFile(inp, out)) throw new Error(`${out}: is the input ${inp}; refusing to overwrite it`);
  const { tensors, metadata } = await readSafetensors(inp);
  if (metadata.format !== 'srgan-webgpu-checkpoint' || !metadata.config) throw new Error(`${inp}: not a training checkpoint of srgan-webgpu`);
  const cfg = JSON.parse(metadata.config);
  const prefix = values.live ? 'generator.' : 'ema.';
  const list = [...tensors].filter(([n]) => n.startsWith(prefix)).map(([n, t]) => [n.slice(prefix.length), t]);
  if (!list.length) throw new Error(`${inp}: no ${values.live ? 'generator' : 'moving-average (ema)'} tensors${values.live ? '' : '; use --live'}`);
  await writeAtomic(out, serializeSafetensors(list, {
    format: 'srgan-webgpu-generator', generator: JSON.stringify(cfg.generator), step: metadata.step,
    weights: values.live ? 'live' : `ema ${cfg.ema}`,
  }));
  process.stderr.write(`${out}: ${values.live ? 'live' : 'moving-average'} generator of ${inp} at step ${metadata.step}\n`);
} catch (e) {
  process.stderr.write(`error: ${e.message.split('\n')[0]}\n`);
  process.exit(1);
}
