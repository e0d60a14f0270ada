// ESRGAN's generator (RRDBNet, Wang et al. 2018), as Real-ESRGAN's RealESRGAN_x4plus uses it:
// conv_first, `blocks` residual-in-residual dense blocks (each 3 dense blocks of 5 convs: conv k sees
// the block's input and every earlier conv's output, `growth` channels each, LeakyReLU 0.2 after all
// but the fifth; the dense block's output is 0.2 x conv5 + its input, the RRDB's 0.2 x the third
// dense block's + its input), conv_body plus the skip from conv_first, then two nearest x2 + conv +
// LeakyReLU steps, conv_hr + LeakyReLU and conv_last. Tensor names are BasicSR's (conv_first,
// body.N.rdb1.conv1, ..., conv_body, conv_up1, conv_up2, conv_hr, conv_last).
// Two graphs from one description. Training (random weights): the residual scalings and the
// [0, 1] -> [-1, 1] output map are separate ops, so the parameters are BasicSR's tensors as they
// are. Inference (built from a file's tensors): the 0.2 of the dense block's residual is folded into
// conv5's weights, and the output map into conv_last's. Both run the dense convs through
// ops.ConcatConv: with gradients it concatenates the pieces; at inference it never builds the
// concatenation and transforms each piece once for all the convs that read it.
import { Module } from '../nn/module.js';
import { Conv2d } from '../nn/layers.js';
import * as ops from '../nn/ops.js';
import { fromArray, isGradEnabled, type Tensor } from '../nn/tensor.js';
import { oihwToHwio } from '../nn/safetensors.js';
import { highestIndex } from '../nn/state.js';
import type { GeneratorConfig, GeneratorTensors, NetTiling } from './generator.js';

const SLOPE = 0.2;
/**
 * LR pixels of context each side of an RRDBNet tile. Its true receptive field (hundreds of convs)
 * is wider than any tile, so its tiles cannot equal the whole image exactly, as Real-ESRGAN's
 * (tile_pad 10) cannot; with 16 pixels of real context the difference stays under a level where
 * the tiles meet (measured in test/srgan/rrdb.test.ts).
 */
export const RRDB_TILE_CONTEXT = 16;
/** ESRGAN's residual scaling of each dense block and each RRDB. */
const RES_SCALE = 0.2;
export const DEFAULT_GROWTH = 32;
/**
 * The pixel unshuffle an RRDBNet of this scale starts with: the network body and tail always make
 * x4, so Real-ESRGAN's x2 model (RealESRGAN_x2plus) first folds each 2x2 block of the input into 12
 * channels at half the resolution.
 */
export const rrdbUnshuffle = (cfg: GeneratorConfig): number => 4 / cfg.scale;
export const growthOf = (cfg: GeneratorConfig): number => cfg.growth ?? DEFAULT_GROWTH;

/** A conv from a file: weight OIHW [cout, cin, 3, 3] -> engine HWIO; `scale` multiplies weights and bias, `shift` is added to the bias. */
function fileConv(file: GeneratorTensors, name: string, cin: number, cout: number, scale = 1, shift = 0): Conv2d {
  const w = oihwToHwio(file(`${name}.weight`), 3, cin, cout), b = Float32Array.from(file(`${name}.bias`));
  if (scale !== 1) for (let i = 0; i < w.length; i++) w[i] *= scale;
  for (let i = 0; i < b.length; i++) b[i] = b[i] * scale + shift;
  return new Conv2d(cin, cout, 3, { weights: { weight: w, bias: b } });
}

class DenseBlock extends Module {
  readonly convs: Conv2d[] = [];
  /** Built from a file: RES_SCALE folded into conv5's weights. */
  readonly folded: boolean;
  constructor(file: GeneratorTensors | undefined, p: string, c: number, g: number) {
    super();
    this.folded = !!file;
    for (let k = 1; k <= 5; k++) {
      const cin = c + (k - 1) * g, cout = k === 5 ? c : g;
      this.convs.push(this.child(`conv${k}`, file ? fileConv(file, `${p}.conv${k}`, cin, cout, k === 5 ? RES_SCALE : 1)
        : new Conv2d(cin, cout, 3, { bias: true })));
    }
  }
  /** RES_SCALE x conv5(cat(x, x1..x4)) + x. */
  forward(x: Tensor): Tensor {
    const free = !isGradEnabled();
    const c = this.convs[4].cout, g = this.convs[0].cout;
    const cat = new ops.ConcatConv(x, { widths: [c, g, g, g, g], couts: [g, g, g, g, c] });
    for (const conv of this.convs.slice(0, 4)) {
      const xk = cat.conv(conv.weight, conv.bias, { act: 'lrelu', alpha: SLOPE });
      cat.add(xk);
      if (free) xk.dispose();
    }
    const last = this.convs[4];
    const y = this.folded ? cat.conv(last.weight, last.bias, { residual: x }) : ops.add(ops.scale(cat.conv(last.weight, last.bias), RES_SCALE), x);
    cat.dispose();
    return y;
  }
}

