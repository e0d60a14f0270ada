// The library API (src/node/index.ts over src/srgan/upscaler.ts): RGBA in, RGBA out, equal to the
// tiler the CLI uses; progress; abort frees what it held; models as names, paths and bytes.
import { afterAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { upscale, createUpscaler, close } from '../src/node/index.js';
import { gpu } from '../src/gpu/gpu.js';
import { loadFoldedGenerator, defaultModelPath } from '../src/node/model.js';
import { upscaleTiled } from '../src/srgan/inference.js';
import { cachedUpscale } from '../src/srgan/upscaler.js';
import { getGpu } from '../src/node/gpu.js';

afterAll(() => close());

function image(w: number, h: number, alpha = 255) {
  const data = new Uint8ClampedArray(w * h * 4);
  for (let i = 0; i < w * h; i++) {
    data[i * 4] = (i * 7) & 255; data[i * 4 + 1] = (i * 13 + 50) & 255; data[i * 4 + 2] = (i * 3) & 255;
    data[i * 4 + 3] = alpha === 255 ? 255 : (i * 29) & 255;
  }
  return { width: w, height: h, data };
}

describe('library', () => {
  it('upscales RGBA like the CLI path, with progress', async () => {
    const img = image(13, 9);
    const steps: number[][] = [];
    const out = await upscale(img, { onProgress: (d, t) => steps.push([d, t]) });
    expect([out.width, out.height, out.data.length]).toEqual([52, 36, 52 * 36 * 4]);
    expect(steps[0]).toEqual([0, 1]);
    expect(steps.at(-1)).toEqual([1, 1]);
    const G = await loadFoldedGenerator(defaultModelPath());
    const rgb = new Float32Array(13 * 9 * 3);
    for (let i = 0; i < 13 * 9; i++) for (let c = 0; c < 3; c++) rgb[i * 3 + c] = img.data[i * 4 + c] / 255;
    const sr = await upscaleTiled(G, rgb, 13, 9);
    G.dispose();
    for (let i = 0; i < 52 * 36; i++) {
      for (let c = 0; c < 3; c++) expect(out.data[i * 4 + c]).toBe(Math.round(Math.min(1, Math.max(0, (sr[i * 3 + c] + 1) / 2)) * 255));
      expect(out.data[i * 4 + 3]).toBe(255);
    }
  });

  it('carries alpha (bicubic), takes models as bytes and paths, and checks its input', async () => {
    const path = fileURLToPath(new URL('../models/srresnet.safetensors', import.meta.url));
    const u = await createUpscaler({ model: new Uint8Array(readFileSync(path)) });
    const v = await createUpscaler({ model: path });
    const img = image(8, 6, 0);
    const a = await u.upscale(img), b = await v.upscale(img);
    expect(a.data).toEqual(b.data);
    expect(new Set(Array.from({ length: 32 * 24 }, (_, i) => a.data[i * 4 + 3])).size).toBeGreaterThan(10);
    await expect(u.upscale({ width: 4, height: 4, data: new Uint8ClampedArray(10) })).rejects.toThrow(/RGBA/);
    u.dispose(); v.dispose();
    await expect(createUpscaler({ model: 'no-such-model' })).rejects.toThrow(/model 'no-such-model': no such shipped model \(shipped: realworld, srgan, srresnet, or 'default'\)/);
    await expect(createUpscaler({ model: new Uint8Array(16) })).rejects.toThrow();
    // the tile rule in the library's words (no command-line flag named), as upscale.js states it with --tile
    await expect(createUpscaler({ model: 'srresnet', tile: 30 })).rejects.toThrow(/^tile 30 is too small: each tile carries 19 LR pixels of context on every side, so it must exceed 38$/);
  });

  it('an aborted signal rejects with AbortError and leaves no GPU memory in use', async () => {
    const u = await createUpscaler({ tile: 48 });
    const before = gpu().pool.inUseBytes;
    const ac = new AbortController();
    let calls = 0;
    const p = u.upscale(image(90, 70), { signal: ac.signal, onProgress: (d) => { calls++; if (d === 1) ac.abort(); } });
    await expect(p).rejects.toMatchObject({ name: 'AbortError' });
    expect(calls).toBe(2); // 0 and 1 of several tiles: the rest never ran
    expect(gpu().pool.inUseBytes).toBe(before);
    const pre = new AbortController(); pre.abort();
    await expect(u.upscale(image(4, 4), { signal: pre.signal })).rejects.toMatchObject({ name: 'AbortError' });
    // and the upscaler still works afterwards
    expect((await u.upscale(image(5, 5))).width).toBe(20);
    u.dispose();
  });

  it('refuses what it cannot read as RGBA bytes with a TypeError naming the field (issue 29, class 3)', async () => {
    const u = await createUpscaler({ model: 'srresnet' });
    const cases: Array<[unknown, RegExp]> = [
      [{ width: 2, height: 2, data: new Uint16Array(16).fill(40000) }, /^upscale: image\.data must be a Uint8ClampedArray or Uint8Array of RGBA bytes \(as ImageData holds\), got Uint16Array$/],
      [{ width: 2, height: 2, data: new Float32Array(16).fill(0.5) }, /got Float32Array$/],
      [{ width: 2, height: 2, data: Array(16).fill(0) }, /got Array$/],
      [{ width: 2.5, height: 2, data: new Uint8Array(20) }, /^upscale: image\.width and image\.height must be positive integers, got 2\.5x2$/],
      [null, /^upscale: image must be an ImageData-like object/],
    ];
    for (const [img, re] of cases) {
      await expect(u.upscale(img as never)).rejects.toThrow(TypeError);
      await expect(u.upscale(img as never)).rejects.toThrow(re);
      await expect(upscale(img as never, { model: 'srresnet' })).rejects.toThrow(re); // before any model is loaded
    }
    u.dispose();
  });

  it('honours its signal from the first await: a model that never arrives does not hold the caller', async () => {
    // a platform whose model source stalls (a URL that never answers)
    const stalled = cachedUpscale({ openGpu: () => getGpu(), loadModel: () => new Promise(() => {}) });
    const ac = new AbortController();
    const t0 = performance.now();
    setTimeout(() => ac.abort(), 50);
    await expect(stalled(image(4, 4), { model: 'https://example.invalid/m.safetensors', signal: ac.signal })).rejects.toMatchObject({ name: 'AbortError' });
    expect(performance.now() - t0).toBeLessThan(2000);
    const pre = new AbortController(); pre.abort();
    await expect(stalled(image(4, 4), { model: 'https://example.invalid/other.safetensors', signal: pre.signal })).rejects.toMatchObject({ name: 'AbortError' });
  });

  it("takes an ncnn model: a .param path (its .bin beside it) or both files' bytes, equal to the CLI's loader", async () => {
    const param = fileURLToPath(new URL('fixtures/compact_x4.param', import.meta.url));
    const img = image(11, 9);
    const byPath = await upscale(img, { model: param });
    const byBytes = await upscale(img, { model: { param: readFileSync(param), bin: readFileSync(param.replace(/\.param$/, '.bin')), name: 'compact_x4' } });
    expect(byBytes.data).toEqual(byPath.data);
    const G = await loadFoldedGenerator(param);
    const rgb = new Float32Array(11 * 9 * 3);
    for (let i = 0; i < 11 * 9; i++) for (let c = 0; c < 3; c++) rgb[i * 3 + c] = img.data[i * 4 + c] / 255;
    const sr = await upscaleTiled(G, rgb, 11, 9);
    G.dispose();
    for (let i = 0; i < 44 * 36 * 3; i++) expect(byPath.data[Math.floor(i / 3) * 4 + (i % 3)]).toBe(Math.round(Math.min(1, Math.max(0, (sr[i] + 1) / 2)) * 255));
    await expect(createUpscaler({ model: { param: readFileSync(param), bin: new Uint8Array(10), name: 'cut' } })).rejects.toThrow(/^cut: layer Conv_0: its weights run past the end of the \.bin/);
  });
});
