// Image files in Node: only regular files read, sizes capped before reading, atomic writes. The
// codecs are src/image/'s (image.ts chooses one by the bytes or the file name).
import { promises as fs, constants as fsConstants } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join, extname } from 'node:path';
import { writeAtomic } from './state.js';
import { MAX_PIXELS, type Image } from '../image/pixels.js';
import { decodeImage, encodeByExtension, imageByteCap, readImageHeader, type ImageHeader } from '../image/image.js';

function oneLine(s: string): string {
  return s.replace(/\s+/g, ' ').trim();
}

function fail(name: string, problem: string): never {
  throw new Error(`${name}: ${oneLine(problem)}`);
}

function messageOf(e: unknown): string {
  return oneLine(e instanceof Error ? e.message : String(e));
}

/** Reads and decodes an image file; errors name the path. */
export async function readImage(path: string): Promise<Image> {
  return decodeImage(await readImageBytes(path, imageByteCap(MAX_PIXELS)), path);
}

/** What a non-regular file is, for error messages. */
function fileKind(st: import('node:fs').Stats): string {
  if (st.isDirectory()) return 'is a directory, not an image file';
  if (st.isCharacterDevice()) return 'is a character device, not a regular file';
  if (st.isBlockDevice()) return 'is a block device, not a regular file';
  if (st.isFIFO()) return 'is a FIFO (named pipe), not a regular file';
  if (st.isSocket()) return 'is a socket, not a regular file';
  return 'is not a regular file';
}

/**
 * The bytes of an image file, or its first `prefix` bytes. Only regular files are read: a device
 * or a FIFO would never end (/dev/zero grows memory until the process dies), so the file is opened
 * without blocking and checked on its own handle (no race with a rename in between). Files over
 * maxBytes are refused before anything is read.
 */
export async function readImageBytes(path: string, maxBytes: number, prefix = Infinity): Promise<Uint8Array> {
  let fh: fs.FileHandle;
  try {
    // O_NONBLOCK: opening a FIFO with no writer returns at once instead of hanging
    fh = await fs.open(path, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') fail(path, 'no such file');
    if (code === 'EACCES' || code === 'EPERM') fail(path, 'permission denied');
    if (code === 'ENXIO') fail(path, 'is a socket, not a regular file');
    fail(path, `cannot read (${messageOf(e)})`);
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) fail(path, fileKind(st));
    if (st.size > maxBytes) fail(path, `file too large (${st.size} bytes; the limit for this image is ${maxBytes})`);
    const n = Math.min(st.size, prefix);
    const buf = new Uint8Array(n);
    let got = 0;
    while (got < n) {
      const { bytesRead } = await fh.read(buf, got, n - got, got);
      if (bytesRead === 0) break; // the file shrank while being read: decoders report the truncation
      got += bytesRead;
    }
    return got === n ? buf : buf.subarray(0, got);
  } catch (e) {
    if ((e as Error).message?.startsWith(path + ':')) throw e;
    fail(path, `cannot read (${messageOf(e)})`);
  } finally {
    await fh.close().catch(() => {});
  }
}

/**
 * An image file's header: the first 64 KiB are read, the whole file (up to maxBytes) only when
 * the header runs on (a JPEG with a large EXIF or ICC segment before its frame header).
 */
export async function readImageFileHeader(path: string, maxBytes: number): Promise<ImageHeader> {
  const first = await readImageBytes(path, maxBytes, 65536);
  const h = readImageHeader(first, path) ?? (first.length === 65536 ? readImageHeader(await readImageBytes(path, maxBytes), path) : null);
  if (!h) fail(path, `truncated image (the header is cut short; file ends at ${first.length} bytes)`);
  return h;
}

/** Encodes by extension and writes atomically. */
export async function writeImage(path: string, img: Image, jpegQuality = 90): Promise<void> {
  await writeAtomic(path, encodeByExtension(img, path, jpegQuality));
}

export const IMAGE_EXTENSIONS = new Set(['.png', '.jpg', '.jpeg', '.bmp']);

export interface ListOptions {
  /**
   * Told of each image-named entry left out: `duplicateOf` is set when it is the same real file
   * as one already listed (a hard link, a symbolic link); otherwise `problem` says why.
   */
  onSkip?: (path: string, problem: string, duplicateOf?: string) => void;
  /**
   * Folders not to walk (compared as real folders, however they are spelt or linked): where the run
   * writes (upscale.js -o DIR inside an input folder, a training run folder inside --data), so a
   * later run never reads its own outputs back as inputs.
   */
  exclude?: string[];
}

/**
 * Image files under a folder, recursively, sorted (a stable order makes runs reproducible).
 * Symbolic links are followed, but each real folder is walked once (a link to a parent cannot loop)
 * and each real file listed once; only regular files are listed (a FIFO named x.png would hang
 * whoever reads it).
 */
export async function listImages(dir: string, opts: ListOptions = {}): Promise<string[]> {
  const st = await stat(dir).catch(() => null);
  if (!st) throw new Error(`${dir}: no such folder`);
  if (!st.isDirectory()) {
    if (IMAGE_EXTENSIONS.has(extname(dir).toLowerCase())) return [dir];
    throw new Error(`${dir}: not a folder or an image`);
  }
  const out: string[] = [];
  const id = (s: { dev: number; ino: number }) => `${s.dev}:${s.ino}`;
  const dirsSeen = new Set<string>([id(st)]);
  // an excluded folder counts as seen: never entered, by its name or through a link
  for (const e of opts.exclude ?? []) { const s = await stat(e).catch(() => null); if (s?.isDirectory() && id(s) !== id(st)) dirsSeen.add(id(s)); }
  const filesSeen = new Map<string, string>();
  const walk = async (d: string): Promise<void> => {
    let entries: import('node:fs').Dirent[];
    try {
      entries = await readdir(d, { withFileTypes: true });
    } catch (e) {
      if (d === dir) throw e;
      opts.onSkip?.(d, `cannot read folder (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
      return;
    }
    // folders reached through a link are walked after the real ones, so that a folder that is also
    // linked to is listed under its own name
    const linked: string[] = [];
    for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const p = join(d, e.name);
      const isImage = IMAGE_EXTENSIONS.has(extname(e.name).toLowerCase());
      if (!isImage && !e.isDirectory() && !e.isSymbolicLink()) continue;
      const s = await stat(p).catch(() => null); // follows links
      if (!s) { if (isImage) opts.onSkip?.(p, 'broken symbolic link'); continue; }
      if (s.isDirectory()) {
        if (e.isSymbolicLink()) linked.push(p);
        else if (!dirsSeen.has(id(s))) { dirsSeen.add(id(s)); await walk(p); }
      } else if (!isImage) continue;
      else if (!s.isFile()) opts.onSkip?.(p, 'not a regular file (device, FIFO or socket)');
      else if (filesSeen.has(id(s))) opts.onSkip?.(p, 'same file as another', filesSeen.get(id(s)));
      else { filesSeen.set(id(s), p); out.push(p); }
    }
    for (const p of linked) {
      const s = await stat(p).catch(() => null);
      if (s && !dirsSeen.has(id(s))) { dirsSeen.add(id(s)); await walk(p); }
    }
  };
  await walk(dir);
  return out;
}
