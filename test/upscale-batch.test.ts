// upscale.js as a daily tool: many inputs, folders with their structure, a bad file skipped with a
// summary, re-runs, name collisions, --outscale/--suffix/--format, warnings, adapters, --quiet.
import { describe, it, expect, beforeAll } from 'vitest';
import { writeFileSync, readFileSync, existsSync, mkdirSync, statSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { decodeImage } from '../src/image/image.js';
import { encodePng } from '../src/image/png.js';
import { encodeJpeg } from '../src/image/jpeg.js';
import { readMetadata, writeMetadata } from '../src/image/metadata.js';
import { setup, img, upscale, CLI } from './upscale-cli.js';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const exec = promisify(execFile);
let dir = '';
let model = '';

/** Every file under a folder, relative, sorted. */
function tree(d: string, pre = ''): string[] {
  const out: string[] = [];
  for (const e of readdirSync(join(d, pre), { withFileTypes: true })) {
    const rel = pre ? `${pre}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...tree(d, rel));
    else out.push(rel);
  }
  return out.sort();
}

beforeAll(async () => {
  ({ dir, model } = await setup('srgan-batch-'));
});

describe('upscale.js batches', () => {
  it('walks folders recursively keeping the structure, skips bad files, summarises, exits 1; --skip-existing re-runs are no-ops', async () => {
    const src = join(dir, 'photos');
    mkdirSync(join(src, 'sub', 'deep'), { recursive: true });
    writeFileSync(join(src, 'a.png'), encodePng(img(8, 6, 3)));
    writeFileSync(join(src, 'b.jpg'), encodeJpeg(img(9, 7, 3, 8, 2), 90));
    writeFileSync(join(src, 'sub', 'a.png'), encodePng(img(6, 8, 3, 8, 3)));
    writeFileSync(join(src, 'sub', 'deep', 'c.png'), encodePng(img(7, 7, 1, 8, 4)));
    writeFileSync(join(src, 'sub', 'bad.png'), Buffer.from('not an image at all'));
    writeFileSync(join(src, 'trunc.png'), Buffer.from(encodePng(img(20, 20, 3))).subarray(0, 60));
    const out = join(dir, 'out', 'nested') + '/'; // missing, parents too: created
    const r = await upscale(model, [src, '-o', out]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.errors.length, r.stderr).toBe(2);
    expect(r.errors.find((l) => l.includes('bad.png'))).toMatch(/sub\/bad\.png: not an image/);
    expect(r.errors.find((l) => l.includes('trunc.png'))).toMatch(/trunc\.png: .*truncated/);
    expect(r.stderr.trim().split('\n').at(-1)).toBe('4 written, 0 skipped (output exists), 2 failed');
    expect(tree(out)).toEqual(['a_x4.png', 'b_x4.png', 'sub/a_x4.png', 'sub/deep/c_x4.png']);
    expect(decodeImage(readFileSync(join(out, 'sub/deep/c_x4.png')), 'c').channels).toBe(1);
    expect(r.stderr).not.toMatch(/artificially reduced/); // Dawn's start-up notices are filtered

    // without --overwrite or --skip-existing an existing output is an error for that file only
    const mtime = statSync(join(out, 'a_x4.png')).mtimeMs;
    const again = await upscale(model, [src, '-o', out, '--quiet']);
    expect(again.code).toBe(1);
    expect(again.errors.filter((l) => /_x4\.png: exists \(pass --overwrite/.test(l)).length, again.stderr).toBe(4);
    expect(again.errors.length).toBe(6);
    // --skip-existing: nothing redone (the bad files are still bad, so remove them first)
    writeFileSync(join(src, 'sub', 'bad.png'), encodePng(img(5, 5, 3)));
    writeFileSync(join(src, 'trunc.png'), encodePng(img(5, 6, 3)));
    const fill = await upscale(model, [src, '-o', out, '--skip-existing']);
    expect(fill.code, fill.stderr).toBe(0);
    expect(fill.stderr).toMatch(/2 written, 4 skipped \(output exists\), 0 failed/);
    const noop = await upscale(model, [src, '-o', out, '--skip-existing']);
    expect(noop.code, noop.stderr).toBe(0);
    expect(noop.stderr).toMatch(/0 written, 6 skipped/);
    expect(noop.stderr).not.toMatch(/WebGPU adapter/); // nothing to do: the GPU is not even started
    expect(statSync(join(out, 'a_x4.png')).mtimeMs).toBe(mtime);
  });

  it('-o DIR inside an input folder: a re-run never reads its own outputs back as inputs (issue 29, class 4)', async () => {
    const src = join(dir, 'inside');
    mkdirSync(src);
    writeFileSync(join(src, 'a.png'), encodePng(img(8, 6, 3)));
    writeFileSync(join(src, 'b.png'), encodePng(img(7, 5, 3, 8, 2)));
    const first = await upscale(model, [src, '-o', join(src, 'out') + '/']);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toMatch(/2 written, 0 skipped/);
    // the documented re-run, also through another spelling of the folder
    for (const o of [join(src, 'out') + '/', join(src, '.', 'out', '.') + '/']) {
      const again = await upscale(model, [src, '-o', o, '--skip-existing']);
      expect(again.code, again.stderr).toBe(0);
      expect(again.stderr).toMatch(/0 written, 2 skipped/);
    }
    expect(tree(src)).toEqual(['a.png', 'b.png', 'out/a_x4.png', 'out/b_x4.png']);
  });

  it('takes several inputs (as a shell glob gives them), beside each input or into -o DIR', async () => {
    const d = join(dir, 'glob');
    mkdirSync(d);
    for (const n of ['x', 'y', 'z']) writeFileSync(join(d, `${n}.png`), encodePng(img(6, 5, 3)));
    const r = await upscale(model, [join(d, 'x.png'), join(d, 'y.png'), '--quiet']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    expect(existsSync(join(d, 'x_x4.png')) && existsSync(join(d, 'y_x4.png'))).toBe(true);
    const r2 = await upscale(model, [join(d, 'y.png'), join(d, 'z.png'), '-o', join(dir, 'glob_out')]);
    expect(r2.code, r2.stderr).toBe(0);
    expect(tree(join(dir, 'glob_out'))).toEqual(['y_x4.png', 'z_x4.png']);
    // one output file for several inputs is refused as a usage error
    const bad = await upscale(model, [join(d, 'y.png'), join(d, 'z.png'), '-o', join(dir, 'one.png')]);
    expect(bad.code).toBe(2);
    expect(bad.errors[0]).toMatch(/one\.png: names one file, but there are several inputs/);
  });

  it('refuses two inputs that would write one output, before any work, naming both', async () => {
    const d = join(dir, 'clash');
    mkdirSync(d);
    writeFileSync(join(d, 'p.png'), encodePng(img(5, 5, 3)));
    writeFileSync(join(d, 'p.jpg'), encodeJpeg(img(5, 5, 3), 90));
    const r = await upscale(model, [d, '-o', join(dir, 'clash_out')]);
    expect(r.code).toBe(1);
    expect(r.errors.length, r.stderr).toBe(1);
    expect(r.errors[0]).toMatch(/p\.jpg and .*p\.png would both be written to .*p_x4\.png/);
    expect(existsSync(join(dir, 'clash_out'))).toBe(false);
    // two files of one name from different folders into one -o
    const e = join(dir, 'clash2');
    mkdirSync(e);
    writeFileSync(join(e, 'p.png'), encodePng(img(5, 5, 3)));
    const r2 = await upscale(model, [join(d, 'p.png'), join(e, 'p.png'), '-o', join(dir, 'clash_out2')]);
    expect(r2.code).toBe(1);
    expect(r2.errors[0]).toMatch(/would both be written to/);
  });

  it('--outscale resamples the x4 result; --suffix and --format name and encode it; alpha to JPEG warns', async () => {
    const p = join(dir, 'os.png');
    writeFileSync(p, encodePng(img(8, 6, 4)));
    const r = await upscale(model, [p, '--outscale', '3.5', '--format', 'jpg']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/warning: .*os\.png: has an alpha channel, which JPEG cannot store/);
    const o = decodeImage(readFileSync(join(dir, 'os_x3.5.jpg')), 'os');
    expect([o.width, o.height, o.channels]).toEqual([28, 21, 3]);
    const r2 = await upscale(model, [p, '--outscale', '2', '--suffix', '_half', '--quiet']);
    expect(r2.code, r2.stderr).toBe(0);
    const o2 = decodeImage(readFileSync(join(dir, 'os_half.png')), 'os');
    expect([o2.width, o2.height, o2.channels]).toEqual([16, 12, 4]);
    // -o without extension: written in --format under exactly that name
    const r3 = await upscale(model, [p, '-o', join(dir, 'noext'), '--format', 'jpg', '--quiet']);
    expect(r3.code, r3.stderr).toBe(0);
    expect(readFileSync(join(dir, 'noext'))[0]).toBe(0xff);
    const r4 = await upscale(model, [p, '-o', join(dir, 'x.png'), '--format', 'jpg']);
    expect(r4.code).toBe(2);
    expect(r4.errors[0]).toMatch(/contradicts --format jpg/);
    expect((await upscale(model, [p, '--outscale', '0'])).code).toBe(2);
  });

  it('warns when --tile makes the context dominate', async () => {
    const p = join(dir, 'tile.png');
    writeFileSync(p, encodePng(img(20, 20, 3)));
    const v = await upscale(model, [p, '--verbose', '--quiet']);
    const radius = Number(/context (\d+)/.exec(v.stderr)?.[1]);
    expect(radius).toBeGreaterThan(0);
    // a 20x20 image fits one tile of 2r+6: no extra work, no warning; at 30x30 the tiles' cores are 6x6
    const one = await upscale(model, [p, '--tile', String(2 * radius + 6), '--overwrite']);
    expect(one.code, one.stderr).toBe(0);
    expect(one.stderr).not.toMatch(/warning/);
    writeFileSync(p, encodePng(img(30, 30, 3)));
    const r = await upscale(model, [p, '--tile', String(2 * radius + 6), '--overwrite']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(new RegExp(`warning: --tile ${2 * radius + 6}: each tile carries ${radius} LR pixels of context .* up to \\d+\\.\\dx the work`));
    const small = await upscale(model, [p, '--tile', String(2 * radius), '--overwrite']);
    expect(small.code).toBe(2);
    expect(small.errors[0]).toMatch(/--tile \d+ is too small: each tile carries \d+ LR pixels of context on every side, so it must exceed \d+$/);
  });

  it('carries the ICC profile and EXIF to the output (JPEG APP1/APP2 <-> PNG iCCP/eXIf), EXIF orientation reset', async () => {
    // EXIF with Orientation 6 (stored turned: the decoder turns 8x6 upright to 6x8), little-endian TIFF
    const exif = Uint8Array.from([0x49, 0x49, 42, 0, 8, 0, 0, 0, 1, 0, 0x12, 0x01, 3, 0, 1, 0, 0, 0, 6, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    const icc = Uint8Array.from({ length: 70000 }, (_, i) => (i * 7) % 251); // two APP2 segments
    const p = join(dir, 'meta.jpg');
    writeFileSync(p, writeMetadata(encodeJpeg(img(8, 6, 3), 90), { exif, icc }));
    expect(decodeImage(readFileSync(p), 'meta').width).toBe(6);
    const r = await upscale(model, [p, '-o', join(dir, 'meta_out.png'), '--quiet']);
    expect(r.code, r.stderr).toBe(0);
    const png = readFileSync(join(dir, 'meta_out.png'));
    const m = readMetadata(png);
    expect(Buffer.from(m.icc!).equals(Buffer.from(icc))).toBe(true);
    const upright = Uint8Array.from(exif);
    upright[18] = 1;
    expect([...m.exif!]).toEqual([...upright]);
    expect(decodeImage(png, 'out').width).toBe(24); // upright once, not twice
    // and from PNG back to JPEG
    const r2 = await upscale(model, [join(dir, 'meta_out.png'), '-o', join(dir, 'meta_back.jpg'), '--quiet']);
    expect(r2.code, r2.stderr).toBe(0);
    const m2 = readMetadata(readFileSync(join(dir, 'meta_back.jpg')));
    expect(Buffer.from(m2.icc!).equals(Buffer.from(icc))).toBe(true);
    expect([...m2.exif!]).toEqual([...upright]);
  });

  it('--list-adapters, --adapter NAME, --quiet and --help', async () => {
    const l = await exec('node', [CLI, '--list-adapters']);
    expect(l.stdout).toMatch(/\n  backend: \w+\n  type: +\S/);
    expect(l.stderr).toBe('');
    const name = l.stdout.split('\n')[0];
    const p = join(dir, 'ad.png');
    writeFileSync(p, encodePng(img(5, 5, 3)));
    const ok = await upscale(model, [p, '--adapter', name.slice(0, 6), '--quiet']);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stderr + ok.stdout).toBe(''); // --quiet: nothing at all on success
    const bad = await upscale(model, [p, '--adapter', 'no-such-adapter', '--overwrite']);
    expect(bad.code).toBe(1);
    expect(bad.errors.length).toBe(1);
    expect(bad.errors[0]).toContain(`--adapter no-such-adapter: no such adapter; available: '${name}'`);
    const help = await exec('node', [CLI, '--help']);
    for (const f of ['--outscale', '--suffix', '--format', '--skip-existing', '--overwrite', '--adapter', '--list-adapters', '--tile', '--max-pixels', '--quiet', '--verbose']) {
      expect(help.stdout).toContain(f);
    }
    expect(help.stdout).toMatch(/would write the same output|would both/i);
  });
});
