#!/usr/bin/env node
// npm run test:browser: the page (dist-web/, from `npm run build:web`) in a real browser. Debian's
// Chromium, headless, WebGPU on SwiftShader, driven by puppeteer-core; a small image goes in through
// the file input, and the downloaded PNG must equal the Node CLI's output (dist/upscale.js, from
// `npm run build` or `npm test`'s tsc) within one level. `--screenshot FILE` also saves the page.
import { createServer } from 'node:http';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import puppeteer from 'puppeteer-core';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const web = join(root, 'dist-web');
const chromium = process.env.CHROMIUM ?? '/usr/bin/chromium';
const shotAt = process.argv.indexOf('--screenshot');
const screenshot = shotAt > 0 ? process.argv[shotAt + 1] : null;
const inputAt = process.argv.indexOf('--input');
const fail = (m) => { throw new Error(m); };

for (const [p, how] of [[join(web, 'index.html'), 'npm run build:web'], [join(root, 'dist/upscale.js'), 'npm run build'], [chromium, 'apt-get install -y chromium']]) {
  if (!existsSync(p)) fail(`${p} is missing (${how})`);
}
const { decodeImage } = await import(join(root, 'dist/image/image.js'));
const { encodePng } = await import(join(root, 'dist/image/png.js'));
const { makeImage } = await import(join(root, 'dist/image/pixels.js'));

const tmp = mkdtempSync(join(tmpdir(), 'srgan-browser-'));
// A small RGB image with smooth areas and hard edges (both matter to a GAN), tiled in the page
// (?tile=64: 3x2 windows, each with 20 pixels of context) and whole in the CLI: tiling must not change the result.
let input = join(tmp, 'small.png');
if (inputAt > 0) input = process.argv[inputAt + 1];
else {
  const w = 56, h = 40, img = makeImage(w, h, 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
    const i = (y * w + x) * 3, edge = (x + 2 * y) % 11 < 4;
    img.data[i] = Math.round(255 * (x / w)) / 255;
    img.data[i + 1] = edge ? 0.9 : Math.round(255 * (y / h) * 0.6) / 255;
    img.data[i + 2] = Math.round(255 * (0.5 + 0.4 * Math.sin(x * 0.7 + y * 0.3))) / 255;
  }
  writeFileSync(input, encodePng(img));
}

// The Node CLI's answer, on Dawn over whatever Vulkan driver this machine has; and with a model
// file the user brings (Real-ESRGAN's compact network, a small random one saved by PyTorch)
const cliOut = join(tmp, 'cli.png'), cliOwn = join(tmp, 'cli-own.png'), cliNcnn = join(tmp, 'cli-ncnn.png'), cliRrdb = join(tmp, 'cli-rrdb.png');
const ownModel = join(root, 'test/fixtures/compact_x4.pth'), ncnnParam = join(root, 'test/fixtures/compact_x4.param');
// and ESRGAN's RRDBNet (a small random one saved by PyTorch): its dense blocks' convs over growing concatenations
const rrdbModel = join(root, 'test/fixtures/rrdb_x4.pth');
await promisify(execFile)('node', [join(root, 'dist/upscale.js'), input, '-o', cliOut, '--quiet'], { timeout: 300_000 });
await promisify(execFile)('node', [join(root, 'dist/upscale.js'), input, '-o', cliOwn, '--quiet', '--model', ownModel], { timeout: 300_000 });
await promisify(execFile)('node', [join(root, 'dist/upscale.js'), input, '-o', cliNcnn, '--quiet', '--model', ncnnParam], { timeout: 300_000 });
await promisify(execFile)('node', [join(root, 'dist/upscale.js'), input, '-o', cliRrdb, '--quiet', '--model', rrdbModel], { timeout: 300_000 });

