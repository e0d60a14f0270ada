// The floors of docs/ARCHITECTURE.md, checked on every relative import under src/: a file imports
// from its own floor or the floors below, never from one above. The list of exceptions is empty
// since the training application moved to src/train/, above src/node/; it stays, so that an
// exception ever added must be written down here (and a listed one that is gone fails too).
import { describe, it, expect } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const SRC = fileURLToPath(new URL('../src/', import.meta.url));
/** Floor of each folder under src/ (files directly in src/ are the command-line entry points). */
const FLOORS: Record<string, number> = { gpu: 0, kernels: 1, nn: 2, image: 2, srgan: 3, node: 4, train: 5, web: 5, '.': 5 };

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    return e.isDirectory() ? sources(p) : e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [p] : [];
  });
}
const floorOf = (file: string) => {
  const top = relative(SRC, file).split('/');
  return FLOORS[top.length === 1 ? '.' : top[0]];
};

/** Every relative import of the tree as 'importer -> imported' (paths relative to src/, .ts). */
export function upwardImports(): string[] {
  const out: string[] = [];
  for (const file of sources(SRC)) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)[^'"]*?from\s+'(\.[^']+)'/g)) {
      const target = resolve(dirname(file), m[1]).replace(/\.js$/, '.ts');
      if (!target.startsWith(SRC)) continue;
      if (floorOf(target) > floorOf(file)) out.push(`${relative(SRC, file)} -> ${relative(SRC, target)}`);
    }
  }
  return out.sort();
}

describe('layering', () => {
  it('no import reaches up a floor (importer -> imported, relative to src/)', () => {
    expect(upwardImports(), 'upward imports').toEqual([]);
  });
});
