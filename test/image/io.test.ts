import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { mkdtempSync, readdirSync, readFileSync, rmSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fromRGB, makeImage, quantize, toRGB, cropImage } from '../../src/image/pixels.js';
import { decodeImage } from '../../src/image/image.js';
import { encodePng } from '../../src/image/png.js';
import { readImage, writeImage } from '../../src/node/image-files.js';
import { writeAtomic } from '../../src/node/state.js';
import { expectOneLineError, expectOneLineRejection, rng } from './util.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'srgan-image-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('format sniffing and errors', () => {
  test('random bytes are not an image', () => {
    const r = rng(1);
    const bytes = Uint8Array.from({ length: 1000 }, () => Math.floor(r() * 256));
    bytes[0] = 0x00; // make sure no magic number matches by chance
    expectOneLineError(() => decodeImage(bytes, 'noise.bin'), /^noise\.bin: not an image \(unknown format\)$/);
  });

  test('text and empty files', () => {
    expectOneLineError(() => decodeImage(new TextEncoder().encode('hello\nworld\n'), 'a.txt'), /^a\.txt: not an image \(unknown format\)$/);
    expectOneLineError(() => decodeImage(new Uint8Array(0), 'empty.png'), /^empty\.png: empty file \(0 bytes\)$/);
  });

  test('known but unsupported formats are named', () => {
    expectOneLineError(() => decodeImage(new TextEncoder().encode('GIF89a....'), 'x.gif'), /^x\.gif: unsupported image format \(GIF\)/);
    expectOneLineError(() => decodeImage(new TextEncoder().encode('RIFF\0\0\0\0WEBPVP8 '), 'x.webp'), /^x\.webp: unsupported image format \(WebP\)/);
  });

  test('the magic number decides, not the file name', () => {
    const png = encodePng(makeImage(2, 2, 3, 8));
    expect(decodeImage(png, 'misnamed.jpg').channels).toBe(3);
  });

  test('readImage: a missing file, a directory', async () => {
    const missing = join(dir, 'nope', 'missing.png');
    const msg = await expectOneLineRejection(readImage(missing), /: no such file$/);
    expect(msg).toBe(`${missing}: no such file`);
    await expectOneLineRejection(readImage(dir), /: is a directory/);
  });

  test('readImage: decode errors name the path', async () => {
    const p = join(dir, 'bad.png');
    writeFileSync(p, encodePng(makeImage(3, 3, 1, 8)).subarray(0, 40));
    await expectOneLineRejection(readImage(p), new RegExp(`^${p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: truncated PNG \\(`));
  });
});

describe('writeAtomic / writeImage', () => {
  test('writes, overwrites, leaves no temporary behind', async () => {
    const p = join(dir, 'out.bin');
    await writeAtomic(p, Uint8Array.from([1, 2, 3]));
    expect(Array.from(readFileSync(p))).toEqual([1, 2, 3]);
    await writeAtomic(p, Uint8Array.from([4, 5]));
    expect(Array.from(readFileSync(p))).toEqual([4, 5]);
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  test('on failure the temporary is removed and the error is thrown', async () => {
    const sub = join(dir, 'fail');
    mkdirSync(join(sub, 'target'), { recursive: true });
    writeFileSync(join(sub, 'target', 'child'), 'x'); // a non-empty folder: rename over it fails
    await expect(writeAtomic(join(sub, 'target'), Uint8Array.from([1]))).rejects.toThrow();
    expect(readdirSync(sub)).toEqual(['target']);
    await expect(writeAtomic(join(dir, 'no-such-dir', 'x.bin'), Uint8Array.from([1]))).rejects.toThrow();
  });

  test('writeImage picks the encoder by extension', async () => {
    const img = makeImage(4, 3, 3, 8, quantize(Float32Array.from({ length: 36 }, (_, i) => i / 36)));
    await writeImage(join(dir, 'a.png'), img);
    expect(Array.from((await readImage(join(dir, 'a.png'))).data)).toEqual(Array.from(img.data));
    await writeImage(join(dir, 'a.jpeg'), img);
    expect((await readImage(join(dir, 'a.jpeg'))).width).toBe(4);
    await expect(writeImage(join(dir, 'a.tiff'), img)).rejects.toThrow(/a\.tiff: cannot write this format/);
  });
});

describe('helpers', () => {
  test('toRGB / fromRGB', () => {
    const ga = makeImage(2, 1, 2, 8, Float32Array.from([0.25, 1, 0.75, 0.5]));
    const { rgb, alpha } = toRGB(ga);
    expect(Array.from(rgb)).toEqual([0.25, 0.25, 0.25, 0.75, 0.75, 0.75]);
    expect(Array.from(alpha!)).toEqual([1, 0.5]);
    const back = fromRGB(2, 1, rgb, alpha);
    expect(back.channels).toBe(4);
    expect(Array.from(back.data)).toEqual([0.25, 0.25, 0.25, 1, 0.75, 0.75, 0.75, 0.5]);
    expect(toRGB(makeImage(1, 1, 3, 8)).alpha).toBeUndefined();
  });

  test('quantize and cropImage', () => {
    expect(Array.from(quantize(Float32Array.from([-1, 0.1, 2]), 8))).toEqual([0, Math.fround(26 / 255), 1]);
    const img = makeImage(3, 2, 1, 8, Float32Array.from([0, 1, 2, 3, 4, 5]));
    expect(Array.from(cropImage(img, 1, 0, 2, 2).data)).toEqual([1, 2, 4, 5]);
    expect(() => cropImage(img, 2, 0, 2, 1)).toThrow(/outside/);
  });
});