const types = { '.html': 'text/html', '.js': 'text/javascript', '.map': 'application/json', '.safetensors': 'application/octet-stream' };
const server = createServer((req, res) => {
  const path = normalize(decodeURIComponent(new URL(req.url, 'http://x').pathname)).replace(/^(\.\.[/\\])+/, '');
  const file = join(web, path.endsWith('/') ? join(path, 'index.html') : path);
  if (!file.startsWith(web) || !existsSync(file)) { res.writeHead(404).end(); return; }
  res.writeHead(200, { 'content-type': types[extname(file)] ?? 'application/octet-stream' }).end(readFileSync(file));
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const url = `http://127.0.0.1:${server.address().port}/`;

const browser = await puppeteer.launch({
  executablePath: chromium, headless: true,
  args: ['--no-sandbox', '--enable-unsafe-webgpu', '--window-size=1200,900'],
  defaultViewport: { width: 1200, height: 900 },
});
const t0 = performance.now();
try {
  const page = await browser.newPage();
  const logs = [];
  page.on('console', (m) => logs.push(`[console] ${m.text()}`));
  page.on('pageerror', (e) => logs.push(`[pageerror] ${e.message}`));
  await page.goto(inputAt > 0 ? url : `${url}?tile=64`);
  // what this browser's adapter offers (the kernels pick their variant from it)
  const adapter = await page.evaluate(async () => {
    const a = await navigator.gpu?.requestAdapter();
    if (!a) return null;
    return { info: { vendor: a.info.vendor, architecture: a.info.architecture, description: a.info.description,
      subgroupMinSize: a.info.subgroupMinSize, subgroupMaxSize: a.info.subgroupMaxSize },
      features: [...a.features].sort(), maxStorageBufferBindingSize: a.limits.maxStorageBufferBindingSize,
      maxComputeWorkgroupStorageSize: a.limits.maxComputeWorkgroupStorageSize };
  });
  console.log('browser adapter:', JSON.stringify(adapter));
  if (!adapter) fail('the browser offers no WebGPU adapter');
  await page.waitForFunction(() => document.body.dataset.state === 'idle', { timeout: 30_000 });
  const cdp = await browser.target().createCDPSession();
  await (await page.$('#file')).uploadFile(input);
  await page.waitForFunction(() => ['done', 'error'].includes(document.body.dataset.state), { timeout: 480_000, polling: 500 });
  const state = await page.$eval('#status', (e) => `${document.body.dataset.state}: ${e.textContent}`);
  console.log('page:', state);
  if (!state.startsWith('done')) fail(`the page failed: ${state}\n${logs.join('\n')}`);
  await page.waitForSelector('#download[data-ready="1"]');
  if (screenshot) {
    await page.$eval('#slider', (s) => { s.value = '50'; s.dispatchEvent(new Event('input')); });
    // the page's content only: the blank right and bottom would only add bytes
    const [right, bottom] = await page.evaluate(() => {
      const r = [...document.querySelectorAll('h1, .muted, #compare')].map((e) => e.getBoundingClientRect());
      return [Math.max(...r.map((b) => b.right)), document.getElementById('result').getBoundingClientRect().bottom];
    });
    await page.screenshot({ path: screenshot, clip: { x: 0, y: 0, width: Math.ceil(right) + 30, height: Math.ceil(bottom) + 16 } });
    console.log(`screenshot: ${screenshot}`);
  }
  /** Downloads the page's PNG into a fresh folder and compares it with the CLI's output. */
  const compareDownload = async (cliFile, what) => {
    const folder = mkdtempSync(join(tmp, 'dl-'));
    await cdp.send('Browser.setDownloadBehavior', { behavior: 'allow', downloadPath: folder, eventsEnabled: true });
    await page.click('#download');
    let name;
    for (let i = 0; i < 100 && !name; i++) {
      await new Promise((r) => setTimeout(r, 100));
      name = readdirSync(folder).find((f) => f.endsWith('.png'));
    }
    if (!name) fail(`${what}: no PNG was downloaded`);
    const got = decodeImage(new Uint8Array(readFileSync(join(folder, name))), name);
    const want = decodeImage(new Uint8Array(readFileSync(cliFile)), 'cli.png');
    if (got.width !== want.width || got.height !== want.height) fail(`${what}: the page gave ${got.width}x${got.height}, the CLI ${want.width}x${want.height}`);
    let worst = 0, off = 0;
    for (let i = 0; i < want.width * want.height; i++) {
      for (let c = 0; c < 3; c++) {
        const d = Math.abs(Math.round(got.data[i * got.channels + c] * 255) - Math.round(want.data[i * want.channels + c] * 255));
        worst = Math.max(worst, d);
        if (d > 0) off++;
      }
    }
    console.log(`${what}: downloaded ${name}: ${got.width}x${got.height}; vs the CLI: max difference ${worst} levels, ${off} of ${want.width * want.height * 3} values differ`);
    if (worst > 1) fail(`${what}: the page's PNG differs from the CLI's by ${worst} levels (at most 1 allowed)`);
  };
  await compareDownload(cliOut, 'shipped model');
  // the page names the shipped default as the library defines it (models/default.safetensors is its file)
  const { DEFAULT_MODEL } = await import(join(root, 'dist/srgan/model.js'));
  for (const [sel, want] of [['#model-name', `${DEFAULT_MODEL} (shipped)`], ['#out-model', DEFAULT_MODEL]]) {
    const got = await page.$eval(sel, (e) => e.textContent);
    if (got !== want) fail(`the page names the shipped model '${got}' in ${sel}, expected '${want}'`);
  }
  // the user's own model file (.pth): the page reloads the model and upscales the same image again
  await page.evaluate(() => { document.body.dataset.state = 'loading-own'; document.getElementById('download').dataset.ready = ''; });
  await (await page.$('#modelfile')).uploadFile(ownModel);
  await page.waitForFunction(() => ['done', 'error'].includes(document.body.dataset.state), { timeout: 480_000, polling: 500 });
  const own = await page.$eval('#status', (e) => `${document.body.dataset.state}: ${e.textContent}`);
  if (!own.startsWith('done')) fail(`the page failed with the user's model: ${own}\n${logs.join('\n')}`);
  if ((await page.$eval('#model-name', (e) => e.textContent)) !== 'compact_x4.pth') fail('the page does not name the model in use');
  await page.waitForSelector('#download[data-ready="1"]');
  await compareDownload(cliOwn, "user's .pth");
  // an ncnn model: its .param and .bin picked together
  await page.evaluate(() => { document.body.dataset.state = 'loading-ncnn'; document.getElementById('download').dataset.ready = ''; });
  await (await page.$('#modelfile')).uploadFile(ncnnParam, ncnnParam.replace(/\.param$/, '.bin'));
  await page.waitForFunction(() => ['done', 'error'].includes(document.body.dataset.state), { timeout: 480_000, polling: 500 });
  const nc = await page.$eval('#status', (e) => `${document.body.dataset.state}: ${e.textContent}`);
  if (!nc.startsWith('done')) fail(`the page failed with an ncnn model: ${nc}\n${logs.join('\n')}`);
  await page.waitForSelector('#download[data-ready="1"]');
  await compareDownload(cliNcnn, 'ncnn .param + .bin');
  // an RRDBNet .pth
  await page.evaluate(() => { document.body.dataset.state = 'loading-rrdb'; document.getElementById('download').dataset.ready = ''; });
  await (await page.$('#modelfile')).uploadFile(rrdbModel);
  await page.waitForFunction(() => ['done', 'error'].includes(document.body.dataset.state), { timeout: 480_000, polling: 500 });
  const rr = await page.$eval('#status', (e) => `${document.body.dataset.state}: ${e.textContent}`);
  if (!rr.startsWith('done')) fail(`the page failed with an RRDBNet model: ${rr}\n${logs.join('\n')}`);
  if ((await page.$eval('#model-name', (e) => e.textContent)) !== 'rrdb_x4.pth') fail('the page does not name the RRDBNet model in use');
  await page.waitForSelector('#download[data-ready="1"]');
  await compareDownload(cliRrdb, 'RRDBNet .pth');
  // a file that is no model: one error naming it, and the page stays usable
  const bad = join(tmp, 'notes.pth');
  writeFileSync(bad, 'not a model');
  await (await page.$('#modelfile')).uploadFile(bad);
  await page.waitForFunction(() => document.body.dataset.state === 'error', { timeout: 60_000, polling: 200 });
  const err = await page.$eval('#status', (e) => e.textContent);
  console.log(`bad model file: ${err}`);
  if (!/^Error: notes\.pth: /.test(err)) fail(`a bad model file is not reported naming it: ${err}`);
  // a browser without WebGPU is told so, and cannot pick a file
  const bare = await browser.newPage();
  await bare.evaluateOnNewDocument(() => Object.defineProperty(Navigator.prototype, 'gpu', { get: () => undefined }));
  await bare.goto(url);
  await bare.waitForFunction(() => document.body.dataset.state === 'nowebgpu', { timeout: 30_000 });
  const told = await bare.$eval('#nogpu', (e) => getComputedStyle(e).display !== 'none' && e.textContent);
  if (!told || !/no usable WebGPU/.test(told) || !(await bare.$eval('#file', (e) => e.disabled))) fail(`no clear no-WebGPU message: ${told}`);
  console.log(`browser test passed in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
} finally {
  await browser.close();
  server.close();
  rmSync(tmp, { recursive: true, force: true });
}
