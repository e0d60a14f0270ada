// How far apart two upscales of the same image are, in 8-bit levels: the mean absolute difference
// over every RGB value, the largest, and the mean past N output pixels from the image's edge (ncnn
// pads the input at the edge where this engine, like PyTorch, zero-pads every conv, so the two
// differ most there). bench/vs-ncnn.sh prints it for this engine's and upscayl-bin's outputs.
//
//   node dist-bench/bench/image-diff.js A.png B.png [EDGE...]
import { readFileSync } from 'node:fs';
import { decodeImage } from '../src/image/image.js';
import type { Image } from '../src/image/pixels.js';
import { rgb255, shave } from '../src/image/metrics.js';

/** Mean and largest |a - b| in levels over the RGB values at least `edge` pixels from every side. */
export function levelDiff(a: Image, b: Image, edge = 0): { mean: number; max: number; values: number } {
  if (a.width !== b.width || a.height !== b.height) throw new Error(`the images differ in size: ${a.width}x${a.height} and ${b.width}x${b.height}`);
  const levels = (im: Image) => shave(rgb255(im), im.width, im.height, 3, edge).data;
  const la = levels(a), lb = levels(b);
  let sum = 0, max = 0;
  for (let i = 0; i < la.length; i++) {
    const d = Math.abs(Math.round(la[i]) - Math.round(lb[i]));
    sum += d; max = Math.max(max, d);
  }
  return { mean: la.length ? sum / la.length : 0, max, values: la.length };
}

const isMain = process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href;
if (isMain) {
  const [fa, fb, ...edges] = process.argv.slice(2);
  if (!fa || !fb) { process.stderr.write('usage: node dist-bench/bench/image-diff.js A.png B.png [EDGE...]\n'); process.exit(2); }
  try {
    const a = decodeImage(new Uint8Array(readFileSync(fa)), fa), b = decodeImage(new Uint8Array(readFileSync(fb)), fb);
    for (const e of [0, ...edges.map(Number)]) {
      const d = levelDiff(a, b, e);
      process.stdout.write(`${e ? `past ${e} pixels from the edge` : 'whole image'}: ${d.mean.toFixed(3)} levels mean absolute, ${d.max} at most (${d.values} values)\n`);
    }
  } catch (err) {
    process.stderr.write(`error: ${(err as Error).message}\n`);
    process.exit(1);
  }
}
