// WGSL sources, bundled as strings at build time from shaders/ (one file per kernel family) by
// scripts/gen-shaders.mjs: the engine reads no files, so it runs in a page as in Node.
import type { Gpu } from '../gpu/gpu.js';
import { SHADERS } from './shaders.generated.js';

/** The text of shaders/<name>.wgsl. */
export function shaderSource(name: string): string {
  const s = SHADERS[name];
  if (s === undefined) throw new Error(`no shader '${name}' (shaders/${name}.wgsl; run npm run build to bundle new shaders)`);
  return s;
}

/** Workgroup count for `n` items at `per` items per workgroup. */
export const groups = (n: number, per: number): number => Math.ceil(n / per);

/**
 * Whether subgroup operations can share loads across a workgroup: the feature, and subgroups of at
 * least 8 lanes (see shaders/prelude_share.wgsl).
 */
export function subgroupsCanShare(g: Gpu): boolean {
  const info = g.adapter.info as unknown as { subgroupMinSize?: number };
  return g.device.features.has('subgroups') && (info.subgroupMinSize ?? 0) >= 8;
}

const preluded = new Map<string, string>();
/**
 * shaders/<name>.wgsl behind the prelude that supplies its entry point `main` (sharing or not). Made
 * once per kernel and prelude: launchers ask for it at every dispatch, and the GPU's pipeline cache
 * looks the source up by value, which a fresh concatenation would make it hash anew each time.
 */
export function withPrelude(name: string, share: boolean): string {
  const key = `${name}\0${share}`;
  let s = preluded.get(key);
  if (s === undefined) preluded.set(key, (s = shaderSource(share ? 'prelude_share' : 'prelude_noshare') + '\n' + shaderSource(name)));
  return s;
}
