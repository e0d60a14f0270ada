// The engine end to end: autograd over real kernels, scopes, the pool, Adam, state I/O.
import { describe, it, expect, beforeAll } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { testGpu, uniform, expectClose } from '../helpers.js';
import type { Gpu } from '../../src/gpu/gpu.js';
import { Tensor, fromArray, backward, tidy, noGrad } from '../../src/nn/tensor.js';
import * as ops from '../../src/nn/ops.js';
import { Module, Sequential } from '../../src/nn/module.js';
import { Conv2d, BatchNorm2d, PReLU, PixelShuffle, Tanh, setInitSeed } from '../../src/nn/layers.js';
import { Adam } from '../../src/nn/adam.js';
import { saveModule, loadModule } from '../../src/node/state.js';

let g: Gpu;
beforeAll(async () => { g = await testGpu(); });

describe('autograd', () => {
  it('accumulates the gradient of a tensor used twice (residual) and matches finite differences', async () => {
    // f(x) = sum(r * (tanh(x) + x * x)), used twice: df/dx = r * (1 - tanh^2) + 2 r x
    const n = 37;
    const xv = uniform(n, 1), rv = uniform(n, 2);
    await tidy(() => {
      const x = fromArray(xv, [n], true);
      const r = fromArray(rv, [n]);
      const y = ops.add(ops.tanh(x), ops.mul(x, x));
      const loss = ops.mean(ops.mul(y, r));
      backward(loss);
      return x.grad!.data();
    }).then((gx) => {
      const want = Array.from(xv, (x, i) => (rv[i] * (1 - Math.tanh(x) ** 2) + 2 * rv[i] * x) / n);
      expectClose(gx, want, 1e-4, 1e-6, 'dx');
    });
  });

  it('frozen parameters receive no gradient but pass it through', async () => {
    setInitSeed(3);
    const conv = new Conv2d(3, 4, 3);
    conv.setRequiresGrad(false);
    const res = tidy(() => {
      const x = fromArray(uniform(2 * 5 * 5 * 3, 4), [2, 5, 5, 3], true);
      backward(ops.mean(conv.forward(x)));
      return { dx: x.grad };
    });
    expect(conv.weight.grad).toBeNull();
    expect(res.dx).not.toBeNull();
    conv.dispose();
  });

  it('noGrad records nothing', () => {
    const x = fromArray([1, 2, 3], [3], true);
    const y = noGrad(() => ops.tanh(x));
    expect(y.requiresGrad).toBe(false);
    x.dispose(); y.dispose();
  });
});

class TinySR extends Module {
  net: Sequential;
  constructor() {
    super();
    this.net = this.child('net', new Sequential([
      new Conv2d(3, 8, 3), new BatchNorm2d(8), new PReLU(8), new Conv2d(8, 12, 3), new PixelShuffle(2), new Conv2d(3, 3, 3), new Tanh(),
    ]));
  }
  forward(x: Tensor): Tensor { return this.net.forward(x); }
}

describe('training a small network', () => {
  it('overfits a fixed batch with Adam (loss falls >= 10x) without growing the pool', async () => {
    setInitSeed(7);
    const m = new TinySR();
    const opt = new Adam(m.parameters(), { lr: 1e-2 });
    const xv = uniform(2 * 6 * 5 * 3, 11, 0, 1), yv = uniform(2 * 12 * 10 * 3, 12, -0.8, 0.8);
    const losses: number[] = [];
    let allocatedAfterFirst = 0;
    for (let step = 0; step < 120; step++) {
      const loss = tidy(() => {
        const l = ops.mseLoss(m.forward(fromArray(xv, [2, 6, 5, 3])), fromArray(yv, [2, 12, 10, 3]));
        m.zeroGrad();
        backward(l);
        opt.update();
        return l;
      });
      losses.push(await loss.item());
      loss.dispose();
      if (step === 0) allocatedAfterFirst = g.pool.allocatedBytes;
      if (step > 0 && step <= 20) expect(g.pool.allocatedBytes).toBe(allocatedAfterFirst);
    }
    expect(losses[losses.length - 1]).toBeLessThan(losses[0] / 10);
    expect(losses.every(Number.isFinite)).toBe(true);
    opt.dispose();
    m.dispose();
  });
});

describe('state I/O', () => {
  it('round-trips every parameter and buffer bit for bit, and rejects a corrupted file', async () => {
    setInitSeed(9);
    const a = new TinySR();
    // make the BN running stats non-trivial
    tidy(() => { a.forward(fromArray(uniform(2 * 6 * 5 * 3, 5), [2, 6, 5, 3])); });
    const dir = mkdtempSync(join(tmpdir(), 'srgan-state-'));
    const file = join(dir, 'm.safetensors');
    await saveModule(file, a, { note: 'test' });
    setInitSeed(10);
    const b = new TinySR();
    const meta = await loadModule(file, b);
    expect(meta.note).toBe('test');
    const ea = a.stateEntries(), eb = b.stateEntries();
    expect(eb.map(([n]) => n)).toEqual(ea.map(([n]) => n));
    for (let i = 0; i < ea.length; i++) {
      const [va, vb] = [await ea[i][1].tensor.data(), await eb[i][1].tensor.data()];
      expect(Buffer.from(vb.buffer).equals(Buffer.from(va.buffer))).toBe(true);
    }
    expect(ea.map(([n]) => n)).toContain('net.1.running_var');
    const bytes = readFileSync(file);
    writeFileSync(join(dir, 'cut.safetensors'), bytes.subarray(0, bytes.length - 10));
    await expect(loadModule(join(dir, 'cut.safetensors'), b)).rejects.toThrow(/cut\.safetensors/);
    await expect(loadModule(join(dir, 'missing.safetensors'), b)).rejects.toThrow(/no such file/);
    a.dispose(); b.dispose();
  });
});
