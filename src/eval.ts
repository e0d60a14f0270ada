#!/usr/bin/env node
// node dist/eval.js --data DIR [--model M] [--vgg PATH]: PSNR/SSIM (Y, border = scale), RGB PSNR,
// texture energy, the grid share and, with VGG19 weights, a VGG feature distance, model vs bicubic.
import { parseArgs } from 'node:util';
import { getGpu } from './node/gpu.js';
import { runCli, runInFilteredChild } from './cli.js';
import { mkdir, realpath, stat } from 'node:fs/promises';
import { basename, join, resolve, sep } from 'node:path';
import { makeImage, toRGB } from './image/pixels.js';
import { readImage, writeImage } from './node/image-files.js';
import { modelPath, readGeneratorFile, shippedModelList } from './node/model.js';
import { DEFAULT_MODEL, checkGeneratorTensors } from './srgan/model.js';
import { FoldedGenerator } from './srgan/inference.js';
import { listImages } from './node/image-files.js';
import { evaluateFolder, formatEvalTable } from './train/evaluate.js';
import { VGG19Features, VGG_LAYERS, type VggLayer } from './srgan/vgg19.js';
import { EVAL_CASES, EVAL_CASE_HELP, type EvalCase } from './srgan/degrade.js';
import { loadVgg19 } from './node/vgg-files.js';

const HELP = () => `usage: node dist/eval.js --data DIR [--model NAME|FILE | --results DIR] [--degrade CASE[,CASE...]] [--save-inputs DIR]
                         [--vgg PATH [--vgg-layer L]] [--tile N] [--json]

Mod-crops each HR image of DIR to the scale, makes LR by MATLAB-style bicubic (then JPEG, noise or
the real-world model with --degrade), upscales it, and
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
                    tensor names (.safetensors or a torch.save .pth; configuration read from the shapes),
                    or Real-ESRGAN's compact network (.pth/.safetensors with its body.N names, or
                    an ncnn NAME.param with NAME.bin beside it)
  --vgg PATH        ImageNet VGG19 weights: a TensorFlow.js model folder or model.json, or
                    torchvision-named safetensors (only block1_conv1..block3_conv4 are read)
  --vgg-layer L     vgg34 (default), vgg22 or vgg54: the features the distance compares
                    (vgg54 needs all 16 convs in the weights)
  --degrade CASES   the LR inputs, one table per case (comma-separated; default bicubic):
%CASES%
  --save-inputs DIR writes each case's LR inputs as DIR/CASE/NAME.png (for another upscaler)
  --results DIR     scores DIR/CASE/NAME.png, another upscaler's x4 outputs of those inputs, in
                    place of a model's (e.g. upscayl-bin -i DIR/jpeg75 -o RESULTS/jpeg75)
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
        'save-inputs': { type: 'string' }, results: { type: 'string' },
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
    // another upscaler's inputs and outputs: DIR/CASE/NAME.png for each HR image NAME.*
    const pngName = (f: string) => basename(f).replace(/\.[^.]*$/, '') + '.png';
    const names = new Map<string, string>();
    for (const f of files) {
      const n = pngName(f);
      if ((values['save-inputs'] || values.results) && names.has(n)) throw new Error(`--data: ${names.get(n)} and ${f} would share ${n} under --save-inputs/--results`);
      names.set(n, f);
    }
    if (values.results !== undefined && values.model !== undefined) throw new Error('--results scores the images in a folder, --model a model\'s: give one');
    if (values['save-inputs'] !== undefined) {
      if (!values['save-inputs']) throw new Error('--save-inputs: expected a folder');
      const data = await realpath(values.data), out = resolve(values['save-inputs']);
      const outReal = await realpath(out).catch(() => out);
      if (outReal === data || outReal.startsWith(data + sep)) throw new Error(`--save-inputs ${values['save-inputs']}: inside --data ${values.data}; the inputs written there would be read back as HR images`);
    }
    if (values.results !== undefined) {
      for (const c of cases) {
        const d = join(values.results, c);
        if (!(await stat(d).catch(() => null))?.isDirectory()) throw new Error(`--results ${values.results}: no folder ${c}/ in it (expected RESULTS/CASE/NAME.png for each case and image)`);
      }
    }
    const modelFile = values.results !== undefined ? null : modelPath(values.model);
    // header, shapes, checksum and finite weights, all checked before the GPU starts
    const { config, tensors } = modelFile ? await readGeneratorFile(modelFile) : { config: null, tensors: null };
    if (values.vgg && !(await stat(values.vgg).catch(() => null))) {
      throw new Error(`--vgg ${values.vgg}: no such file or folder (expected a TensorFlow.js layers-model folder or model.json, or torchvision-named safetensors)`);
    }
    await getGpu();
    const F = modelFile ? FoldedGenerator.fromTensors(config!, checkGeneratorTensors(config!, tensors!, modelFile)) : null;
    const scale = F?.config.scale ?? 4;
    let vgg: VGG19Features | undefined;
    try {
      if (values.vgg) {
        vgg = new VGG19Features(layer as VggLayer);
        await loadVgg19(vgg, values.vgg);
      }
      const results = [];
      for (const c of cases) {
        const saveDir = values['save-inputs'] ? join(values['save-inputs'], c) : null;
        if (saveDir) await mkdir(saveDir, { recursive: true });
        const res = await evaluateFolder(F, values.data, scale, { tile }, vgg, undefined, {
          degrade: c as EvalCase,
          saveInput: saveDir ? (f, lr, w, h) => writeImage(join(saveDir, pngName(f)), makeImage(w, h, 3, 8, lr)) : undefined,
          results: values.results ? async (f, w, h) => {
            const p = join(values.results!, c, pngName(f));
            const img = await readImage(p);
            if (img.width !== w || img.height !== h) throw new Error(`${p}: ${img.width}x${img.height}, expected ${w}x${h} (x${scale} of the LR input)`);
            return toRGB(img).rgb;
          } : undefined,
        });
        if (values.json) results.push(res);
        else process.stdout.write(formatEvalTable(res, `${modelFile ? `model: ${modelFile}` : `results: ${values.results}`}\ndata: ${values.data}${values.vgg ? `\nVGG19: ${values.vgg}` : ''}\n`) + '\n\n');
      }
      if (values.json) process.stdout.write(JSON.stringify(cases.length === 1 ? results[0] : results, null, 2) + '\n');
    } finally {
      F?.dispose();
      vgg?.dispose();
    }
  });
}
