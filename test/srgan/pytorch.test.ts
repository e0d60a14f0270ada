// The engine against PyTorch itself: a generator written as a PyTorch module (same names, channels
// 4, 2 blocks, x4), saved with torch.save and run in eval mode on a 7x9 image by PyTorch 1.13
// (test/fixtures/make_pth.py). Loading the .pth and upscaling, whole or in small tiles, must give
// PyTorch's output everywhere, the image edges included (every conv zero-pads its own input).
// (Tiled output equals whole-image output: test/srgan/networks.test.ts; this image is smaller than
// the network's context, so it is one tile.)
import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { testGpu } from '../helpers.js';
import { loadFoldedGenerator, readGeneratorHeader } from '../../src/node/model.js';
import { upscaleTiled } from '../../src/srgan/inference.js';

await testGpu();
const dir = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures');
const pth = join(dir, 'tiny_generator.pth');
const io = JSON.parse(readFileSync(join(dir, 'tiny_generator_io.json'), 'utf8')) as
  { config: object; input_nhwc: number[]; output_nhwc: number[]; width: number; height: number };

describe('a PyTorch generator (.pth) against PyTorch output', () => {
  it('infers the configuration from the state_dict', async () => {
    expect((await readGeneratorHeader(pth)).config).toEqual(io.config);
  });
  {
    it('equals PyTorch\'s eval-mode output at every pixel', async () => {
      const F = await loadFoldedGenerator(pth);
      try {
        const out = await upscaleTiled(F, Float32Array.from(io.input_nhwc), io.width, io.height);
        expect(out.length).toBe(io.output_nhwc.length);
        let worst = 0;
        for (let i = 0; i < out.length; i++) worst = Math.max(worst, Math.abs(out[i] - io.output_nhwc[i]));
        // float32 on both sides, different summation orders (Winograd here): 1.7e-7 measured
        expect(worst).toBeLessThan(2e-5);
      } finally { F.dispose(); }
    });
  }
});
