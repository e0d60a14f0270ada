// The models shipped in models/: each loads by name, has its card, and does on real photographs
// what its card says, measured against independent references (bicubic of the same LR, and HR):
// `srresnet` beats bicubic's Y-PSNR; `srgan` makes texture (Y gradient energy towards HR's) that
// `srresnet` does not, stays near bicubic's Y-PSNR, and draws no 4-pixel grid; `realworld` takes
// the JPEG block grid away where `srgan` redraws it, within issue 26's fidelity and texture bars. Crops of Set14 (never
// used in training) keep it quick; the full figures are in each card.
import { beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadFoldedGenerator, modelPath } from '../../src/node/model.js';
import { DEFAULT_MODEL, SHIPPED_MODELS } from '../../src/srgan/model.js';
import { cropImage } from '../../src/image/pixels.js';
import { readImage, writeImage } from '../../src/node/image-files.js';
import { evaluateFolder } from '../../src/train/evaluate.js';
import { testGpu } from '../helpers.js';

beforeAll(async () => { await testGpu(); });

const SET14 = fileURLToPath(new URL('../../../shared/data/Set14/', import.meta.url));

/** A folder of HR crops (x, y, w, h: multiples of 4) of Set14 images. */
async function crops(list: Array<[string, number, number, number, number]>): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'srgan-shipped-'));
  for (const [name, x, y, w, h] of list) await writeImage(join(dir, `${name}-${x}-${y}.png`), cropImage(await readImage(join(SET14, `${name}.png`)), x, y, w, h));
  return dir;
}

describe('shipped models', () => {
  it('each loads by name and has its card; the default is one of them', async () => {
    expect(Object.keys(SHIPPED_MODELS)).toContain(DEFAULT_MODEL);
    for (const name of Object.keys(SHIPPED_MODELS)) {
      const path = modelPath(name);
      expect(existsSync(join(dirname(path), `${name}.md`)), `models/${name}.md`).toBe(true);
      const F = await loadFoldedGenerator(path);
      expect(F.config.scale).toBe(4);
      F.dispose();
    }
  });

  it('srgan: texture srresnet lacks, Y-PSNR near bicubic, no grid (Set14 crops of fur, grass, foliage)', async () => {
    const dir = await crops([['baboon', 20, 280, 192, 192], ['zebra', 140, 140, 256, 192], ['flowers', 200, 100, 192, 192]]);
    const r = async (name: string) => {
      const F = await loadFoldedGenerator(modelPath(name));
      try { return await evaluateFolder(F, dir, 4); } finally { F.dispose(); }
    };
    const res = await r('srresnet'), gan = await r('srgan');
    expect(res.mean.psnrY).toBeGreaterThan(res.bicubicMean.psnrY + 0.2);
    for (const row of gan.rows) {
      // more of HR's texture than srresnet and bicubic on each crop, not more than HR has
      const other = res.rows.find((x) => x.name === row.name)!;
      expect(row.model.texture, row.name).toBeGreaterThan(other.model.texture + 0.1);
      expect(row.model.texture, row.name).toBeGreaterThan(row.bicubic.texture + 0.2);
      expect(row.model.texture, row.name).toBeLessThan(1.25);
      // a periodic pattern would push the grid share far above HR's own
      expect(row.model.grid, row.name).toBeLessThan(row.hrGrid + 0.1);
    }
    expect(gan.mean.psnrY).toBeGreaterThan(gan.bicubicMean.psnrY - 1.5);
  }, 300_000);

  it('realworld: on JPEG 75 thumbnails the block grid recedes where srgan redraws it, fidelity near bicubic; texture kept on clean input (Set14 crops)', async () => {
    const dir = await crops([['baboon', 20, 280, 192, 192], ['zebra', 140, 140, 256, 192], ['flowers', 200, 100, 192, 192], ['lenna', 200, 200, 192, 192]]);
    const r = async (name: string, degrade: 'bicubic' | 'jpeg75') => {
      const F = await loadFoldedGenerator(modelPath(name));
      try { return await evaluateFolder(F, dir, 4, {}, undefined, undefined, { degrade }); } finally { F.dispose(); }
    };
    const rw = await r('realworld', 'jpeg75'), gan = await r('srgan', 'jpeg75');
    // the grid of the LR's 8x8 blocks, redrawn at x4 (1.00 = none): below bicubic's and srgan's
    expect(rw.mean.block).toBeLessThan(rw.bicubicMean.block);
    expect(rw.mean.block).toBeLessThan(gan.mean.block - 0.1);
    // issue 26's bars: Y-PSNR within 0.5 dB of bicubic's on the JPEG input, within 1 dB on the clean one
    expect(rw.mean.psnrY).toBeGreaterThan(rw.bicubicMean.psnrY - 0.5);
    const clean = await r('realworld', 'bicubic');
    expect(clean.mean.psnrY).toBeGreaterThan(clean.bicubicMean.psnrY - 1);
    // and texture on the clean input: at least 0.6 of HR's mean gradient, more than bicubic's
    expect(clean.mean.texture).toBeGreaterThan(0.6);
    expect(clean.mean.texture).toBeGreaterThan(clean.bicubicMean.texture + 0.1);
  }, 300_000);
});
