// The page: pick or drop an image, upscale it on this machine's GPU through the library's browser
// entry, show it beside the input with a before/after slider, offer the PNG. Static files only.
// `document.body.dataset.state` (idle, working, done, error, nowebgpu) lets tests wait on it.
import { createUpscaler, hasWebGpu, type Upscaler } from '../browser.js';
import { DEFAULT_MODEL } from '../srgan/model.js';

/** How the page names the model it ships (models/default.safetensors is DEFAULT_MODEL's file). */
const SHIPPED = `${DEFAULT_MODEL} (shipped)`;

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const status = $('status'), progress = $<HTMLProgressElement>('progress');
const setState = (s: string, text: string) => { document.body.dataset.state = s; status.textContent = text; };

function noWebGpu(why: string): void {
  const box = $('nogpu');
  box.style.display = 'block';
  box.textContent = `This browser has no usable WebGPU (${why}), so nothing can be upscaled here. ` +
    'Use a current Chrome or Edge (WebGPU is on by default), Safari 26+, or Firefox 141+ on Windows; ' +
    'on Linux Chrome may need chrome://flags/#enable-unsafe-webgpu.';
  $<HTMLInputElement>('file').disabled = true;
  $<HTMLInputElement>('modelfile').disabled = true;
  setState('nowebgpu', '');
}

let upscaler: Promise<Upscaler> | null = null;
let current: AbortController | null = null;
let lastUrl = '';
/** The model the next upscaler loads: the shipped default, or a file the user picked. */
let model: { src: URL | Uint8Array | { param: Uint8Array; bin: Uint8Array; name: string }; name: string } | null = null;
let lastImage: File | null = null;
/** ?tile=N caps the tile side (tests use it to exercise tiling on small images). */
const tile = () => Number(new URLSearchParams(location.search).get('tile')) || undefined;

function newUpscaler(): Promise<Upscaler> {
  model ??= { src: new URL('models/default.safetensors', document.baseURI), name: SHIPPED };
  const name = model.name;
  const p = createUpscaler({ model: model.src, tile: tile() }).catch((e: Error) => {
    // the library names bytes 'model bytes': name the user's file instead
    throw new Error(e.message.replace(/^model bytes\b/, name));
  });
  p.catch(() => { if (upscaler === p) upscaler = null; });
  return p;
}

/**
 * A model file picked by the user (or an ncnn pair, .param and .bin): loaded and checked at once,
 * then used for the images that follow.
 */
async function useModelFile(files: File[]): Promise<void> {
  current?.abort();
  const previous = upscaler;
  const param = files.find((f) => /\.param$/i.test(f.name)), bin = files.find((f) => /\.bin$/i.test(f.name));
  const file = param ?? files[0];
  try {
    setState('working', `Loading the model ${file.name}...`);
    if (param || bin) {
      if (!param || !bin || files.length !== 2) throw new Error(`${file.name}: an ncnn model is two files: pick its .param and its .bin together`);
      model = { src: { param: new Uint8Array(await param.arrayBuffer()), bin: new Uint8Array(await bin.arrayBuffer()), name: param.name }, name: param.name };
    } else {
      if (files.length !== 1) throw new Error('pick one model file (or an ncnn .param with its .bin)');
      model = { src: new Uint8Array(await file.arrayBuffer()), name: file.name };
    }
    upscaler = newUpscaler();
    await upscaler;
    void previous?.then((u) => u.dispose(), () => {});
    $('model-name').textContent = file.name;
    if (lastImage) await run(lastImage);
    else setState('idle', `Model ${file.name} loaded. Pick an image.`);
  } catch (e) {
    model = null; // back to the shipped model for the next image
    upscaler = previous;
    $('model-name').textContent = SHIPPED;
    setState('error', `Error: ${(e as Error).message}`);
  }
}

