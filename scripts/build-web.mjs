#!/usr/bin/env node
// npm run build:web (after npm run build): the static page in dist-web/ (index.html, app.js, the
// default model). The
// engine runs in the page on navigator.gpu; any static file server will do.
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'dist-web');
rmSync(out, { recursive: true, force: true });
mkdirSync(join(out, 'models'), { recursive: true });
await build({
  entryPoints: [join(root, 'src/web/page.ts')],
  outfile: join(out, 'app.js'),
  bundle: true, format: 'esm', platform: 'browser', target: 'es2022',
  minify: true, sourcemap: true, logLevel: 'warning',
});
copyFileSync(join(root, 'src/web/index.html'), join(out, 'index.html'));
// the default model under its own name and as default.safetensors, which the page loads
const { DEFAULT_MODEL } = await import(join(root, 'dist/srgan/model.js'));
copyFileSync(join(root, `models/${DEFAULT_MODEL}.safetensors`), join(out, 'models/default.safetensors'));
console.log(`dist-web/ written (index.html, app.js, models/default.safetensors = ${DEFAULT_MODEL})`);
