// Frozen ImageNet VGG19 feature extractor for the perceptual (content) loss.
// VGG54: conv5_4 after its ReLU (before the 5th pool); VGG22: conv2_2 after its ReLU; VGG34: conv3_4
// after its ReLU (eval.js's perceptual distance: the layers whose exact float32 weights exist).
// Weights come from a TensorFlow.js layers model (Keras VGG19: BGR, mean-subtracted 0..255 input)
// or from safetensors with torchvision names (RGB normalised by ImageNet mean/std). Each brings its
// own preprocessing, applied as a frozen 1x1 convolution so gradients flow through it.
import { gpu } from '../gpu/gpu.js';
import { Module } from '../nn/module.js';
import { Conv2d } from '../nn/layers.js';
import * as ops from '../nn/ops.js';
import type { Tensor } from '../nn/tensor.js';
import { oihwToHwio } from '../nn/safetensors.js';

export type VggLayer = 'vgg54' | 'vgg34' | 'vgg22';
export const VGG_LAYERS: readonly VggLayer[] = ['vgg34', 'vgg22', 'vgg54'];

/** VGG19's conv layers: [block, index in block, channels]. */
export const VGG19_CONVS: Array<[number, number, number]> = [
  [1, 1, 64], [1, 2, 64],
  [2, 1, 128], [2, 2, 128],
  [3, 1, 256], [3, 2, 256], [3, 3, 256], [3, 4, 256],
  [4, 1, 512], [4, 2, 512], [4, 3, 512], [4, 4, 512],
  [5, 1, 512], [5, 2, 512], [5, 3, 512], [5, 4, 512],
];
/** torchvision's vgg19().features index of each conv above. */
export const TORCHVISION_INDEX = [0, 2, 5, 7, 10, 12, 14, 16, 19, 21, 23, 25, 28, 30, 32, 34];

export type VggPreprocess = 'keras-bgr' | 'torch-rgb';
/** One weight tensor as float32 values and its shape. */
export interface VggTensor { shape: readonly number[]; data: Float32Array }

export class VGG19Features extends Module {
  readonly pre: Conv2d;
  readonly convs: Conv2d[] = [];
  readonly names: string[] = [];

  constructor(readonly layer: VggLayer = 'vgg54') {
    super();
    this.pre = this.child('preprocess', new Conv2d(3, 3, 1));
    let cin = 3;
    const last = { vgg54: 16, vgg34: 8, vgg22: 4 }[layer];
    for (const [b, i, c] of VGG19_CONVS.slice(0, last)) {
      const name = `block${b}_conv${i}`;
      this.convs.push(this.child(name, new Conv2d(cin, c, 3)));
      this.names.push(name);
      cin = c;
    }
    this.setRequiresGrad(false);
    this.eval();
  }

  /** Sets the input mapping from a [-1,1] RGB image to what the weights expect. */
  setPreprocess(kind: VggPreprocess): void {
    const w = new Float32Array(9); // HWIO with K=1: [cin, cout]
    const b = new Float32Array(3);
    if (kind === 'keras-bgr') {
      const meanBgr = [103.939, 116.779, 123.68];
      for (let o = 0; o < 3; o++) { w[(2 - o) * 3 + o] = 127.5; b[o] = 127.5 - meanBgr[o]; }
    } else {
      const mean = [0.485, 0.456, 0.406], std = [0.229, 0.224, 0.225];
      for (let c = 0; c < 3; c++) { w[c * 3 + c] = 0.5 / std[c]; b[c] = (0.5 - mean[c]) / std[c]; }
    }
    gpu().write(this.pre.weight.buffer, w);
    gpu().write(this.pre.bias!.buffer, b);
  }

  /** The smallest image side that keeps a pixel at the last layer: 2^(max-pools before it). */
  get minSide(): number {
    return 2 ** (VGG19_CONVS[this.convs.length - 1][0] - 1);
  }

  /**
   * Features of an image NHWC in [-1,1]. `upTo` (e.g. 'block1_conv2') stops early, returning that
   * layer's output after its ReLU.
   */
  forward(x: Tensor, upTo?: string, beforeRelu = false): Tensor {
    let h = this.pre.forward(x);
    for (let i = 0; i < this.convs.length; i++) {
      if (i > 0 && VGG19_CONVS[i][1] === 1) h = ops.maxPool2(h);
      const c = this.convs[i].forward(h);
      // ESRGAN's content loss reads the last conv before its ReLU (the features are richer there)
      h = beforeRelu && i === this.convs.length - 1 && !upTo ? c : ops.relu(c);
      if (upTo === this.names[i]) return h;
    }
    if (upTo && !this.names.includes(upTo)) throw new Error(`VGG19 (${this.layer}) has no layer ${upTo}`);
    return h;
  }

  /**
   * Sets ImageNet weights from tensors already read (src/node/vgg-files.ts reads them from disk):
   * Keras names (`block1_conv1/kernel`, HWIO) from a TensorFlow.js model, or torchvision's
   * (`features.0.weight`, OIHW) from safetensors. `source` names the file in errors.
   */
  setWeights(tensors: Map<string, VggTensor>, naming: 'keras' | 'torchvision', source: string): void {
    this.convs.forEach((conv, i) => {
      const name = this.names[i];
      const keras = naming === 'keras';
      const wk = keras ? `${name}/kernel` : `features.${TORCHVISION_INDEX[i]}.weight`;
      const bk = keras ? `${name}/bias` : `features.${TORCHVISION_INDEX[i]}.bias`;
      const w = tensors.get(wk), b = tensors.get(bk);
      if (!w || !b) {
        throw new Error(keras
          ? `${source}: VGG19 weights incomplete: no ${name} (a ${this.layer.toUpperCase()} loss needs block1_conv1..${this.names[this.names.length - 1]})`
          : `${source}: VGG19 weights incomplete: no ${!w ? wk : bk}`);
      }
      const want = keras ? [3, 3, conv.cin, conv.cout] : [conv.cout, conv.cin, 3, 3];
      if (w.shape.join() !== want.join()) throw new Error(`${source}: ${wk} has shape [${w.shape}], expected [${want}]`);
      if (b.data.length !== conv.cout) throw new Error(`${source}: ${bk} has ${b.data.length} values, expected ${conv.cout}`);
      // Keras kernels are [kh,kw,in,out]: the engine's layout; torchvision's are [out,in,kh,kw]
      gpu().write(conv.weight.buffer, keras ? w.data : oihwToHwio(w.data, 3, conv.cin, conv.cout));
      gpu().write(conv.bias!.buffer, b.data);
    });
    this.setPreprocess(naming === 'keras' ? 'keras-bgr' : 'torch-rgb');
  }
}
