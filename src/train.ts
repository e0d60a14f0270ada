#!/usr/bin/env node
// node dist/train.js --data DIR --out RUNDIR [--config run.json] [--resume] [--max-time 8h] [--vgg PATH]
import { parseArgs } from 'node:util';
import { readFile, stat } from 'node:fs/promises';
import { getGpu } from './node/gpu.js';
import { runCli } from './cli.js';
import { DEFAULT_CONFIG, resolveConfig, parseDuration, applySet } from './srgan/config.js';
import { PHASE2_TERMS } from './srgan/losses.js';
import { Trainer, type StepLog } from './train/trainer.js';
import { resumeConfig } from './train/checkpoint.js';
import { tuneAndSave, variantsPath } from './node/variants.js';

const HELP = `Train SRResNet, then SRGAN (Ledig et al. 2017) on a folder of photographs.

usage: node dist/train.js --data DIR --out RUNDIR [options]

  --data DIR          training images (PNG, JPEG, BMP; searched recursively)
  --out RUNDIR        run folder: checkpoint.safetensors, generator.safetensors, log.jsonl, plot.png,
                      previews/
  --resume            continue the run in RUNDIR exactly where its checkpoint left off, with the
                      configuration saved in it; --config/--set still apply on top (e.g. a longer
                      phase1Steps), and the entries that change are listed
  --allow-changes     with --resume: also accept changes that alter the run's meaning (batch, crop,
                      seed, the networks, pixelLoss, ...); without it only step counts, learning
                      rates and the schedules' end points, intervals and ema may change
  --config FILE       JSON config; entries as below (nested: "generator": {"channels": 64})
  --max-time T        stop cleanly after a wall-clock budget (8h, 45m, 90s)
  --init-generator F  start a new run's generator from F (a generator.safetensors, e.g. phase 1's
                      result): with --set phase1Steps=0 this trains phase 2 (SRGAN) from there
  --vgg PATH          ImageNet VGG19: a TensorFlow.js model folder/model.json or torchvision safetensors
  --vgg random        experiments only: a random VGG19 (announced loudly)
  --val DIR           validation images (e.g. Set5): PSNR/SSIM every validateEvery steps (when 0:
                      every 5 checkpoints); checked before training starts
  --set KEY=VALUE     override one config entry (repeatable), e.g. --set phase1Steps=2000,
                      --set generator.blocks=8
  -h, --help          this text

config entries and defaults (the paper's values; beyond the paper, all off by default:
  pixelLoss 'l1', schedule1 'cosine' with lr1Min, warmup1 steps, schedule2 'cosine' (lr2 -> lr2Final),
  ema 0.999 (a moving average of G's weights for validation, previews and generator.safetensors),
  discriminator.head 'pool' (global average pool before the dense layers), ganLoss 'ragan' (ESRGAN's
  relativistic average GAN), vggActivation 'before' (ESRGAN's content loss on the last VGG conv before
  its ReLU), the weights of phase 2's
  optional generator-loss terms:
${PHASE2_TERMS.map((t) => `    ${t.setting}: ${t.doc}`).join('\n')}
  generator.upsample 'nearest' (ESRGAN's nearest-neighbour x2 + conv instead of pixel shuffle) or
  'espcn' (no upsampling steps: conv_out a 3x3 conv to 3 * scale^2 channels, then one pixel shuffle,
  every conv at the input's resolution) or 'shuffle-espcn' (scale 4: the paper's first x2 step, then
  conv_out a 3x3 conv to 12 channels and a pixel shuffle by 2: nothing at the output's resolution),
  generator.norm 'none' (no BN, EDSR's), generator.skip 'bilinear' (the input upsampled bilinearly
  added to the output, BasicSR's MSRResNet: the network learns only the detail bilinear misses)):
${JSON.stringify(DEFAULT_CONFIG, null, 2).split('\n').map((l) => '  ' + l).join('\n')}

Checkpoints are written atomically every checkpointEvery steps and on SIGINT/SIGTERM, with a
checksum that --resume verifies. RUNDIR/train.lock keeps a second process out of the run.
`;

/** The one-line progress report of a logged step. */
function progressLine(r: StepLog, total: number, pixelLoss: 'mse' | 'l1'): string {
  const eta = r.steps_per_s > 0 ? (total - r.step) / r.steps_per_s : Infinity;
  const fmtT = (s: number) => !Number.isFinite(s) ? '?' : s > 3600 ? `${(s / 3600).toFixed(1)}h` : s > 60 ? `${(s / 60).toFixed(1)}m` : `${s.toFixed(0)}s`;
  const losses = r.phase === 1 ? `${pixelLoss} ${r[pixelLoss]!.toExponential(3)}`
    : `G ${r.loss_g.toExponential(3)} (content ${r.content!.toExponential(3)}, adv ${r.adversarial!.toFixed(3)}) D ${r.loss_d!.toFixed(3)} D(HR) ${r.d_hr!.toFixed(2)} D(SR) ${r.d_sr!.toFixed(2)}`;
  return `step ${r.step}/${total} phase ${r.phase} ${losses} lr ${r.lr.toExponential(1)} ${r.steps_per_s.toFixed(3)} steps/s ETA ${fmtT(eta)}`;
}

