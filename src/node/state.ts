// Module state as safetensors files in Node: atomic writes, checked reads. The parsing and layout
// conversions are the engine's (src/nn/state.ts), re-exported here for Node callers.
import { createHash } from 'node:crypto';
import { dirname } from 'node:path';
import { open, readFile, rename, unlink } from 'node:fs/promises';
import type { Module } from '../nn/module.js';
import { parseSafetensorsHeader, headerLength, serializeSafetensors, type StHeader, type StTensor } from '../nn/safetensors.js';
import { CHECKSUM_KEY, loadTensors, parseSafetensorsChecked, stateTensors } from '../nn/state.js';


const nodeSha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');

/**
 * Writes bytes to a temporary file beside `path`, flushes it to disk, then renames it into place:
 * after a crash or power loss the file is either the old one or the whole new one, never a torn
 * mix (a rename without fsync can land before the data does).
 */
let tmpCounter = 0;
/** The one atomic writer of the project (images, models, checkpoints, logs, plots). */
export async function writeAtomic(path: string, bytes: Uint8Array): Promise<void> {
  const tmp = `${path}.${process.pid}.${Date.now() * 1000 + (tmpCounter++ % 1000)}.tmp`;
  try {
    const f = await open(tmp, 'wx');
    try {
      await f.writeFile(bytes);
      await f.sync();
    } finally {
      await f.close();
    }
    await rename(tmp, path);
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
  // and the rename itself, where the platform lets a folder be synced
  const d = await open(dirname(path), 'r').catch(() => null);
  if (d) await d.sync().catch(() => undefined).finally(() => d.close());
}

export function dataChecksum(tensors: Array<[string, StTensor]>): string {
  const h = createHash('sha256');
  for (const [, t] of tensors) h.update(t.data);
  return h.digest('hex');
}

/** Serializes with the data checksum in the metadata. */
export function serializeChecked(tensors: Array<[string, StTensor]>, metadata: Record<string, string>): Uint8Array {
  return serializeSafetensors(tensors, { ...metadata, [CHECKSUM_KEY]: dataChecksum(tensors) });
}

export async function saveModule(path: string, m: Module, metadata: Record<string, string> = {}, dtype: 'F32' | 'F16' = 'F32'): Promise<void> {
  const tensors = await stateTensors(m.stateEntries(), '', dtype);
  await writeAtomic(path, serializeChecked(tensors, metadata));
}

function readError(path: string, e: unknown): Error {
  const code = (e as NodeJS.ErrnoException).code;
  return new Error(`${path}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a folder, not a file' : (e as Error).message}`);
}

/** A file's safetensors header alone, checked against the file's size (a checkpoint may be 300 MB). */
export async function readSafetensorsHeader(path: string): Promise<StHeader> {
  const f = await open(path, 'r').catch((e) => { throw readError(path, e); });
  try {
    const size = (await f.stat()).size;
    const first = new Uint8Array(8);
    await f.read(first, 0, Math.min(8, size), 0).catch((e) => { throw readError(path, e); });
    const n = headerLength(first, size, path);
    const head = new Uint8Array(8 + n);
    head.set(first);
    await f.read(head, 8, n, 8);
    return parseSafetensorsHeader(head, size, path);
  } finally {
    await f.close();
  }
}

/**
 * Reads a safetensors file. When its metadata holds a data checksum (files this project writes),
 * the data must match it; `checked` says whether there was one to verify.
 */
export async function readSafetensors(path: string): Promise<{ tensors: Map<string, StTensor>; metadata: Record<string, string>; checked: boolean }> {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(path));
  } catch (e) {
    throw readError(path, e);
  }
  return parseSafetensorsChecked(bytes, path, nodeSha256);
}

export async function loadModule(path: string, m: Module): Promise<Record<string, string>> {
  const { tensors, metadata } = await readSafetensors(path);
  loadTensors(m.stateEntries(), tensors, path);
  return metadata;
}
