// Real-ESRGAN's compact generator (SRVGGNetCompact, Wang et al., ICCVW 2021; the layout of
// realesr-general-x4v3): a plain chain at the input's resolution, conv 3 -> C + PReLU, `blocks` x
// (3x3 conv C -> C + PReLU), a 3x3 conv to 3 * scale^2 channels and a pixel shuffle, plus the input
// upsampled nearest-neighbour. No conv runs above LR, so it costs C^2 * 9 multiply-adds per conv per
// LR pixel and nothing more.
// Tensor names are Real-ESRGAN's: body.0 (first conv), body.1 (its PReLU), body.2, body.3, ...,
// body.{2 * blocks + 2} (the last conv), so its trained files load as they are. Real-ESRGAN works in
// [0, 1]; the engine's generators output [-1, 1]: the training graph doubles the sum and maps the
// skip, the inference graph folds the doubling into the last conv.
import { Module } from '../nn/module.js';
import { Conv2d, PReLU } from '../nn/layers.js';
import * as ops from '../nn/ops.js';
import { isGradEnabled, type Tensor } from '../nn/tensor.js';
import { oihwToHwio } from '../nn/safetensors.js';
import { highestIndex } from '../nn/state.js';
import type { GeneratorConfig, GeneratorTensors, NetTiling } from './generator.js';

/** Index in Real-ESRGAN's body list of the conv of stage i (0: the first conv, blocks + 1: the last). */
export const compactConvName = (i: number) => `body.${2 * i}`;
export const compactActName = (i: number) => `body.${2 * i + 1}`;

export class CompactGenerator extends Module {
  /** The convs in order: the first, the `blocks` middle ones, the last (to 3 * scale^2 channels). */
  readonly convs: Conv2d[];
  /** The PReLU after each conv but the last. */
  readonly acts: PReLU[];
  readonly folded: boolean;

  constructor(readonly config: GeneratorConfig, file?: GeneratorTensors) {
    super();
    const c = config.channels, s = config.scale, n = config.blocks + 2;
    this.folded = !!file;
    this.convs = [];
    this.acts = [];
    for (let i = 0; i < n; i++) {
      const cin = i === 0 ? 3 : c, cout = i === n - 1 ? 3 * s * s : c, name = compactConvName(i);
      let conv: Conv2d;
      if (!file) {
        // the last conv starts ICNR (runs of s^2 equal output channels): the network starts as a
        // nearest-neighbour upsampling of a 3-channel conv, no checkerboard
        conv = new Conv2d(cin, cout, 3, { bias: true, icnr: i === n - 1 ? s * s : undefined });
      } else {
        const w = oihwToHwio(file(`${name}.weight`), 3, cin, cout), b = Float32Array.from(file(`${name}.bias`));
        // inference: the engine's [-1, 1] output is twice Real-ESRGAN's [0, 1] one, less 1 (the skip's share)
        if (i === n - 1) { for (let k = 0; k < w.length; k++) w[k] *= 2; for (let k = 0; k < b.length; k++) b[k] *= 2; }
        conv = new Conv2d(cin, cout, 3, { weights: { weight: w, bias: b } });
      }
      this.convs.push(this.child(name, conv));
      if (i < n - 1) this.acts.push(this.child(compactActName(i), file ? new PReLU(c, file(`${compactActName(i)}.weight`)) : new PReLU(c)));
    }
  }

  /** LR image NHWC in [0,1] -> SR image NHWC in [-1,1] (unbounded: clamp it). */
  forward(x: Tensor): Tensor {
    return this.addSkip(x, this.tail(this.body(x)));
  }

  /** Every conv (all at LR): [N, H, W, 3] -> [N, H, W, 3 * scale^2]. */
  body(x: Tensor): Tensor {
    const free = !isGradEnabled();
    let h = x;
    this.convs.forEach((conv, i) => {
      const act = this.acts[i];
      const next = act ? (this.folded ? conv.forward(h, { act: 'prelu', slope: act.weight }) : act.forward(conv.forward(h))) : conv.forward(h);
      if (free && h !== x) h.dispose();
      h = next;
    });
    return h;
  }

