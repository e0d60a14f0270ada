// upscale.js against hostile or unlucky inputs (issue 14, classes 1, 2, 6): input/output identity by
// real path and inode, only regular files read, a byte cap, symlink loops, sizes from the header
// before decoding, output folders checked before the work starts. Every error one line, exit 1,
// nothing half-written.
import { describe, it, expect, beforeAll } from 'vitest';
import { writeFileSync, readFileSync, existsSync, mkdirSync, symlinkSync, linkSync, readdirSync, chmodSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { deflateSync } from 'node:zlib';
import { join } from 'node:path';
import { encodePng, crc32 } from '../src/image/png.js';
import { setup, img, upscale } from './upscale-cli.js';

let dir = '';
let model = '';

function chunk(type: string, body: Uint8Array): Buffer {
  const b = Buffer.alloc(12 + body.length);
  b.writeUInt32BE(body.length, 0);
  b.write(type, 4, 'latin1');
  Buffer.from(body).copy(b, 8);
  b.writeUInt32BE(crc32(b.subarray(4, 8 + body.length)), 8 + body.length);
  return b;
}

/** A PNG claiming w x h RGB pixels with a few bytes of image data: only a header reader can take its size. */
function bigHeaderPng(w: number, h: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 8; ihdr[9] = 2;
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(Buffer.alloc(1000))), chunk('IEND', new Uint8Array(0))]);
}

/** No temporary or partial files left beside the outputs. */
function noTemporaries(d: string): void {
  expect(readdirSync(d).filter((f) => f.endsWith('.tmp'))).toEqual([]);
}

beforeAll(async () => {
  ({ dir, model } = await setup('srgan-hostile-'));
});

