// ImageNet VGG19 weights from disk for the network of src/srgan/vgg19.ts: a TensorFlow.js layers
// model (a folder holding model.json, or the model.json itself; Keras names) or a safetensors file
// with torchvision's names.
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { toFloat32 } from '../nn/safetensors.js';
import type { VGG19Features, VggTensor } from '../srgan/vgg19.js';
import { readSafetensors } from './state.js';
import { loadTfjsModel } from './tfjs.js';

/** Reads the weights at `path` into `vgg` (and its matching input mapping). */
export async function loadVgg19(vgg: VGG19Features, path: string): Promise<void> {
  let p = path;
  const st = await stat(p).catch(() => null);
  if (!st) throw new Error(`${path}: no such file or folder (VGG19 weights)`);
  if (st.isDirectory()) p = join(p, 'model.json');
  if (p.endsWith('.json')) {
    const tf = await loadTfjsModel(p);
    vgg.setWeights(tf.tensors, 'keras', p);
  } else {
    const { tensors } = await readSafetensors(p);
    const f32 = new Map<string, VggTensor>();
    for (const [name, t] of tensors) if (name.startsWith('features.')) f32.set(name, { shape: t.shape, data: toFloat32(t, name) });
    vgg.setWeights(f32, 'torchvision', p);
  }
}
