// The codecs' errors: one line, `<name>: <problem>`, because they end up in logs and CLI output;
// and the size check every decoder and header reader makes before it allocates.
import { MAX_PIXELS } from './pixels.js';

function oneLine(s: string): string {
  return s.replace(/\s+/g, ' ').trim();
}

export function fail(name: string, problem: string): never {
  throw new Error(`${name}: ${oneLine(problem)}`);
}

export function messageOf(e: unknown): string {
  return oneLine(e instanceof Error ? e.message : String(e));
}

export function checkSize(name: string, width: number, height: number): void {
  if (width === 0 || height === 0) fail(name, `zero-sized image (${width}x${height})`);
  if (width * height > MAX_PIXELS) fail(name, `image too large (${width}x${height})`);
}
