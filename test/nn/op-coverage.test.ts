// Every op of src/nn/ops.ts that defines a backward rule (a record() on the tape) is gradient-checked:
// test/nn/gradients.test.ts calls it inside a finite-difference check. A new op without one fails
// here by name (add, mul, mean and scale make every check's loss, dot(), so every check runs them).
import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';

const read = (p: string) => readFileSync(new URL(p, import.meta.url), 'utf8');

/** Exported ops and whether their own body records a backward rule. */
export function opsWithBackward(src: string): string[] {
  const starts = [...src.matchAll(/^export (?:function|const) (\w+)/gm)];
  return starts.filter((m, i) => src.slice(m.index, starts[i + 1]?.index ?? src.length).includes('record(')).map((m) => m[1]);
}

describe('gradient checks cover the ops', () => {
  it('every op with a backward rule is called in a gradient check', () => {
    const ops = opsWithBackward(read('../../src/nn/ops.ts'));
    expect(ops.length).toBeGreaterThan(10); // the scan found the ops
    const checks = read('./gradients.test.ts');
    const missing = ops.filter((op) => !new RegExp(`ops\\.${op}\\(`).test(checks));
    expect(missing, 'ops with a backward rule and no gradient check in test/nn/gradients.test.ts').toEqual([]);
  });
});
