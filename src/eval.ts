#!/usr/bin/env node
// node dist/eval.js --data DIR [--model M] [--vgg PATH]: PSNR/SSIM (Y, border = scale), RGB PSNR,
// texture energy, the grid share and, with VGG19 weights, a VGG feature distance, model vs bicubic.
import { parseArgs } from 'node:util';
import { getGpu } from './node/gpu.js';
import { runCli, runInFilteredChild } from './cli.js';
import { stat } from 'node:fs/promises';
import { DEFAULT_MODEL, checkGeneratorTensors, modelPath, readGeneratorFile, shippedModelList } from './node/model.js';
import { FoldedGenerator } from './srgan/inference.js';
import { listImages } from './srgan/data.js';
import { evaluateFolder, formatEvalTable } from './srgan/evaluate.js';
import { VGG19Features, VGG_LAYERS, type VggLayer } from './srgan/vgg19.js';
import { EVAL_CASES, EVAL_CASE_HELP, type EvalCase } from './srgan/degrade.js';

const HELP = () => `usage: node dist/eval.js --data DIR [--model NAME|FILE] [--degrade CASE[,CASE...]] [--vgg PATH [--vgg-layer L]] [--tile N] [--json]

Mod-crops each HR image of DIR to the scale, makes LR by MATLAB-style bicubic, upscales it, and
reports for the model and for bicubic, on the image with a scale-pixel border removed:
  Y-PSNR / Y-SSIM   the paper's protocol (ITU-R BT.601 Y)
  RGB-PSNR          as many modern repositories quote it
  texture           mean gradient magnitude of Y divided by the HR image's (1 = HR's texture;
                    blur gives less, noise more)
  grid              share of the fine detail (Y minus its 4x4 box mean) that repeats every 4
                    pixels, per 16x16 block: 1 for a pure dot grid, 0.01-0.05 for bicubic and the
                    srresnet model on photographs (the checkerboard a sub-pixel upsampler can grow
                    under an adversarial loss reaches 0.3-0.8 on flat ones; texture counts it as texture)
  block             blockiness: mean step of Y across the 32-pixel grid (an LR's 8x8 JPEG blocks
                    after x4) over the mean step across the other LR pixel edges: 1 = no grid
  VGG34 dist        with --vgg: mean squared difference of VGG19 relu3_4 features to HR's / 12.75^2
                    (relu2_2 or relu5_4 with --vgg-layer)

  --model NAME|FILE a shipped model by name (default: 'default' = ${DEFAULT_MODEL}):
%MODELS%
                    or a generator file: from train.js, or a PyTorch state_dict with the same
                    tensor names (.safetensors or a torch.save .pth; configuration read from the shapes)
  --vgg PATH        ImageNet VGG19 weights: a TensorFlow.js model folder or model.json, or
                    torchvision-named safetensors (only block1_conv1..block3_conv4 are read)
  --vgg-layer L     vgg34 (default), vgg22 or vgg54: the features the distance compares
                    (vgg54 needs all 16 convs in the weights)
  --degrade CASES   the LR inputs, one table per case (comma-separated; default bicubic):
%CASES%
  --tile N          largest tile side in LR pixels (default: from the adapter's limits)
  --json            the full result as JSON
`;

// Dawn's start-up notices filtered from stderr, as in upscale.js
if (!(await runInFilteredChild())) {
  await runCli(async () => {
    const { values } = parseArgs({
      options: {
        data: { type: 'string' }, model: { type: 'string' }, tile: { type: 'string' }, vgg: { type: 'string' }, 'vgg-layer': { type: 'string' },
        help: { type: 'boolean', short: 'h' }, json: { type: 'boolean' }, degrade: { type: 'string' },
      },
      strict: true,
    });
    if (values.help) {
      const cases = EVAL_CASES.map((c) => `${' '.repeat(20)}${c.padEnd(11)}${EVAL_CASE_HELP[c]}`).join('\n');
      process.stdout.write(HELP().replace('%MODELS%', shippedModelList(20)).replace('%CASES%', cases));
      return;
    }
    // every flag checked before the GPU starts: a typo costs nothing
    if (!values.data) throw new Error('--data DIR is required (see --help)');
    const tile = values.tile === undefined ? undefined : Number(values.tile);
    if (tile !== undefined && !(/^\d+$/.test(values.tile!.trim()) && Number.isSafeInteger(tile) && tile > 0)) {
      throw new Error(`--tile ${JSON.stringify(values.tile)}: expected a positive integer`);
    }
    if (values.model === '') throw new Error('--model: expected a file (see --help)');
    if (values.vgg === '') throw new Error('--vgg: expected a path (see --help)');
    const layer = values['vgg-layer'] ?? 'vgg34';
    if (!VGG_LAYERS.includes(layer as VggLayer)) throw new Error(`--vgg-layer ${JSON.stringify(layer)}: expected ${VGG_LAYERS.join(', ')}`);
    if (values['vgg-layer'] !== undefined && !values.vgg) throw new Error('--vgg-layer needs --vgg PATH');
    const cases = (values.degrade ?? 'bicubic').split(',').map((c) => c.trim());
    for (const c of cases) if (!EVAL_CASES.includes(c as EvalCase)) throw new Error(`--degrade ${JSON.stringify(values.degrade)}: unknown case ${JSON.stringify(c)} (expected ${EVAL_CASES.join(', ')})`);
    const files = await listImages(values.data).catch((e: Error) => { throw new Error(`--data: ${e.message}`); });
    if (!files.length) throw new Error(`--data: ${values.data}: no images (.png, .jpg, .jpeg, .bmp) found`);
    const modelFile = modelPath(values.model);
    // header, shapes, checksum and finite weights, all checked before the GPU starts
    const { config, tensors } = await readGeneratorFile(modelFile);
    if (values.vgg && !(await stat(values.vgg).catch(() => null))) {
      throw new Error(`--vgg ${values.vgg}: no such file or folder (expected a TensorFlow.js layers-model folder or model.json, or torchvision-named safetensors)`);
    }
    await getGpu();
    const F = FoldedGenerator.fromTensors(config, checkGeneratorTensors(config, tensors, modelFile));
    let vgg: VGG19Features | undefined;
    try {
      if (values.vgg) {
        vgg = new VGG19Features(layer as VggLayer);
        await vgg.load(values.vgg);
      }
      const results = [];
      for (const c of cases) {
        const res = await evaluateFolder(F, values.data, F.config.scale, { tile }, vgg, undefined, c as EvalCase);
        if (values.json) results.push(res);
        else process.stdout.write(formatEvalTable(res, `model: ${modelFile}\ndata: ${values.data}${values.vgg ? `\nVGG19: ${values.vgg}` : ''}\n`) + '\n\n');
      }
      if (values.json) process.stdout.write(JSON.stringify(cases.length === 1 ? results[0] : results, null, 2) + '\n');
    } finally {
      F.dispose();
      vgg?.dispose();
    }
  });
}
