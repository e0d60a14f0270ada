// The package as a user gets it: `npm pack`, installed from the tarball into an empty project,
// imported by name (the `exports` map), typed, and run on Dawn. Uses the built dist/ (npm test's
// tsc or npm run build), as the CLI tests do.
import { describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const exec = promisify(execFile);
const root = fileURLToPath(new URL('..', import.meta.url));

const script = `
import { upscale, createUpscaler, close } from 'srgan-webgpu';
const w = 6, h = 5, data = new Uint8ClampedArray(w * h * 4).map((_, i) => (i % 4 === 3 ? 255 : (i * 53) & 255));
const steps = [];
const r = await upscale({ width: w, height: h, data }, { onProgress: (d, t) => steps.push([d, t]) });
const ac = new AbortController(); ac.abort();
const aborted = await upscale({ width: w, height: h, data }, { signal: ac.signal }).then(() => 'resolved', (e) => e.name);
const u = await createUpscaler({ model: 'default' });
const again = await u.upscale({ width: w, height: h, data });
u.dispose();
close();
console.log(JSON.stringify({ w: r.width, h: r.height, n: r.data.length, same: again.data.every((v, i) => v === r.data[i]), steps, aborted }));
`;

const typed = `
import { upscale, createUpscaler, type ImageDataLike, type Upscaler } from 'srgan-webgpu';
const img: ImageDataLike = { width: 1, height: 1, data: new Uint8ClampedArray(4) };
const u: Upscaler = await createUpscaler({ tile: 128 });
const out = await upscale(img, { model: new Uint8Array(0), signal: new AbortController().signal, onProgress: (d: number, t: number) => d / t });
const n: number = out.width + u.scale;
// @ts-expect-error: options are checked
await upscale(img, { tiles: 3 });
export { n };
`;

describe('npm package', () => {
  it('installs from its tarball and upscales via import from "srgan-webgpu"', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'srgan-pack-'));
    try {
      // dist/ is already built; prepare would rebuild it
      await exec('npm', ['pack', '--ignore-scripts', '--pack-destination', dir], { cwd: root, timeout: 120_000 });
      const tgz = readdirSync(dir).find((f) => f.endsWith('.tgz'))!;
      const app = join(dir, 'app');
      await exec('mkdir', [app]);
      writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
      const install = (mode: string) => exec('npm', ['install', mode, '--no-audit', '--no-fund', join(dir, tgz)], { cwd: app, timeout: 300_000 });
      // the dependencies are in npm's cache after the project's own install
      await install('--offline').catch(() => install('--prefer-offline'));
      writeFileSync(join(app, 'run.mjs'), script);
      const { stdout } = await exec('node', ['run.mjs'], { cwd: app, timeout: 300_000, env: { ...process.env, SRGAN_QUIET: '1' } });
      const r = JSON.parse(stdout.trim().split('\n').pop()!);
      expect(r).toMatchObject({ w: 24, h: 20, n: 24 * 20 * 4, same: true, aborted: 'AbortError' });
      expect(r.steps.at(-1)[0]).toBe(r.steps.at(-1)[1]);
      // the types resolve through `exports` as a TypeScript user's would
      writeFileSync(join(app, 'typed.ts'), typed);
      writeFileSync(join(app, 'tsconfig.json'), JSON.stringify({
        compilerOptions: { noEmit: true, strict: true, target: 'es2022', module: 'nodenext', moduleResolution: 'nodenext', skipLibCheck: true, lib: ['es2022', 'dom'], types: [] },
        files: ['typed.ts'],
      }));
      await exec('node', [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], { cwd: app, timeout: 120_000 })
        .catch((e) => { throw new Error(`tsc: ${e.stdout}${e.stderr}`); });
      // a bundler targeting browsers resolves the browser entry, which pulls in nothing from Node
      writeFileSync(join(app, 'web.mjs'), "import { upscale, createUpscaler } from 'srgan-webgpu'; globalThis.x = [upscale, createUpscaler];\n");
      await exec(join(root, 'node_modules/.bin/esbuild'), ['web.mjs', '--bundle', '--platform=browser', '--format=esm', '--outfile=web.js', '--log-level=error'],
        { cwd: app, timeout: 120_000 }).catch((e) => { throw new Error(`esbuild: ${e.stdout}${e.stderr}`); });
      expect(readFileSync(join(app, 'web.js'), 'utf8')).toContain('navigator.gpu');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 600_000);
});
