// Helpers for the image tests. Kept apart from test/helpers.ts, which starts the GPU.
import { expect } from 'vitest';

import { rng } from '../../src/nn/random.js';
export { rng };

/** n random integers in [0, max]. */
export function randInts(n: number, max: number, seed: number): number[] {
  const r = rng(seed);
  return Array.from({ length: n }, () => Math.floor(r() * (max + 1)));
}

/** CRC-32 as PNG uses it, written plainly (bit by bit) so it shares nothing with the code under test. */
export function crc32Slow(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
  }
  return (c ^ 0xffffffff) >>> 0;
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export function u32be(v: number): number[] {
  return [(v >>> 24) & 255, (v >>> 16) & 255, (v >>> 8) & 255, v & 255];
}

/** Asserts that `err` is one single-line Error whose message matches re; returns the message. */
function checkOneLine(err: unknown, re: RegExp): string {
  expect(err, 'expected an error').toBeDefined();
  expect(err).toBeInstanceOf(Error);
  const msg = (err as Error).message;
  expect(msg).not.toMatch(/[\r\n]/);
  expect(msg).toMatch(re);
  return msg;
}

/** Asserts fn throws one single-line Error whose message matches re; returns the message. */
export function expectOneLineError(fn: () => unknown, re: RegExp): string {
  let err: unknown;
  try { fn(); } catch (e) { err = e; }
  return checkOneLine(err, re);
}

/** The same for a promise that must reject. */
export async function expectOneLineRejection(p: Promise<unknown>, re: RegExp): Promise<string> {
  let err: unknown;
  try { await p; } catch (e) { err = e; }
  return checkOneLine(err, re);
}
