// Where a path really is, for the one question every program that writes asks: is this output one
// of my inputs? Outputs may not exist yet, and strings are never compared as typed: D/a.png,
// D/./a.png and a folder reached through a link name the same file.
import { realpath, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';

/** The real path of the deepest existing folder above p, plus the rest (p need not exist). */
export async function realOut(p: string): Promise<string> {
  const abs = resolve(p);
  const real = await realpath(abs).catch(() => null);
  if (real) return real;
  const parent = dirname(abs);
  return parent === abs ? abs : join(await realOut(parent), basename(abs));
}

/** Whether writing `out` would replace `input`: the same real path, or the same file (device and inode: hard links). */
export async function sameFile(input: string, out: string): Promise<boolean> {
  if ((await realOut(input)) === (await realOut(out))) return true;
  const [a, b] = await Promise.all([stat(input).catch(() => null), stat(out).catch(() => null)]);
  return !!a && !!b && a.dev === b.dev && a.ino === b.ino;
}