class RRDB extends Module {
  readonly rdbs: DenseBlock[];
  constructor(file: GeneratorTensors | undefined, p: string, c: number, g: number) {
    super();
    this.rdbs = [1, 2, 3].map((i) => this.child(`rdb${i}`, new DenseBlock(file, `${p}.rdb${i}`, c, g)));
  }
  forward(x: Tensor): Tensor {
    const free = !isGradEnabled();
    let h = x;
    for (const r of this.rdbs) {
      const next = r.forward(h);
      if (free && h !== x) h.dispose();
      h = next;
    }
    const s = ops.scale(h, RES_SCALE), y = ops.add(s, x);
    if (free) { h.dispose(); s.dispose(); }
    return y;
  }
}

export class RRDBGenerator extends Module {
  readonly convFirst: Conv2d; readonly blocks: RRDB[]; readonly convBody: Conv2d;
  readonly convUp1: Conv2d; readonly convUp2: Conv2d; readonly convHr: Conv2d; readonly convLast: Conv2d;
  readonly folded: boolean;

  constructor(readonly config: GeneratorConfig, file?: GeneratorTensors) {
    super();
    if (config.scale !== 4 && config.scale !== 2) throw new Error(`RRDBNet x${config.scale}: only the x4 and x2 networks are supported`);
    const c = config.channels, g = growthOf(config), u = rrdbUnshuffle(config);
    this.folded = !!file;
    const conv = (name: string, cin: number, cout: number, scale = 1, shift = 0) =>
      this.child(name, file ? fileConv(file, name, cin, cout, scale, shift) : new Conv2d(cin, cout, 3, { bias: true }));
    this.convFirst = conv('conv_first', 3 * u * u, c);
    this.blocks = Array.from({ length: config.blocks }, (_, i) => this.child(`body.${i}`, new RRDB(file, `body.${i}`, c, g)));
    this.convBody = conv('conv_body', c, c);
    this.convUp1 = conv('conv_up1', c, c);
    this.convUp2 = conv('conv_up2', c, c);
    this.convHr = conv('conv_hr', c, c);
    // [0, 1] -> [-1, 1]: 2 x conv_last - 1 (folded into the inference graph's weights)
    this.convLast = conv('conv_last', c, 3, 2, -1);
  }

  forward(x: Tensor): Tensor { return this.addSkip(x, this.tail(this.body(x))); }

  /**
   * conv_first (after the x2 network's pixel unshuffle), the RRDBs, conv_body plus conv_first's
   * output: [N, H, W, C] at LR (the x2 network: H and W halved).
   */
  body(x: Tensor): Tensor {
    const free = !isGradEnabled();
    const u = rrdbUnshuffle(this.config);
    const xu = u > 1 ? ops.pixelUnshuffle(x, u) : x;
    const feat = this.convFirst.forward(xu);
    if (free && xu !== x) xu.dispose();
    let h = feat;
    for (const b of this.blocks) {
      const next = b.forward(h);
      if (free && h !== feat) h.dispose();
      h = next;
    }
    const out = this.convBody.forward(h, { residual: feat });
    if (free) { if (h !== feat) h.dispose(); feat.dispose(); }
    return out;
  }

  /** Two nearest x2 + conv + LeakyReLU steps, conv_hr + LeakyReLU, conv_last. */
  tail(h: Tensor): Tensor {
    const free = !isGradEnabled();
    let y = h;
    for (const conv of [this.convUp1, this.convUp2]) {
      const u = ops.upsampleNearest2(y);
      if (free && y !== h) y.dispose();
      y = conv.forward(u, { act: 'lrelu', alpha: SLOPE });
      if (free) u.dispose();
    }
    const hr = this.convHr.forward(y, { act: 'lrelu', alpha: SLOPE });
    if (free) y.dispose();
    const out = this.convLast.forward(hr);
    if (free) hr.dispose();
    if (this.folded) return out;
    // the training graph: Real-ESRGAN's [0, 1] output mapped to [-1, 1]
    return ops.add(ops.scale(out, 2), fromArray(new Float32Array(out.size).fill(-1), out.shape));
  }

  /** No global skip: the identity. */
  addSkip(_x: Tensor, y: Tensor): Tensor { return y; }

