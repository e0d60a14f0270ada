#!/usr/bin/env node
// Network interpolation (ESRGAN, Wang et al. 2018, section 3.4): the weights of a PSNR-oriented
// generator A and of a GAN generator B fine-tuned from it, blended per tensor as (1 - alpha) A + alpha B.
// alpha 0 is A, 1 is B; values between trade the GAN's texture for A's fidelity smoothly, without
// the GAN's artefacts that interpolating the two outputs would keep (run `npm run build` first):
//   node scripts/interpolate.mjs A.safetensors B.safetensors ALPHA OUT.safetensors [--f16]
// Both files must be the same architecture (the same `generator` metadata, names and shapes); the
// output carries B's metadata plus `interpolated` saying what it was made from. --f16 writes float16.
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { parseSafetensors, toFloat32, fromFloat32 } from '../dist/nn/safetensors.js';
import { writeAtomic, serializeChecked } from '../dist/node/state.js';
import { sameFile } from '../dist/node/paths.js';

const args = process.argv.slice(2);
const f16 = args.includes('--f16');
const [a, b, alphaText, out, ...rest] = args.filter((x) => x !== '--f16');
const usage = 'usage: node scripts/interpolate.mjs A.safetensors B.safetensors ALPHA OUT.safetensors [--f16]\n';
if (!out || rest.length) { process.stderr.write(usage); process.exit(2); }
const fail = (msg) => { process.stderr.write(`error: ${msg}\n`); process.exit(1); };
const alpha = Number(alphaText);
if (!(alpha >= 0 && alpha <= 1)) fail(`ALPHA ${alphaText}: expected a number from 0 to 1`);
for (const inp of [a, b]) if (await sameFile(inp, out)) fail(`${out}: is the input ${inp}; refusing to overwrite it`);
try {
  const A = parseSafetensors(new Uint8Array(readFileSync(a)), a);
  const B = parseSafetensors(new Uint8Array(readFileSync(b)), b);
  if (A.metadata.generator !== B.metadata.generator) {
    fail(`${b}: generator ${B.metadata.generator ?? '(none)'} is not ${a}'s ${A.metadata.generator ?? '(none)'}`);
  }
  for (const n of A.tensors.keys()) if (!B.tensors.has(n)) fail(`${b}: has no tensor ${n} (${a} has)`);
  const list = [];
  for (const [n, tb] of B.tensors) {
    const ta = A.tensors.get(n);
    if (!ta) fail(`${a}: has no tensor ${n} (${b} has)`);
    if (ta.shape.join('x') !== tb.shape.join('x')) fail(`${b}: ${n} is ${tb.shape.join('x')}, ${a}'s is ${ta.shape.join('x')}`);
    const xa = toFloat32(ta, n), xb = toFloat32(tb, n), y = new Float32Array(xa.length);
    for (let i = 0; i < y.length; i++) y[i] = (1 - alpha) * xa[i] + alpha * xb[i];
    list.push([n, fromFloat32(y, tb.shape, f16 ? 'F16' : 'F32')]);
  }
  const metadata = { ...B.metadata, interpolated: JSON.stringify({ a: basename(a), b: basename(b), alpha }) };
  await writeAtomic(out, serializeChecked(list, metadata));
} catch (e) {
  fail(e.message.split('\n')[0]);
}
