#!/usr/bin/env node
// Rewrites a safetensors file (e.g. a generator.safetensors from train.js) with every tensor in
// float16, metadata unchanged but for the data checksum, recomputed: `node scripts/to-f16.mjs IN OUT` (run `npm run build` first).
// The shipped default model was made this way; its card gives the evaluation of both copies.
import { readFileSync } from 'node:fs';
import { parseSafetensors, toFloat32, fromFloat32 } from '../dist/nn/safetensors.js';
import { writeAtomic, serializeChecked } from '../dist/node/state.js';
import { sameFile } from '../dist/node/paths.js';

const [inp, out] = process.argv.slice(2);
if (!inp || !out) { process.stderr.write('usage: node scripts/to-f16.mjs IN.safetensors OUT.safetensors\n'); process.exit(2); }
// the same file however it is spelt (./x, a link, a hard link)
if (await sameFile(inp, out)) { process.stderr.write(`error: ${out}: is the input ${inp}; refusing to overwrite it\n`); process.exit(1); }
try {
  const { tensors, metadata } = parseSafetensors(new Uint8Array(readFileSync(inp)), inp);
  const list = [...tensors].map(([n, t]) => [n, fromFloat32(toFloat32(t, n), t.shape, 'F16')]);
  // the data checksum (train.js writes one) is of the new float16 bytes
  await writeAtomic(out, serializeChecked(list, metadata));
} catch (e) {
  process.stderr.write(`error: ${e.message.split('\n')[0]}\n`);
  process.exit(1);
}
