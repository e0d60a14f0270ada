// The engine's GPU in Node: Dawn (`webgpu` package) started with flags from options or the
// environment, its WebGPU globals installed, the adapter reported on stderr. Node-only; the engine
// itself (src/gpu) takes any `GPU` object.
import { create, globals } from 'webgpu';
import { openGpu, currentGpu, GpuError, type Gpu } from '../gpu/gpu.js';
import { loadVariants } from './variants.js';

// GPUBufferUsage, GPUMapMode, GPUBuffer...: globals in a browser, exported by Dawn in Node.
Object.assign(globalThis, globals);

export { gpu, destroyGpu, GpuError, type Gpu } from '../gpu/gpu.js';

export interface GpuOptions {
  /** Dawn backend: 'vulkan', 'opengl', 'null', ... Defaults to $SRGAN_BACKEND, else Dawn's choice. */
  backend?: string;
  /** Adapter name substring as Dawn lists it. Defaults to $SRGAN_ADAPTER. */
  adapter?: string;
  powerPreference?: GPUPowerPreference;
  /** Print the adapter in use on stderr (default true unless $SRGAN_QUIET is set). */
  verbose?: boolean;
}

const HOW_TO_GET_ONE =
  'On a machine without a GPU install Mesa\'s software Vulkan driver ' +
  '(lavapipe, Mesa >= 24): on Debian bookworm run `sudo bash scripts/install-vulkan.sh`. ' +
  'Set SRGAN_BACKEND (vulkan, opengl, ...) or SRGAN_ADAPTER to pick another adapter.';

export const NO_ADAPTER_HELP = `No WebGPU adapter found. ${HOW_TO_GET_ONE}`;

function ensureRuntimeDir(): void {
  // Dawn's Vulkan loader warns without it
  if (!process.env.XDG_RUNTIME_DIR) process.env.XDG_RUNTIME_DIR = '/tmp';
}

let starting: Promise<Gpu> | null = null;

/** Creates the process-wide GPU runtime on Dawn (or returns the existing one). */
export async function getGpu(options: GpuOptions = {}): Promise<Gpu> {
  const cur = currentGpu();
  if (cur) return cur;
  if (starting) return starting;
  starting = (async () => {
    const backend = options.backend ?? process.env.SRGAN_BACKEND ?? undefined;
    const adapter = options.adapter ?? process.env.SRGAN_ADAPTER ?? undefined;
    const verbose = options.verbose ?? !process.env.SRGAN_QUIET;
    ensureRuntimeDir();
    const flags: string[] = [];
    if (backend) flags.push(`backend=${backend}`);
    if (adapter) flags.push(`adapter=${adapter}`);
    let api: GPU;
    try {
      api = create(flags);
    } catch (e) {
      throw new GpuError(`${NO_ADAPTER_HELP} (${(e as Error).message})`);
    }
    const g = await openGpu(api, { backend, powerPreference: options.powerPreference, noAdapterHelp: HOW_TO_GET_ONE });
    // this machine's measured kernel tiles (node dist/tune.js), when there is a table
    const variants = await loadVariants(g);
    if (typeof variants === 'object') process.stderr.write(`warning: ${variants.problem}\n`);
    if (verbose) process.stderr.write(`WebGPU adapter: ${g.describe()}${variants === 'loaded' ? ' (kernel tiles measured on this machine)' : ''}\n`);
    return g;
  })();
  try {
    return await starting;
  } finally {
    starting = null;
  }
}

/** An adapter as Dawn offers it: `name` is what `adapter` (or $SRGAN_ADAPTER) matches. */
export interface AdapterListing { name: string; backend: string; type: string; description: string }

/**
 * Every adapter Dawn offers on its default backends. Dawn has no listing call: asking for an
 * adapter name that cannot exist makes it answer with the list, and each one is then opened to
 * tell software (CPU) from hardware. The instances stay referenced until the end (see Gpu.instance).
 */
export async function listAdapters(): Promise<AdapterListing[]> {
  ensureRuntimeDir();
  const keep: GPU[] = [];
  const open = (flags: string[]) => { const g = create(flags); keep.push(g); return g.requestAdapter(); };
  let text = '';
  try { await open(['adapter=\u0001(list)']); } catch (e) { text = (e as Error).message; }
  const out: AdapterListing[] = [];
  for (const m of text.matchAll(/\* backend: '([^']*)', name: '([^']*)'/g)) {
    const [, backend, name] = m;
    const a = await open([`backend=${backend}`, `adapter=${name}`]).catch(() => null);
    const soft = Boolean((a?.info as unknown as { isFallbackAdapter?: boolean } | undefined)?.isFallbackAdapter);
    out.push({ name, backend, type: a ? (soft ? 'CPU (software)' : 'GPU') : 'unavailable', description: a?.info.description ?? '' });
  }
  keep.length = 0;
  return out;
}
