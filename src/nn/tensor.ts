// Tensor, scopes and the autograd tape.
//
// A Tensor is a shape plus a pooled GPU buffer (float32; 4-D tensors are NHWC). Ops record their
// backward rule on a tape when gradients are on and an input needs one; backward() walks the tape
// in reverse (the recording order is already topological). Every tensor made inside tidy() goes
// back to the pool when tidy() returns, unless it is returned or kept: that is how a training
// step leaves the pool exactly as it found it.
import { gpu } from '../gpu/gpu.js';
import { accumulate as accumulateKernel, add as addKernel, fill as fillKernel } from '../kernels/elementwise.js';

/** Reference-counted GPU storage: views (reshape) share it. */
class Storage {
  refs = 1;
  constructor(public buffer: GPUBuffer) {}
}

export interface TapeNode {
  name: string;
  inputs: Tensor[];
  output: Tensor;
  /** Given dL/d(output), returns dL/d(input) per input (null where no gradient is needed). */
  backward: (gradOut: Tensor) => Array<Tensor | null>;
}

let nextId = 1;

export class Tensor {
  readonly id = nextId++;
  readonly shape: readonly number[];
  readonly size: number;
  private storage: Storage | null;
  requiresGrad: boolean;
  /** Accumulated gradient of a leaf (a parameter); kept across scopes until zeroGrad(). */
  grad: Tensor | null = null;
  /** True for parameters and buffers of modules: never disposed by scopes. */
  persistent = false;
  /** Present when an op produced this tensor with gradients on. */
  node: TapeNode | null = null;

  constructor(shape: readonly number[], buffer: GPUBuffer, requiresGrad = false) {
    this.shape = [...shape];
    this.size = shape.reduce((a, b) => a * b, 1);
    this.storage = new Storage(buffer);
    this.requiresGrad = requiresGrad;
    track(this);
  }

  get buffer(): GPUBuffer {
    if (!this.storage) throw new Error(`tensor #${this.id} [${this.shape}] used after dispose()`);
    return this.storage.buffer;
  }

  get disposed(): boolean { return this.storage === null; }

  /** A tensor of another shape over the same storage (no copy). */
  reshape(shape: readonly number[]): Tensor {
    const size = shape.reduce((a, b) => a * b, 1);
    if (size !== this.size) throw new Error(`reshape [${this.shape}] -> [${shape}]: sizes differ`);
    if (!this.storage) throw new Error('reshape of a disposed tensor');
    const t = Object.create(Tensor.prototype) as Tensor;
    Object.assign(t, {
      id: nextId++, shape: [...shape], size, storage: this.storage, requiresGrad: this.requiresGrad,
      grad: null, persistent: false, node: null,
    });
    this.storage.refs++;
    track(t);
    if (this.requiresGrad && isGradEnabled()) {
      const src = this;
      record({ name: 'reshape', inputs: [src], output: t, backward: (g) => [g.reshape(src.shape)] });
    }
    return t;
  }

  /** The same values with no gradient history (shares storage). */
  detach(): Tensor {
    return noGrad(() => {
      const t = this.reshape(this.shape);
      t.requiresGrad = false;
      return t;
    });
  }

  dispose(): void {
    if (!this.storage) return;
    if (--this.storage.refs === 0) gpu().pool.release(this.storage.buffer);
    this.storage = null;
    if (this.grad && !this.grad.persistent) { this.grad.dispose(); }
    this.grad = null;
  }

  /** Marks this tensor as outliving every scope (parameters, running statistics, Adam state). */
  keep(): this {
    this.persistent = true;
    for (const s of scopes) s.delete(this);
    return this;
  }

  /** Reads the values back (waits for the GPU). */
  async data(): Promise<Float32Array> {
    return new Float32Array(await gpu().read(this.buffer, this.size * 4));
  }

  async item(): Promise<number> {
    return (await this.data())[0];
  }

  toString(): string { return `Tensor#${this.id}[${this.shape.join('x')}]`; }
}

// ---- creation ----------------------------------------------------------------------------

export function empty(shape: readonly number[], requiresGrad = false): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return new Tensor(shape, gpu().pool.acquire(Math.max(4, n * 4)), requiresGrad);
}

export function fromArray(data: ArrayLike<number>, shape: readonly number[], requiresGrad = false): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  if (data.length !== n) throw new Error(`fromArray: ${data.length} values for shape [${shape}]`);
  const t = empty(shape, requiresGrad);
  gpu().write(t.buffer, data instanceof Float32Array ? data : Float32Array.from(data));
  return t;
}

