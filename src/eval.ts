#!/usr/bin/env node
// node dist/eval.js --data DIR [--model M] [--vgg PATH]: PSNR/SSIM (Y, border = scale), RGB PSNR,
// texture energy and, with VGG19 weights, a VGG feature distance, model vs bicubic.
import { parseArgs } from 'node:util';
import { getGpu } from './gpu/gpu.js';
import { runCli } from './cli.js';
import { defaultModelPath, loadFoldedGenerator } from './srgan/model.js';
import { evaluateFolder, formatEvalTable } from './srgan/evaluate.js';
import { VGG19Features } from './srgan/vgg19.js';

const HELP = `usage: node dist/eval.js --data DIR [--model FILE] [--vgg PATH] [--tile N] [--json]

Mod-crops each HR image of DIR to the scale, makes LR by MATLAB-style bicubic, upscales it, and
reports for the model and for bicubic, on the image with a scale-pixel border removed:
  Y-PSNR / Y-SSIM   the paper's protocol (ITU-R BT.601 Y)
  RGB-PSNR          as many modern repositories quote it
  texture           mean gradient magnitude of Y divided by the HR image's (1 = HR's texture;
                    blur gives less, noise more)
  VGG34 dist        with --vgg: mean squared difference of VGG19 relu3_4 features to HR's / 12.75^2

  --model FILE      generator checkpoint (default: the shipped model)
  --vgg PATH        ImageNet VGG19 weights: a TensorFlow.js model folder or model.json, or
                    torchvision-named safetensors (only block1_conv1..block3_conv4 are read)
  --tile N          largest tile side in LR pixels (default: from the adapter's limits)
  --json            the full result as JSON
`;

await runCli(async () => {
  const { values } = parseArgs({
    options: {
      data: { type: 'string' }, model: { type: 'string' }, tile: { type: 'string' }, vgg: { type: 'string' },
      help: { type: 'boolean', short: 'h' }, json: { type: 'boolean' },
    },
  });
  if (values.help) { process.stdout.write(HELP); return; }
  if (!values.data) throw new Error('--data DIR is required (see --help)');
  const tile = values.tile === undefined ? undefined : Number(values.tile);
  if (tile !== undefined && !(Number.isInteger(tile) && tile > 0)) throw new Error(`--tile ${values.tile}: expected a positive integer`);
  const modelPath = values.model ?? defaultModelPath();
  await getGpu();
  const F = await loadFoldedGenerator(modelPath);
  let vgg: VGG19Features | undefined;
  try {
    if (values.vgg) {
      vgg = new VGG19Features('vgg34');
      await vgg.load(values.vgg);
    }
    const res = await evaluateFolder(F, values.data, F.config.scale, { tile }, vgg);
    if (values.json) process.stdout.write(JSON.stringify(res, null, 2) + '\n');
    else process.stdout.write(formatEvalTable(res, `model: ${modelPath}\ndata: ${values.data}${values.vgg ? `\nVGG19: ${values.vgg}` : ''}\n`) + '\n');
  } finally {
    F.dispose();
    vgg?.dispose();
  }
});