  /** The pixel shuffle (doubled in the training graph: the folded one has it in the last conv). */
  tail(h: Tensor): Tensor {
    const y = ops.pixelShuffle(h, this.config.scale);
    if (this.folded) return y;
    return ops.scale(y, 2);
  }

  /** The input upsampled nearest-neighbour, mapped from [0,1] to [-1,1], added. */
  addSkip(x: Tensor, y: Tensor): Tensor {
    const up = ops.upsampleNearest(x, this.config.scale, 2, -1);
    const out = ops.add(y, up);
    if (!isGradEnabled()) { up.dispose(); y.dispose(); }
    return out;
  }

  /**
   * Every conv at LR: a tile needs one pixel of context per 3x3 conv; the tail is the pixel
   * shuffle (an LR pixel's own block, no context) of the last conv's 3 * scale^2 channels.
   */
  get tiling(): NetTiling {
    const { channels: c, scale: s } = this.config;
    return {
      stride: 1, bodyRadius: this.convs.reduce((a, conv) => a + (conv.k - 1) / 2, 0),
      bodyBytesPerLrPixel: Math.max(4, c, 3 * s * s) * 4,
      tailCone: [0, 0], tailBytesPerBodyPixel: 3 * s * s * 4, padHr: 0,
    };
  }
}

/** Multiply-adds per LR pixel: every conv is at LR; the shuffle and skip cost none. */
export function compactMacsPerLrPixel(cfg: GeneratorConfig): { body: number; tail: number } {
  const c = cfg.channels, s = cfg.scale;
  return { body: 9 * (3 * c + cfg.blocks * c * c + c * 3 * s * s), tail: 0 };
}

/** Every tensor of a compact generator file, name -> shape (PyTorch's OIHW). */
export function compactTensorShapes(cfg: GeneratorConfig): Map<string, number[]> {
  const c = cfg.channels, s = cfg.scale, n = cfg.blocks + 2, m = new Map<string, number[]>();
  for (let i = 0; i < n; i++) {
    const cin = i === 0 ? 3 : c, cout = i === n - 1 ? 3 * s * s : c;
    m.set(`${compactConvName(i)}.weight`, [cout, cin, 3, 3]);
    m.set(`${compactConvName(i)}.bias`, [cout]);
    if (i < n - 1) m.set(`${compactActName(i)}.weight`, [c]);
  }
  return m;
}

/**
 * Real-ESRGAN's compact network (SRVGGNetCompact: body.0 the first conv, body.1 its PReLU, ...,
 * body.{2N+2} the last conv): channels from the first conv, the middle convs from the last index,
 * the scale from the last conv's 3 * scale^2 outputs.
 */
export function compactConfigFromShapes(entries: ReadonlyMap<string, { shape: number[] }>, file: string): Record<string, unknown> {
  const first = entries.get('body.0.weight')!.shape;
  if (first.length !== 4 || first[1] !== 3 || first[2] !== 3 || first[3] !== 3) {
    throw new Error(`${file}: tensor 'body.0.weight' has shape [${first}], a compact generator's (SRVGGNetCompact) is [channels, 3, 3, 3]`);
  }
  const last = Math.max(0, highestIndex(entries.keys(), /^body\.(\d{1,6})\.weight$/));
  if (last % 2 !== 0 || last < 2) throw new Error(`${file}: body.${last}.weight is the last layer, expected an even index (a conv) of 2 or more (SRVGGNetCompact)`);
  const out = entries.get(`${compactConvName(last / 2)}.weight`)!.shape[0];
  const scale = Math.round(Math.sqrt(out / 3));
  if (3 * scale * scale !== out || (scale !== 2 && scale !== 4)) throw new Error(`${file}: the last conv (body.${last}) has ${out} outputs, expected 12 (x2) or 48 (x4)`);
  return { arch: 'compact', channels: first[0], blocks: last / 2 - 1, scale };
}