describe('upscale.js hostile inputs', () => {
  it('compares inputs and outputs by real path and inode, never by string', async () => {
    const d = join(dir, 'ident');
    mkdirSync(d);
    const good = join(d, 'good.png');
    writeFileSync(good, encodePng(img(6, 5, 3)));
    const before = readFileSync(good);
    const r = await upscale(model, [good, '-o', join(d, '.', 'good.png'), '--overwrite']);
    expect(r.code).toBe(1);
    expect(r.errors.length, r.stderr).toBe(1);
    expect(r.errors[0]).toMatch(/good\.png: the output .*good\.png is an input of this run; not overwriting it/);
    // through a linked folder, and a hard link to the input
    symlinkSync(d, join(dir, 'ident_link'));
    linkSync(good, join(d, 'hard.png'));
    for (const out of [join(dir, 'ident_link', 'good.png'), join(d, 'hard.png')]) {
      const r2 = await upscale(model, [good, '-o', out, '--overwrite']);
      expect(r2.code, out).toBe(1);
      expect(r2.errors[0]).toMatch(/is an input of this run/);
    }
    expect(readFileSync(good).equals(before)).toBe(true);
    noTemporaries(d);
  });

  it('never overwrites an input when a folder is written into itself', async () => {
    const d = join(dir, 'self');
    mkdirSync(d);
    writeFileSync(join(d, 'p.png'), encodePng(img(5, 5, 3)));
    writeFileSync(join(d, 'p_x4.png'), encodePng(img(6, 4, 3, 8, 9)));
    const before = readFileSync(join(d, 'p_x4.png'));
    const r = await upscale(model, [d, '-o', d, '--overwrite']);
    expect(r.code).toBe(1);
    expect(r.errors.length, r.stderr).toBe(1);
    expect(r.errors[0]).toMatch(/p\.png: the output .*p_x4\.png is an input of this run/);
    expect(readFileSync(join(d, 'p_x4.png')).equals(before)).toBe(true);
    expect(existsSync(join(d, 'p_x4_x4.png'))).toBe(true); // the other input is done
    noTemporaries(d);
  });

  it('reads only regular files: devices and FIFOs are refused by name at once', async () => {
    const t0 = Date.now();
    const z = await upscale(model, ['/dev/zero', '-o', join(dir, 'zero.png')], { timeout: 20_000 });
    expect(z.code).toBe(1);
    expect(z.errors).toEqual(['error: /dev/zero: is a character device, not a regular file']);
    expect(Date.now() - t0).toBeLessThan(15_000);
    expect(existsSync(join(dir, 'zero.png'))).toBe(false);
    // a FIFO named like an image inside a folder: reported, the rest written
    const d = join(dir, 'fifo');
    mkdirSync(d);
    execFileSync('mkfifo', [join(d, 'pipe.png')]);
    writeFileSync(join(d, 'ok.png'), encodePng(img(5, 5, 3)));
    const f = await upscale(model, [d, '-o', join(dir, 'fifo_out')], { timeout: 30_000 });
    expect(f.code).toBe(1);
    expect(f.errors.length, f.stderr).toBe(1);
    expect(f.errors[0]).toMatch(/pipe\.png: not a regular file/);
    expect(readdirSync(join(dir, 'fifo_out'))).toEqual(['ok_x4.png']);
    // given by name
    const g = await upscale(model, [join(d, 'pipe.png')], { timeout: 20_000 });
    expect(g.errors).toEqual([`error: ${join(d, 'pipe.png')}: is a FIFO (named pipe), not a regular file`]);
  });

  it('walks symlink loops once and lists each real file once', async () => {
    const d = join(dir, 'loop');
    mkdirSync(join(d, 'sub'), { recursive: true });
    writeFileSync(join(d, 'sub', 'a.png'), encodePng(img(5, 5, 3)));
    symlinkSync('..', join(d, 'sub', 'up')); // loop back to the root
    symlinkSync('sub', join(d, 'alias')); // the same folder again
    symlinkSync('a.png', join(d, 'sub', 'b.png')); // the same file again
    const r = await upscale(model, [d, '-o', join(dir, 'loop_out')], { timeout: 30_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(readdirSync(join(dir, 'loop_out'))).toEqual(['sub']);
    expect(readdirSync(join(dir, 'loop_out', 'sub'))).toEqual(['a_x4.png']);
  });

  it('refuses by the header, before decoding: a 16384x16384 PNG and a file far larger than its pixels', async () => {
    const p = join(dir, 'huge.png');
    writeFileSync(p, bigHeaderPng(16384, 16384));
    const r = await upscale(model, [p]);
    expect(r.code).toBe(1);
    expect(r.errors).toEqual([`error: ${p}: 16384x16384: the network output would be 65536x65536 = 4294967296 pixels, over --max-pixels 268435456`]);
    expect(r.stderr).not.toMatch(/WebGPU adapter/); // refused before the GPU starts
    // a 6x5 image carrying 17 MiB of "metadata": over the byte cap for 30 pixels, refused unread
    const fat = join(dir, 'fat.png');
    const png = Buffer.from(encodePng(img(6, 5, 3)));
    writeFileSync(fat, Buffer.concat([png.subarray(0, 33), chunk('zzZz', new Uint8Array(17 * 2 ** 20)), png.subarray(33)]));
    const f = await upscale(model, [fat, '-o', join(dir, 'fat_out.png')]);
    expect(f.code).toBe(1);
    expect(f.errors.length).toBe(1);
    expect(f.errors[0]).toMatch(/fat\.png: file too large \(\d+ bytes; the limit for this image is \d+\)/);
    expect(existsSync(join(dir, 'fat_out.png'))).toBe(false);
  });

  it('checks the output folder before the work starts', async () => {
    const p = join(dir, 'w.png');
    writeFileSync(p, encodePng(img(5, 5, 3)));
    const r = await upscale(model, [p, '-o', join(dir, 'no', 'such', 'out.png')]);
    expect(r.code).toBe(1);
    expect(r.errors).toEqual([`error: ${join(dir, 'no', 'such', 'out.png')}: cannot write: the folder ${join(dir, 'no', 'such')} does not exist`]);
    expect(r.stderr).not.toMatch(/WebGPU adapter/);
    // a regular file where the output folder should be
    writeFileSync(join(dir, 'plain'), 'x');
    const r2 = await upscale(model, [p, '-o', join(dir, 'plain', 'sub') + '/']);
    expect(r2.code).toBe(1);
    expect(r2.errors[0]).toMatch(/plain is not a folder/);
    // read-only folder (root writes anywhere, so only checked as another user)
    if (process.getuid?.() !== 0) {
      const ro = join(dir, 'ro');
      mkdirSync(ro);
      chmodSync(ro, 0o555);
      const r3 = await upscale(model, [p, '-o', join(ro, 'out') + '/']);
      expect(r3.code).toBe(1);
      expect(r3.errors[0]).toMatch(/read-only/);
      chmodSync(ro, 0o755);
    }
  });
});