export function full(shape: readonly number[], value: number, requiresGrad = false): Tensor {
  const t = empty(shape, requiresGrad);
  fillKernel(gpu(), t.buffer, t.size, value);
  return t;
}

export const zeros = (shape: readonly number[], requiresGrad = false): Tensor => full(shape, 0, requiresGrad);

// ---- scopes ------------------------------------------------------------------------------

const scopes: Array<Set<Tensor>> = [];

function track(t: Tensor): void {
  if (scopes.length) scopes[scopes.length - 1].add(t);
}

/** Collects the tensors reachable from a value returned by a scope. */
function collect(v: unknown, out: Set<Tensor>): void {
  if (v instanceof Tensor) out.add(v);
  else if (Array.isArray(v)) for (const x of v) collect(x, out);
  else if (v && typeof v === 'object' && v.constructor === Object) for (const x of Object.values(v)) collect(x, out);
}

/**
 * Runs fn; every tensor created inside and not returned (or kept) is disposed when it returns.
 * Returned tensors move to the enclosing scope. fn must be synchronous.
 */
export function tidy<T>(fn: () => T): T {
  const scope = new Set<Tensor>();
  scopes.push(scope);
  let result: T;
  try {
    result = fn();
  } finally {
    scopes.pop();
  }
  const keepSet = new Set<Tensor>();
  collect(result!, keepSet);
  for (const t of scope) {
    if (keepSet.has(t) || t.persistent) continue;
    t.dispose();
  }
  // The outermost scope ends a step: its graph refers to disposed tensors, so forget it.
  // (Call backward() inside the tidy() that ran the forward pass.)
  if (scopes.length === 0) clearTape();
  for (const t of keepSet) track(t);
  return result!;
}

// ---- autograd ------------------------------------------------------------------------------

const tape: TapeNode[] = [];
let gradDepth = 0; // > 0 inside noGrad()

export const isGradEnabled = (): boolean => gradDepth === 0;

/** Runs fn with gradient recording off (inference, targets, running statistics). */
export function noGrad<T>(fn: () => T): T {
  gradDepth++;
  try {
    return fn();
  } finally {
    gradDepth--;
  }
}

/** True if an op on these inputs must be recorded. */
export function needsGrad(...inputs: Array<Tensor | null | undefined>): boolean {
  return gradDepth === 0 && inputs.some((t) => t?.requiresGrad);
}

export function record(node: TapeNode): void {
  node.output.requiresGrad = true;
  node.output.node = node;
  tape.push(node);
}

/** Forgets the recorded graph (after backward, or to abandon a step). */
export function clearTape(): void {
  for (const n of tape) n.output.node = null;
  tape.length = 0;
}

function addGrad(a: Tensor, b: Tensor): Tensor {
  const out = empty(a.shape);
  addKernel(gpu(), a.buffer, b.buffer, out.buffer, a.size);
  return out;
}

/**
 * Reverse-mode differentiation of a scalar (or of `root` seeded with `seed`). Leaves that require
 * gradients (parameters) accumulate into .grad; frozen leaves receive none, but gradients still
 * flow through the ops that use them. Clears the tape.
 */
export function backward(root: Tensor, seed?: Tensor): void {
  if (!root.requiresGrad) throw new Error('backward(): the tensor does not depend on anything that requires a gradient');
  const grads = new Map<Tensor, Tensor>();
  grads.set(root, seed ?? full(root.shape, 1));
  noGrad(() => {
    for (let i = tape.length - 1; i >= 0; i--) {
      const node = tape[i];
      const gOut = grads.get(node.output);
      if (!gOut) continue;
      const gIns = node.backward(gOut);
      node.inputs.forEach((inp, k) => {
        const gi = gIns[k];
        if (!gi || !inp.requiresGrad) return;
        if (inp.node) {
          // interior tensor: sum contributions (a tensor used twice, e.g. a residual input)
          const prev = grads.get(inp);
          grads.set(inp, prev ? addGrad(prev, gi) : gi);
        } else if (inp.persistent) {
          // leaf parameter: accumulate into .grad, which outlives the step's scope
          if (inp.grad) accumulateKernel(gpu(), inp.grad.buffer, gi.buffer, inp.size);
          else {
            const own = empty(inp.shape);
            copyInto(gi, own);
            inp.grad = own.keep();
          }
        } else {
          const prev = grads.get(inp);
          grads.set(inp, prev ? addGrad(prev, gi) : gi);
          inp.grad = grads.get(inp)!;
        }
      });
    }
  });
  clearTape();
}

function copyInto(src: Tensor, dst: Tensor): void {
  gpu().copy(src.buffer, 0, dst.buffer, 0, src.size * 4);
}
