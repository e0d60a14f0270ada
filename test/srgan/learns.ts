// A generator's training graph learns: L1 steps on one fixed batch whose target is a learnable map
// of the input (each LR pixel's colour, through `map`, repeated over its 4x4 block); returns the
// losses. Shared by the architectures' tests (compact, RRDBNet).
import { Adam } from '../../src/nn/adam.js';
import { fromArray } from '../../src/nn/tensor.js';
import { srresnetStep } from '../../src/srgan/steps.js';
import type { AnyGenerator } from '../../src/srgan/generator.js';
import { rng } from '../helpers.js';

export async function l1Steps(G: AnyGenerator, size: number, steps: number, seed: number,
  map: (rgb: Float32Array, c: number) => number): Promise<number[]> {
  const r = rng(seed), B = 2, k = G.config.scale, S = k * size;
  const lr = new Float32Array(B * size * size * 3).map(() => r());
  const hr = new Float32Array(B * S * S * 3);
  for (let n = 0; n < B; n++) for (let y = 0; y < S; y++) for (let x = 0; x < S; x++) {
    const i = ((n * size + Math.floor(y / k)) * size + Math.floor(x / k)) * 3;
    for (let c = 0; c < 3; c++) hr[((n * S + y) * S + x) * 3 + c] = map(lr.subarray(i, i + 3), c);
  }
  const opt = new Adam(G.parameters(), { lr: 1e-3 });
  const losses: number[] = [];
  for (let i = 0; i < steps; i++) {
    const [a, b] = [fromArray(lr, [B, size, size, 3]), fromArray(hr, [B, S, S, 3])];
    const [l] = srresnetStep({ G, optG: opt, pixelLoss: 'l1' }, a, b);
    losses.push(await l.item()); l.dispose(); a.dispose(); b.dispose();
  }
  opt.dispose();
  return losses;
}