  /**
   * The body: RRDB_TILE_CONTEXT body pixels (its true cone is wider than any tile); a dense block
   * holds its input, four growth-wide outputs, a partial sum, the RRDB's input and conv_first's
   * output at once (the x2 network: per 2x2 LR pixels, on that grid). The tail's cone: conv_up1
   * after the first nearest x2, conv_up2 after the second, conv_hr and conv_last at 4x; its largest
   * tensor C floats at 4x the body's resolution.
   */
  get tiling(): NetTiling {
    const { channels: c } = this.config, u = rrdbUnshuffle(this.config);
    let lo = -2, hi = 4 - 1 + 2; // the two 3x3 convs at 4x
    for (let i = 0; i < 2; i++) { lo = Math.floor((lo - 1) / 2); hi = Math.floor((hi + 1) / 2); }
    return {
      stride: u, bodyRadius: RRDB_TILE_CONTEXT, bodyBytesPerLrPixel: Math.max(16, (3 * c + 5 * growthOf(this.config)) * 4 / (u * u)),
      tailCone: [lo, hi], tailBytesPerBodyPixel: 16 * c * 4, padHr: 0,
    };
  }
}

/**
 * Multiply-adds per LR pixel: the body at its resolution (LR, or a quarter of its pixels in the x2
 * network), the tail's convs at 2x (conv_up1) and 4x (the rest) of it.
 */
export function rrdbMacsPerLrPixel(cfg: GeneratorConfig): { body: number; tail: number } {
  const c = cfg.channels, g = growthOf(cfg), u = rrdbUnshuffle(cfg);
  let dense = 0;
  for (let k = 1; k <= 5; k++) dense += (c + (k - 1) * g) * (k === 5 ? c : g);
  const body = 9 * (3 * u * u * c + cfg.blocks * 3 * dense + c * c) / (u * u);
  const tail = 9 * (c * c * 4 + c * c * 16 + c * c * 16 + c * 3 * 16) / (u * u);
  return { body, tail };
}

/** Every tensor of an RRDBNet file, name -> shape (PyTorch's OIHW), in BasicSR's order. */
export function rrdbTensorShapes(cfg: GeneratorConfig): Map<string, number[]> {
  const c = cfg.channels, g = growthOf(cfg), m = new Map<string, number[]>();
  const conv = (n: string, cin: number, cout: number) => { m.set(`${n}.weight`, [cout, cin, 3, 3]); m.set(`${n}.bias`, [cout]); };
  conv('conv_first', 3 * rrdbUnshuffle(cfg) ** 2, c);
  for (let i = 0; i < cfg.blocks; i++) for (let r = 1; r <= 3; r++) for (let k = 1; k <= 5; k++) {
    conv(`body.${i}.rdb${r}.conv${k}`, c + (k - 1) * g, k === 5 ? c : g);
  }
  for (const n of ['conv_body', 'conv_up1', 'conv_up2', 'conv_hr']) conv(n, c, c);
  conv('conv_last', c, 3);
  return m;
}

/**
 * ESRGAN's RRDBNet (BasicSR's names: conv_first, body.N.rdbR.convK, conv_body, conv_up1/2, conv_hr,
 * conv_last): channels from conv_first, growth from the first dense conv, blocks from the indices.
 * The x2 variant is told by conv_first's 12 input channels (its input pixel-unshuffled by 2); the x1
 * (48 channels) is refused by name.
 */
export function rrdbConfigFromShapes(entries: ReadonlyMap<string, { shape: number[] }>, file: string): Record<string, unknown> {
  const first = entries.get('conv_first.weight')!.shape;
  // 3 input channels: the x4 network; 12: the x2 one (a pixel unshuffle by 2 first); 48 would be x1
  if (first.length === 4 && first[1] === 48) throw new Error(`${file}: conv_first takes 48 channels: the x1 RRDBNet (a pixel unshuffle by 4) is not supported, only x4 and x2`);
  if (first.length !== 4 || (first[1] !== 3 && first[1] !== 12) || first[2] !== 3 || first[3] !== 3) throw new Error(`${file}: tensor 'conv_first.weight' has shape [${first}], RRDBNet's is [channels, 3, 3, 3] (x4) or [channels, 12, 3, 3] (x2)`);
  const g = entries.get('body.0.rdb1.conv1.weight')?.shape[0] ?? 32;
  const blocks = highestIndex(entries.keys(), /^body\.(\d{1,6})\./) + 1;
  return { arch: 'rrdb', channels: first[0], blocks, growth: g, scale: first[1] === 12 ? 2 : 4 };
}
