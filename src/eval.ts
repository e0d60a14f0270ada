#!/usr/bin/env node
// node dist/eval.js --data DIR [--model M]: PSNR/SSIM (Y, border = scale) and RGB PSNR, model vs bicubic.
import { parseArgs } from 'node:util';
import { getGpu } from './gpu/gpu.js';
import { runCli } from './cli.js';
import { defaultModelPath, loadFoldedGenerator } from './srgan/model.js';
import { evaluateFolder, formatEvalTable } from './srgan/evaluate.js';

await runCli(async () => {
  const { values } = parseArgs({
    options: { data: { type: 'string' }, model: { type: 'string' }, tile: { type: 'string' }, help: { type: 'boolean', short: 'h' }, json: { type: 'boolean' } },
  });
  if (values.help) {
    process.stdout.write('usage: node dist/eval.js --data DIR [--model FILE] [--json]\n' +
      'Mod-crops each HR image to the scale, makes LR by MATLAB-style bicubic, upscales it, and reports\n' +
      'Y-PSNR / Y-SSIM (border = scale, the paper\'s protocol) and RGB-PSNR for the model and for bicubic.\n');
    return;
  }
  if (!values.data) throw new Error('--data DIR is required');
  const modelPath = values.model ?? defaultModelPath();
  await getGpu();
  const F = await loadFoldedGenerator(modelPath);
  const res = await evaluateFolder(F, values.data, F.config.scale, { tile: values.tile ? Number(values.tile) : undefined });
  F.dispose();
  if (values.json) process.stdout.write(JSON.stringify(res, null, 2) + '\n');
  else process.stdout.write(formatEvalTable(res, `model: ${modelPath}\ndata: ${values.data}\n`) + '\n');
});
