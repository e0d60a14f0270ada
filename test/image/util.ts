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

/** Asserts fn throws one single-line Error whose message matches re; returns the message. */
export function expectOneLineError(fn: () => unknown, re: RegExp): string {
  let msg: string | undefined;
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(Error);
    msg = (e as Error).message;
  }
  expect(msg, 'expected an error').toBeDefined();
  expect(msg).not.toMatch(/[\r\n]/);
  expect(msg).toMatch(re);
  return msg!;
}

export async function expectOneLineRejection(p: Promise<unknown>, re: RegExp): Promise<string> {
  let msg: string | undefined;
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(Error);
    msg = (e as Error).message;
  }
  expect(msg, 'expected an error').toBeDefined();
  expect(msg).not.toMatch(/[\r\n]/);
  expect(msg).toMatch(re);
  return msg!;
}
