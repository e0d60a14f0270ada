#!/usr/bin/env node
// node dist/train.js --data DIR --out RUNDIR [--config run.json] [--resume] [--max-time 8h] [--vgg PATH]
import { parseArgs } from 'node:util';
import { readFile } from 'node:fs/promises';
import { getGpu } from './gpu/gpu.js';
import { runCli } from './cli.js';
import { DEFAULT_CONFIG, resolveConfig, parseDuration } from './srgan/config.js';
import { Trainer, resumeConfig } from './srgan/trainer.js';

const HELP = `Train SRResNet, then SRGAN (Ledig et al. 2017) on a folder of photographs.

usage: node dist/train.js --data DIR --out RUNDIR [options]

  --data DIR          training images (PNG, JPEG, BMP; searched recursively)
  --out RUNDIR        run folder: checkpoint.safetensors, generator.safetensors, log.jsonl, plot.png,
                      previews/
  --resume            continue the run in RUNDIR exactly where its checkpoint left off, with the
                      configuration saved in it; --config/--set still apply on top (e.g. a longer
                      phase1Steps), and the entries that change are listed
  --config FILE       JSON config; entries as below (nested: "generator": {"channels": 64})
  --max-time T        stop cleanly after a wall-clock budget (8h, 45m, 90s)
  --init-generator F  start a new run's generator from F (a generator.safetensors, e.g. phase 1's
                      result): with --set phase1Steps=0 this trains phase 2 (SRGAN) from there
  --vgg PATH          ImageNet VGG19: a TensorFlow.js model folder/model.json or torchvision safetensors
  --vgg random        experiments only: a random VGG19 (announced loudly)
  --val DIR           validation images (e.g. Set5): PSNR/SSIM every validateEvery steps (when 0:
                      every 5 checkpoints); checked before training starts
  --set KEY=VALUE     override one config entry (repeatable), e.g. --set phase1Steps=2000
  -h, --help          this text

config entries and defaults (the paper's values; beyond the paper, all off by default:
  pixelLoss 'l1', schedule1 'cosine' with lr1Min, warmup1 steps, schedule2 'cosine' (lr2 -> lr2Final),
  ema 0.999 (a moving average of G's weights for validation, previews and generator.safetensors),
  discriminator.head 'pool' (global average pool before the dense layers)):
${JSON.stringify(DEFAULT_CONFIG, null, 2).split('\n').map((l) => '  ' + l).join('\n')}

Checkpoints are written atomically every checkpointEvery steps and on SIGINT/SIGTERM.
`;

await runCli(async () => {
  const { values } = parseArgs({
    options: {
      data: { type: 'string' }, out: { type: 'string' }, config: { type: 'string' },
      resume: { type: 'boolean' }, 'init-generator': { type: 'string' }, 'max-time': { type: 'string' }, vgg: { type: 'string' },
      val: { type: 'string' }, set: { type: 'string', multiple: true }, help: { type: 'boolean', short: 'h' },
      quiet: { type: 'boolean' },
    },
    strict: true,
  });
  if (values.help) { process.stdout.write(HELP); return; }
  if (!values.data) throw new Error('--data DIR is required (see --help)');
  if (!values.out) throw new Error('--out RUNDIR is required (see --help)');
  let partial: Record<string, unknown> = {};
  if (values.config) {
    const text = await readFile(values.config, 'utf8').catch(() => { throw new Error(`${values.config}: no such file`); });
    try { partial = JSON.parse(text); } catch (e) { throw new Error(`${values.config}: not valid JSON (${(e as Error).message})`); }
  }
  for (const kv of values.set ?? []) {
    const eq = kv.indexOf('=');
    if (eq < 0) throw new Error(`--set ${kv}: expected KEY=VALUE`);
    const keys = kv.slice(0, eq).split('.');
    let v: unknown = kv.slice(eq + 1);
    if (v !== '' && !Number.isNaN(Number(v))) v = Number(v);
    let o = partial as Record<string, unknown>;
    for (const k of keys.slice(0, -1)) o = (o[k] ??= {}) as Record<string, unknown>;
    o[keys[keys.length - 1]] = v;
  }
  // a resumed run starts from the configuration saved in its checkpoint, not from the defaults
  const resumed = values.resume ? await resumeConfig(values.out, partial) : null;
  if (resumed?.changes.length) process.stderr.write(`resume: changed from the checkpoint's configuration: ${resumed.changes.join(', ')}\n`);
  const cfg = resumed ? resumed.cfg : resolveConfig(partial);
  await getGpu();
  const trainer = new Trainer(cfg, {
    dataDir: values.data, outDir: values.out, resume: Boolean(values.resume),
    vggPath: values.vgg && values.vgg !== 'random' ? values.vgg : undefined,
    vggRandom: values.vgg === 'random', valDir: values.val,
    maxTimeSec: values['max-time'] ? parseDuration(values['max-time']) : undefined,
    quiet: values.quiet, initGenerator: values['init-generator'],
  });
  await trainer.init();
  await trainer.run();
  process.stderr.write(`saved ${values.out}/checkpoint.safetensors and ${values.out}/generator.safetensors at step ${trainer.step}\n`);
});