async function decode(file: Blob): Promise<ImageData> {
  // no colour conversion: the pixels as stored, as the Node CLI reads them
  const bmp = await createImageBitmap(file, { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
  const c = new OffscreenCanvas(bmp.width, bmp.height);
  const ctx = c.getContext('2d')!;
  ctx.drawImage(bmp, 0, 0);
  bmp.close();
  return ctx.getImageData(0, 0, c.width, c.height);
}

async function run(file: File): Promise<void> {
  current?.abort();
  const ac = (current = new AbortController());
  try {
    setState('working', `Reading ${file.name}...`);
    lastImage = file;
    const img = await decode(file);
    if (img.width * img.height > 4096 * 4096) throw new Error(`${img.width}x${img.height} is too large for this page`);
    if (!upscaler) {
      setState('working', 'Loading the model and compiling kernels (once)...');
      upscaler = newUpscaler();
    }
    const u = await upscaler;
    progress.hidden = false;
    progress.value = 0;
    const t0 = performance.now();
    setState('working', `Upscaling ${img.width}x${img.height}...`);
    const out = await u.upscale(img, {
      signal: ac.signal,
      onProgress: (done, total) => { progress.max = total; progress.value = done; status.textContent = `Upscaling: tile ${done} of ${total}`; },
    });
    show(img, new ImageData(out.data as Uint8ClampedArray<ArrayBuffer>, out.width, out.height), file.name);
    setState('done', `Done: ${img.width}x${img.height} -> ${out.width}x${out.height} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  } catch (e) {
    if ((e as Error).name === 'AbortError') return; // a newer image took over
    setState('error', `Error: ${(e as Error).message}`);
    if (!hasWebGpu() || /adapter/i.test((e as Error).message)) noWebGpu((e as Error).message);
  } finally {
    if (current === ac) { current = null; progress.hidden = true; }
  }
}

function show(input: ImageData, output: ImageData, name: string): void {
  const W = output.width, H = output.height;
  const inView = $<HTMLCanvasElement>('input-view');
  inView.width = input.width; inView.height = input.height;
  inView.getContext('2d')!.putImageData(input, 0, 0);
  const after = $<HTMLCanvasElement>('after'), before = $<HTMLCanvasElement>('before');
  after.width = before.width = W; after.height = before.height = H;
  after.getContext('2d')!.putImageData(output, 0, 0);
  const b = before.getContext('2d')!;
  b.imageSmoothingQuality = 'high';
  b.drawImage(inView, 0, 0, W, H);
  $('in-size').textContent = `${input.width}x${input.height}`;
  $('out-size').textContent = `${W}x${H}`;
  $('out-model').textContent = model?.name.replace(/ \(shipped\)$/, '') ?? DEFAULT_MODEL;
  $('slider').style.width = `${W}px`;
  split();
  $('result').hidden = false;
  after.toBlob((blob) => {
    if (!blob) return;
    if (lastUrl) URL.revokeObjectURL(lastUrl);
    lastUrl = URL.createObjectURL(blob);
    const a = $<HTMLAnchorElement>('download');
    a.href = lastUrl;
    a.download = name.replace(/\.[^.]*$/, '') + '_x4.png';
    a.dataset.ready = '1';
  }, 'image/png');
}

/** The "before" canvas covers the left part of the comparison, up to the slider. */
function split(): void {
  const v = Number($<HTMLInputElement>('slider').value);
  $('before').style.clipPath = `inset(0 ${100 - v}% 0 0)`;
  $('bar').style.left = `${v}%`;
}

function init(): void {
  $('slider').addEventListener('input', split);
  $('model-name').textContent = SHIPPED;
  if (!hasWebGpu()) { noWebGpu('navigator.gpu is missing'); return; }
  const input = $<HTMLInputElement>('file'), drop = $('drop');
  input.addEventListener('change', () => { if (input.files?.[0]) void run(input.files[0]); });
  const modelFile = $<HTMLInputElement>('modelfile');
  modelFile.addEventListener('change', () => { if (modelFile.files?.length) void useModelFile(Array.from(modelFile.files)); });
  drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over'); });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    const f = e.dataTransfer?.files[0];
    if (f) void run(f);
  });
  setState('idle', 'Pick an image (PNG, JPEG, WebP...).');
}

init();