await runCli(async () => {
  const { values } = parseArgs({
    options: {
      data: { type: 'string' }, out: { type: 'string' }, config: { type: 'string' },
      resume: { type: 'boolean' }, 'allow-changes': { type: 'boolean' }, 'init-generator': { type: 'string' },
      'max-time': { type: 'string' }, vgg: { type: 'string' },
      val: { type: 'string' }, set: { type: 'string', multiple: true }, help: { type: 'boolean', short: 'h' },
      quiet: { type: 'boolean' },
    },
    strict: true,
  });
  if (values.help) { process.stdout.write(HELP); return; }
  // every flag and entry is checked here, before the GPU starts or anything is written
  if (!values.data) throw new Error('--data DIR is required (see --help)');
  if (!values.out) throw new Error('--out RUNDIR is required (see --help)');
  if (values['allow-changes'] && !values.resume) throw new Error('--allow-changes only applies with --resume');
  if (values.resume && values['init-generator']) throw new Error('--init-generator starts a new run; a resumed run takes its weights from the checkpoint');
  if (values.vgg === '') throw new Error('--vgg: expected a path (see --help)');
  const maxTimeSec = values['max-time'] === undefined ? undefined : parseDuration(values['max-time']);
  let partial: Record<string, unknown> = {};
  if (values.config) {
    const file = values.config;
    const text = await readFile(file, 'utf8').catch((e: NodeJS.ErrnoException) => {
      throw new Error(`${file}: ${e.code === 'ENOENT' ? 'no such file' : e.code === 'EISDIR' ? 'is a folder, not a JSON file' : e.message}`);
    });
    try { partial = JSON.parse(text); } catch (e) { throw new Error(`${file}: not valid JSON (${(e as Error).message})`); }
    resolveConfig(partial, DEFAULT_CONFIG, file); // names the file in any complaint about its entries
  }
  for (const kv of values.set ?? []) applySet(partial, kv);
  // a resumed run starts from the configuration saved in its checkpoint, not from the defaults
  const resumed = values.resume ? await resumeConfig(values.out, partial, values['allow-changes']) : null;
  if (resumed?.changes.length) process.stderr.write(`resume: changed from the checkpoint's configuration: ${resumed.changes.join(', ')}\n`);
  const cfg = resumed ? resumed.cfg : resolveConfig(partial);
  // a mistyped --data costs nothing: checked before the GPU starts (and before a first run's tuning)
  if (!(await stat(values.data).catch(() => null))) throw new Error(`${values.data}: no such folder`);
  const g = await getGpu();
  // A training run is hours: the first one on a machine first measures the kernel tiles (about a
  // minute on a CPU adapter) and keeps them for every later run (node dist/tune.js).
  const tablePath = variantsPath();
  if (tablePath && !Object.keys(g.variants).length) {
    process.stderr.write('kernel tiles: measuring them for this machine, once (node dist/tune.js --show lists them; SRGAN_VARIANTS=off skips this)\n');
    const results = await tuneAndSave(g, tablePath);
    const faster = results.filter((r) => r.speedup > 1).map((r) => `${r.key} ${r.speedup.toFixed(2)}x`);
    process.stderr.write(`kernel tiles: saved to ${tablePath}${faster.length ? `; faster than the built-in ones: ${faster.join(', ')}` : '; the built-in ones are the fastest here'}\n`);
  }
  const trainer = new Trainer(cfg, {
    dataDir: values.data, outDir: values.out, resume: Boolean(values.resume), allowChanges: values['allow-changes'],
    vggPath: values.vgg && values.vgg !== 'random' ? values.vgg : undefined,
    vggRandom: values.vgg === 'random', valDir: values.val, maxTimeSec,
    quiet: values.quiet, initGenerator: values['init-generator'],
    onStep: values.quiet ? undefined : (rec, total) => process.stderr.write(`\r${progressLine(rec, total, cfg.pixelLoss)}   `),
    onMessage: (msg) => process.stderr.write(msg + '\n'),
  });
  // SIGINT/SIGTERM: finish the step, checkpoint, exit 0; a second one exits at once (code 130)
  const onSignal = (sig: NodeJS.Signals) => {
    if (trainer.stopping) {
      process.stderr.write(`\n${sig} again: exiting without waiting\n`);
      trainer.unlock();
      process.exit(130);
    }
    process.stderr.write(`\n${sig}: saving a checkpoint and stopping after this step\n`);
    trainer.requestStop();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    await trainer.init();
    await trainer.run();
    if (!values.quiet) process.stderr.write('\n');
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    trainer.dispose(); // releases RUNDIR/train.lock
  }
  process.stderr.write(`saved ${values.out}/checkpoint.safetensors and ${values.out}/generator.safetensors at step ${trainer.step}\n`);
});
