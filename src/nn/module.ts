// Modules: named parameters and buffers in PyTorch-style dotted paths, train/eval mode, freezing.
import { Tensor, fromArray, full } from './tensor.js';
import { rng } from './random.js';

/**
 * How a parameter is stored on disk, in PyTorch's conventions, versus inside the engine.
 * - 'plain': same layout.
 * - 'conv': engine HWIO [K,K,Cin,Cout] <-> disk OIHW [Cout,Cin,K,K].
 * - 'dense': engine [in,out] <-> disk [out,in].
 * - 'dense-chw': like 'dense', and the engine's inputs are an NHWC flatten (h,w,c) while the disk
 *   order is PyTorch's flatten of NCHW (c,h,w); `chw` gives [C,H,W].
 */
export type DiskLayout =
  | { kind: 'plain' }
  | { kind: 'conv' }
  | { kind: 'dense' }
  | { kind: 'dense-chw'; chw: [number, number, number] };

export interface Entry {
  tensor: Tensor;
  layout: DiskLayout;
}

export abstract class Module {
  training = true;
  private readonly _params = new Map<string, Entry>();
  private readonly _buffers = new Map<string, Entry>();
  private readonly _children = new Map<string, Module>();

  protected param(name: string, t: Tensor, layout: DiskLayout = { kind: 'plain' }): Tensor {
    t.requiresGrad = true;
    t.keep();
    this._params.set(name, { tensor: t, layout });
    return t;
  }

  protected buffer(name: string, t: Tensor): Tensor {
    t.keep();
    this._buffers.set(name, { tensor: t, layout: { kind: 'plain' } });
    return t;
  }

  protected child<M extends Module>(name: string, m: M): M {
    this._children.set(name, m);
    return m;
  }

  abstract forward(x: Tensor): Tensor;

  /** Parameters as [dotted name, entry], depth first in registration order. */
  namedParameters(prefix = ''): Array<[string, Entry]> {
    const out: Array<[string, Entry]> = [];
    for (const [n, e] of this._params) out.push([prefix + n, e]);
    for (const [n, c] of this._children) out.push(...c.namedParameters(`${prefix}${n}.`));
    return out;
  }

  namedBuffers(prefix = ''): Array<[string, Entry]> {
    const out: Array<[string, Entry]> = [];
    for (const [n, e] of this._buffers) out.push([prefix + n, e]);
    for (const [n, c] of this._children) out.push(...c.namedBuffers(`${prefix}${n}.`));
    return out;
  }

  /** Parameters and buffers together, the contents of a checkpoint. */
  stateEntries(): Array<[string, Entry]> {
    return [...this.namedParameters(), ...this.namedBuffers()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  }

  parameters(): Tensor[] {
    return this.namedParameters().map(([, e]) => e.tensor);
  }

  parameterCount(): number {
    return this.parameters().reduce((a, t) => a + t.size, 0);
  }

  children(): Array<[string, Module]> {
    return [...this._children];
  }

  /** Training mode (batch statistics) or evaluation mode (running statistics). */
  train(on = true): this {
    this.training = on;
    for (const c of this._children.values()) c.train(on);
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  /** Frozen parameters receive no gradient; gradients still flow through them to the input. */
  setRequiresGrad(on: boolean): this {
    for (const p of this.parameters()) p.requiresGrad = on;
    return this;
  }

  zeroGrad(): void {
    for (const p of this.parameters()) {
      if (p.grad) {
        p.grad.persistent = false;
        p.grad.dispose();
        p.grad = null;
      }
    }
  }

  /** Releases every parameter and buffer. */
  dispose(): void {
    this.zeroGrad();
    for (const [, e] of [...this.namedParameters(), ...this.namedBuffers()]) e.tensor.dispose();
  }
}

/** A module made of sub-modules applied in order. */
export class Sequential extends Module {
  private readonly layers: Module[];
  constructor(layers: Module[]) {
    super();
    this.layers = layers.map((m, i) => this.child(String(i), m));
  }
  forward(x: Tensor): Tensor {
    let y = x;
    for (const m of this.layers) y = m.forward(y);
    return y;
  }
}

/** PyTorch's default init for conv and linear: U(-1/sqrt(fan_in), 1/sqrt(fan_in)). */
export function uniformInit(shape: number[], fanIn: number, seed: number): Tensor {
  return icnrInit(shape, fanIn, seed, 1);
}

/**
 * uniformInit's distribution with the last axis in runs of `group` equal values: ICNR (Aitken et
 * al. 2017) for a conv before a pixel shuffle by r (group r^2, channel c * r^2 + k feeding sub-pixel k
 * of output channel c): the conv and shuffle start as a conv at the low resolution followed by
 * nearest-neighbour upsampling, so training does not start from a checkerboard.
 */
export function icnrInit(shape: number[], fanIn: number, seed: number, group: number): Tensor {
  const n = shape.reduce((a, b) => a * b, 1), last = shape[shape.length - 1];
  if (last % group) throw new Error(`icnrInit: last axis ${last} is not a multiple of ${group}`);
  const r = rng(seed);
  const bound = 1 / Math.sqrt(fanIn);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i += group) data.fill((2 * r() - 1) * bound, i, i + group);
  return fromArray(data, shape);
}

export function constant(shape: number[], v: number): Tensor {
  return full(shape, v);
}
