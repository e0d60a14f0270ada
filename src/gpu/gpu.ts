// The WebGPU runtime: one adapter and device per process, a buffer pool, a pipeline cache,
// and a command recorder that packs many dispatches into one submit.
//
// Everything above this file talks to the GPU through `Gpu`: it never creates buffers,
// pipelines or encoders itself. That keeps three promises in one place: the pool is the only
// allocator (so leaks show up as pool growth), each shader+constants pair is compiled once,
// and errors name the kernel that caused them.
//
// Platform-neutral: the WebGPU entry point comes in as a `GPU` object (navigator.gpu in a page,
// Dawn's in Node: src/node/gpu.ts starts Dawn and calls openGpu). Nothing here imports from Node.

export interface OpenGpuOptions {
  powerPreference?: GPUPowerPreference;
  /** Names the backend in describe() (Dawn's flag); browsers do not say. */
  backend?: string;
  /** Appended to the error when there is no adapter: how to get one on this platform. */
  noAdapterHelp?: string;
}

export class GpuError extends Error {
  override name = 'GpuError';
}

export interface AdapterDescription {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  backend: string;
  isFallback: boolean;
  features: string[];
  limits: Record<string, number>;
}

const UNIFORM_SLOT = 256; // minUniformBufferOffsetAlignment on every adapter we know
const UNIFORM_SLOTS = 512; // dispatches per submit before an automatic flush
const PROFILE_SLOTS = 1024; // timed dispatches per submit while profiling (two timestamps each)

/** GPU time of one kernel over a profile (see Gpu.startProfile). */
export interface KernelTime {
  /** Sum over its dispatches, from the adapter's timestamps at the start and end of each. */
  ms: number;
  dispatches: number;
}

interface PipelineEntry {
  pipeline: GPUComputePipeline;
  layout: GPUBindGroupLayout;
  name: string;
}

export class Gpu {
  readonly device: GPUDevice;
  readonly adapter: GPUAdapter;
  readonly info: AdapterDescription;
  readonly limits: GPUSupportedLimits;
  readonly hasF16: boolean;
  readonly pool: BufferPool;

  /** Compiled pipelines by shader source, then by name, entry point and override constants. */
  private pipelines = new Map<string, Map<string, PipelineEntry>>();
  private shaderModules = new Map<string, GPUShaderModule>();
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private uniformData = new ArrayBuffer(UNIFORM_SLOT * UNIFORM_SLOTS);
  private uniformBuffer: GPUBuffer;
  private uniformCount = 0;
  private lostReason: string | null = null;
  private pendingError: string | null = null;
  private lastKernel = '';
  private destroyed = false;
  /** While profiling: the query set, the names of the timed dispatches not yet resolved, and the
   *  readback buffers of the submitted ones. */
  private profile: {
    queries: GPUQuerySet; resolve: GPUBuffer; names: string[];
    submitted: Array<{ buffer: GPUBuffer; names: string[] }>;
  } | null = null;

  /** Counters for benchmarks: reset them, run a step, read them. */
  stats = { dispatches: 0, submits: 0, readbacks: 0, pipelinesCompiled: 0, compileMs: 0 };
  /**
   * Kernel variants measured on this machine (src/kernels/variants.ts): `${family}|${class}` ->
   * override constants. Empty: every launcher uses its built-in tiles.
   */
  variants: Record<string, Record<string, number>> = {};

  /**
   * The WebGPU entry point. Dawn's must stay referenced for the device's whole life: if the GC
   * collects it, Dawn frees the instance while its event loop still runs, and the process crashes.
   */
  private readonly instance: GPU;

  constructor(instance: GPU, adapter: GPUAdapter, device: GPUDevice, backend: string) {
    this.instance = instance;
    this.adapter = adapter;
    this.device = device;
    this.limits = device.limits;
    this.hasF16 = device.features.has('shader-f16');
    const i = adapter.info;
    const limits: Record<string, number> = {};
    for (const k of [
      'maxBufferSize', 'maxStorageBufferBindingSize', 'maxComputeWorkgroupStorageSize',
      'maxComputeInvocationsPerWorkgroup', 'maxComputeWorkgroupSizeX', 'maxComputeWorkgroupSizeY',
      'maxComputeWorkgroupsPerDimension', 'maxStorageBuffersPerShaderStage',
    ] as const) limits[k] = Number(device.limits[k]);
    this.info = {
      vendor: i.vendor, architecture: i.architecture, device: i.device, description: i.description,
      backend, isFallback: Boolean((i as unknown as { isFallbackAdapter?: boolean }).isFallbackAdapter),
      features: [...device.features].map(String).sort(), limits,
    };
    this.pool = new BufferPool(device);
    this.uniformBuffer = device.createBuffer({
      label: 'uniforms', size: this.uniformData.byteLength,
      usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
    });
    device.lost.then((l) => {
      if (!this.destroyed) this.lostReason = `${l.reason}: ${l.message}`;
    });
    device.addEventListener('uncapturederror', (ev) => {
      const e = (ev as GPUUncapturedErrorEvent).error;
      if (!this.pendingError) this.pendingError = `${e.message} (last kernel: ${this.lastKernel || 'none'})`;
    });
  }

  /** A short line describing the adapter, for logs and benchmark headers. */
  describe(): string {
    const i = this.info;
    const name = i.description || i.device || i.vendor || 'unknown adapter';
    return `${name} [${i.backend}${i.architecture ? ', ' + i.architecture : ''}${i.isFallback ? ', software' : ''}]`;
  }

  /** Throws if the device was lost or an error was reported since the last check. */
  check(): void {
    if (this.lostReason) throw new GpuError(`GPU device lost (${this.lostReason}); last kernel: ${this.lastKernel}`);
    if (this.pendingError) {
      const e = this.pendingError;
      this.pendingError = null;
      throw new GpuError(`WebGPU error: ${e}`);
    }
  }

  /**
   * Compiles (once) and returns a compute pipeline. `name` names the kernel in errors;
   * `constants` fill WGSL override declarations (tile sizes). The cache is keyed on the shader
   * source itself, then on the name, entry point and constants: two sources under one name (a
   * prelude chosen by the adapter's features) never share a pipeline. Looking a source string up
   * costs no rehash: the bundled sources are the same string objects every call.
   */
  pipeline(name: string, code: string, constants: Record<string, number> = {}, entryPoint = 'main'): PipelineEntry {
    const key = `${name}|${entryPoint}|${JSON.stringify(constants)}`;
    let byKey = this.pipelines.get(code);
    if (!byKey) this.pipelines.set(code, (byKey = new Map()));
    let p = byKey.get(key);
    if (p) return p;
    const t0 = performance.now();
    let module = this.shaderModules.get(name + '\0' + code);
    if (!module) {
      module = this.device.createShaderModule({ label: name, code });
      this.shaderModules.set(name + '\0' + code, module);
    }
    // Errors arrive through 'uncapturederror' (labelled with the kernel) and are thrown at the next
    // check(); pipelineChecked() gives a verdict up front when needed.
    const compute: GPUProgrammableStage = { module, entryPoint };
    if (Object.keys(constants).length) compute.constants = constants;
    const pipeline = this.device.createComputePipeline({ label: name, layout: 'auto', compute });
    p = { pipeline, layout: pipeline.getBindGroupLayout(0), name };
    byKey.set(key, p);
    this.stats.pipelinesCompiled++;
    this.stats.compileMs += performance.now() - t0;
    return p;
  }

  /**
   * Compiles a pipeline and waits for Dawn's verdict, throwing a GpuError naming the kernel if the
   * WGSL does not compile. Tests and benchmarks use it to time compilation and surface errors early.
   */
  async pipelineChecked(name: string, code: string, constants: Record<string, number> = {}, entryPoint = 'main'): Promise<PipelineEntry> {
    const key = `${name}|${entryPoint}|${JSON.stringify(constants)}`;
    const cached = this.pipelines.get(code)?.get(key);
    if (cached) return cached;
    this.device.pushErrorScope('validation');
    const module = this.device.createShaderModule({ label: name, code });
    const info = await module.getCompilationInfo();
    await this.device.popErrorScope(); // the messages below say it better
    const errs = info.messages.filter((m) => m.type === 'error');
    if (errs.length) {
      throw new GpuError(`shader '${name}' failed to compile: ` +
        errs.map((m) => `line ${m.lineNum}:${m.linePos} ${m.message}`).join('; '));
    }
    this.shaderModules.set(name + '\0' + code, module);
    this.device.pushErrorScope('validation');
    const p = this.pipeline(name, code, constants, entryPoint);
    const e = await this.device.popErrorScope();
    if (e) {
      this.pipelines.get(code)?.delete(key);
      throw new GpuError(`kernel '${name}' failed to build: ${e.message}`);
    }
    this.check();
    return p;
  }

  private ensurePass(): GPUComputePassEncoder {
    if (!this.pass) {
      this.encoder ??= this.device.createCommandEncoder();
      this.pass = this.encoder.beginComputePass();
    }
    return this.pass;
  }

  /**
   * Records one dispatch. `uniforms` is the kernel's parameter block (u32/i32/f32 words, binding 0
   * when present); `buffers` follow at bindings 1, 2, ... in the order the WGSL declares them.
   * Launchers call this through src/kernels/spec.ts `run`, which packs and binds by name.
   */
  dispatch(p: PipelineEntry, uniforms: ArrayBuffer | ArrayBufferView | null, buffers: GPUBuffer[],
    workgroups: [number, number?, number?]): void {
    if (this.destroyed) throw new GpuError('GPU runtime used after destroy()');
    const [x, y = 1, z = 1] = workgroups;
    if (x === 0 || y === 0 || z === 0) return;
    const maxWg = this.limits.maxComputeWorkgroupsPerDimension;
    if (x > maxWg || y > maxWg || z > maxWg) {
      throw new GpuError(`kernel '${p.name}': dispatch ${x}x${y}x${z} exceeds ${maxWg} workgroups per dimension`);
    }
    if (uniforms && this.uniformCount >= UNIFORM_SLOTS) this.flush();
    const entries: GPUBindGroupEntry[] = [];
    let binding = 0;
    if (uniforms) {
      const bytes = ArrayBuffer.isView(uniforms)
        ? new Uint8Array(uniforms.buffer, uniforms.byteOffset, uniforms.byteLength)
        : new Uint8Array(uniforms);
      if (bytes.byteLength > UNIFORM_SLOT) throw new GpuError(`kernel '${p.name}': uniform block over ${UNIFORM_SLOT} bytes`);
      const offset = this.uniformCount * UNIFORM_SLOT;
      new Uint8Array(this.uniformData, offset, UNIFORM_SLOT).fill(0).set(bytes);
      entries.push({ binding: binding++, resource: { buffer: this.uniformBuffer, offset, size: UNIFORM_SLOT } });
      this.uniformCount++;
    }
    const maxBinding = Number(this.limits.maxStorageBufferBindingSize);
    for (const b of buffers) {
      const bound = b.size;
      if (bound > maxBinding) {
        throw new GpuError(`kernel '${p.name}': a ${(bound / 2 ** 20).toFixed(0)} MiB tensor exceeds the adapter's storage binding limit ` +
          `(${(maxBinding / 2 ** 20).toFixed(0)} MiB); use a smaller batch, crop or tile`);
      }
      entries.push({ binding: binding++, resource: { buffer: b } });
    }
    const prof = this.profile;
    if (prof && prof.names.length >= PROFILE_SLOTS) this.flush();
    const pass = prof ? this.timedPass(prof) : this.ensurePass();
    const group = this.device.createBindGroup({ layout: p.layout, entries });
    pass.setPipeline(p.pipeline);
    pass.setBindGroup(0, group);
    pass.dispatchWorkgroups(x, y, z);
    this.lastKernel = p.name;
    this.stats.dispatches++;
    if (prof) {
      prof.names.push(p.name);
      this.endPass();
    }
  }

  /** Whether kernels can be timed on this device (its 'timestamp-query' feature). */
  get canProfile(): boolean {
    return this.device.features.has('timestamp-query');
  }

  /**
   * Starts timing every dispatch on the adapter's clock: from now until stopProfile(), each
   * dispatch runs in a compute pass of its own, with timestamps written at its start and end.
   * For finding where time goes (bench/profile.ts), not for production runs: the extra passes cost
   * a little, and the sum of kernel times leaves out the gaps between them.
   */
  startProfile(): void {
    if (!this.canProfile) throw new GpuError(`${this.describe()} cannot time kernels (no 'timestamp-query' feature)`);
    if (this.profile) throw new GpuError('a profile is already running');
    this.flush();
    this.profile = {
      queries: this.device.createQuerySet({ type: 'timestamp', count: 2 * PROFILE_SLOTS }),
      resolve: this.device.createBuffer({ size: 16 * PROFILE_SLOTS, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC }),
      names: [], submitted: [],
    };
  }

  /** Ends the profile once its work is done: GPU time per kernel name, largest first. */
  async stopProfile(): Promise<Map<string, KernelTime>> {
    if (!this.profile) throw new GpuError('no profile is running');
    await this.sync(); // resolves the last timestamps
    const prof = this.profile;
    this.profile = null;
    const times = new Map<string, KernelTime>();
    try {
      for (const { buffer, names } of prof.submitted) {
        await buffer.mapAsync(GPUMapMode.READ);
        const t = new BigUint64Array(buffer.getMappedRange());
        names.forEach((name, i) => {
          const e = times.get(name) ?? { ms: 0, dispatches: 0 };
          e.ms += Number(t[2 * i + 1] - t[2 * i]) / 1e6; // nanoseconds
          e.dispatches++;
          times.set(name, e);
        });
        buffer.unmap();
      }
    } finally {
      for (const { buffer } of prof.submitted) buffer.destroy();
      prof.queries.destroy();
      prof.resolve.destroy();
    }
    return new Map([...times].sort((a, b) => b[1].ms - a[1].ms));
  }

  private timedPass(prof: NonNullable<Gpu['profile']>): GPUComputePassEncoder {
    this.endPass();
    this.encoder ??= this.device.createCommandEncoder();
    const i = prof.names.length;
    this.pass = this.encoder.beginComputePass({
      timestampWrites: { querySet: prof.queries, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 },
    });
    return this.pass;
  }

  /** Records a buffer-to-buffer copy (ends the current compute pass). */
  copy(src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, size: number): void {
    if (size === 0) return;
    this.endPass();
    this.encoder ??= this.device.createCommandEncoder();
    this.encoder.copyBufferToBuffer(src, srcOffset, dst, dstOffset, size);
  }

  private endPass(): void {
    if (this.pass) {
      this.pass.end();
      this.pass = null;
    }
  }

  /** Submits everything recorded so far. */
  flush(): void {
    this.endPass();
    const prof = this.profile;
    if (prof && prof.names.length && this.encoder) {
      // the timestamps of this submit's dispatches, copied out before the query slots are reused
      const n = prof.names.length;
      const buffer = this.device.createBuffer({ size: 16 * n, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
      this.encoder.resolveQuerySet(prof.queries, 0, 2 * n, prof.resolve, 0);
      this.encoder.copyBufferToBuffer(prof.resolve, 0, buffer, 0, 16 * n);
      prof.submitted.push({ buffer, names: prof.names });
      prof.names = [];
    }
    if (this.uniformCount) {
      // The uniform buffer is reused by every batch: writeBuffer is ordered on the queue after the
      // previous submit, so the previous batch has consumed its parameters before they change.
      this.device.queue.writeBuffer(this.uniformBuffer, 0, new Uint8Array(this.uniformData, 0, this.uniformCount * UNIFORM_SLOT));
      this.uniformCount = 0;
    }
    if (this.encoder) {
      this.device.queue.submit([this.encoder.finish()]);
      this.encoder = null;
      this.stats.submits++;
    }
  }

  /** Uploads data into a buffer (queue-ordered after everything recorded so far). */
  write(buffer: GPUBuffer, data: ArrayBufferView, offset = 0): void {
    this.flush();
    this.device.queue.writeBuffer(buffer, offset, new Uint8Array(data.buffer as ArrayBuffer, data.byteOffset, data.byteLength));
  }

  /** Waits for all submitted work; throws if anything failed. */
  async sync(): Promise<void> {
    this.flush();
    await this.device.queue.onSubmittedWorkDone();
    this.check();
  }

  /** Reads `byteLength` bytes of a buffer back to the CPU. */
  async read(buffer: GPUBuffer, byteLength: number, offset = 0): Promise<ArrayBuffer> {
    const size = Math.ceil(byteLength / 4) * 4;
    const staging = this.pool.acquireStaging(size);
    try {
      this.copy(buffer, offset, staging, 0, size);
      this.flush();
      this.stats.readbacks++;
      await staging.mapAsync(GPUMapMode.READ, 0, size);
      const out = staging.getMappedRange(0, size).slice(0, byteLength);
      staging.unmap();
      this.check();
      return out;
    } catch (e) {
      this.check();
      throw e;
    } finally {
      this.pool.releaseStaging(staging);
    }
  }

  /** Releases every GPU object (so that a Node process can exit by itself). */
  destroy(): void {
    if (this.destroyed) return;
    try { this.flush(); } catch { /* device may be lost already */ }
    this.destroyed = true;
    if (this.profile) {
      for (const { buffer } of this.profile.submitted) buffer.destroy();
      this.profile.queries.destroy();
      this.profile.resolve.destroy();
      this.profile = null;
    }
    this.pool.destroyAll();
    this.uniformBuffer.destroy();
    this.pipelines.clear();
    this.shaderModules.clear();
    this.device.destroy();
    if (current === this) current = null;
  }
}

/**
 * Storage buffers, recycled by size. A released buffer may be handed out again at once: every
 * use is recorded on the one queue in order, so a later dispatch that overwrites it runs after
 * the earlier readers. Sizes are rounded up to a 256-byte step below 64 KiB and to one of
 * 8 steps per power of two above, so shapes that vary a little still share buffers.
 */
export class BufferPool {
  private free = new Map<number, GPUBuffer[]>();
  private freeStaging = new Map<number, GPUBuffer[]>();
  private live = new Set<GPUBuffer>();
  /** Bytes of all storage buffers created and not destroyed (in use or free). */
  allocatedBytes = 0;
  /** Bytes handed out and not yet released. */
  inUseBytes = 0;
  peakInUseBytes = 0;
  peakAllocatedBytes = 0;

  constructor(private device: GPUDevice) {}

  static roundSize(bytes: number): number {
    const b = Math.max(16, bytes);
    if (b <= 65536) return Math.ceil(b / 256) * 256;
    const p = 2 ** Math.floor(Math.log2(b));
    const step = p / 8;
    return Math.ceil(b / step) * step;
  }

  acquire(bytes: number, label?: string): GPUBuffer {
    const size = BufferPool.roundSize(bytes);
    const list = this.free.get(size);
    let buf = list?.pop();
    if (!buf) {
      buf = this.device.createBuffer({
        label, size,
        usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
      });
      this.allocatedBytes += size;
      this.peakAllocatedBytes = Math.max(this.peakAllocatedBytes, this.allocatedBytes);
    }
    this.live.add(buf);
    this.inUseBytes += size;
    this.peakInUseBytes = Math.max(this.peakInUseBytes, this.inUseBytes);
    return buf;
  }

  release(buf: GPUBuffer): void {
    if (!this.live.delete(buf)) throw new GpuError('buffer released twice or not from this pool');
    this.inUseBytes -= buf.size;
    let list = this.free.get(buf.size);
    if (!list) this.free.set(buf.size, (list = []));
    list.push(buf);
  }

  /** Destroys free buffers (e.g. after a phase change), returning their memory to the driver. */
  trim(): void {
    for (const list of this.free.values()) for (const b of list) { this.allocatedBytes -= b.size; b.destroy(); }
    this.free.clear();
    for (const list of this.freeStaging.values()) for (const b of list) b.destroy();
    this.freeStaging.clear();
  }

  acquireStaging(size: number): GPUBuffer {
    const s = BufferPool.roundSize(size);
    const b = this.freeStaging.get(s)?.pop();
    return b ?? this.device.createBuffer({ size: s, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  }

  releaseStaging(b: GPUBuffer): void {
    let list = this.freeStaging.get(b.size);
    if (!list) this.freeStaging.set(b.size, (list = []));
    list.push(b);
  }

  get liveCount(): number { return this.live.size; }

  destroyAll(): void {
    this.trim();
    for (const b of this.live) b.destroy();
    this.live.clear();
    this.allocatedBytes = 0;
    this.inUseBytes = 0;
  }
}

let current: Gpu | null = null;
let pending: Promise<Gpu> | null = null;

/**
 * Opens an adapter and device on a WebGPU entry point (navigator.gpu, or Dawn's instance) and makes
 * it the runtime that gpu() returns; returns the existing runtime if there is one.
 */
export async function openGpu(api: GPU, o: OpenGpuOptions = {}): Promise<Gpu> {
  if (current) return current;
  if (pending) return pending;
  pending = (async () => {
    const help = o.noAdapterHelp ? ` ${o.noAdapterHelp}` : '';
    let adapter: GPUAdapter | null = null;
    try {
      adapter = await api.requestAdapter({ powerPreference: o.powerPreference ?? 'high-performance' });
    } catch (e) {
      throw new GpuError(`No WebGPU adapter found.${help} (${(e as Error).message})`);
    }
    if (!adapter) throw new GpuError(`No WebGPU adapter found.${help}`);
    // Ask for the adapter's real limits: the defaults (128 MiB bindings, 16 KiB workgroup memory,
    // 256 invocations) are lower than what most adapters offer.
    const want = [
      'maxBufferSize', 'maxStorageBufferBindingSize', 'maxComputeWorkgroupStorageSize',
      'maxComputeInvocationsPerWorkgroup', 'maxComputeWorkgroupSizeX', 'maxComputeWorkgroupSizeY',
      'maxComputeWorkgroupSizeZ', 'maxStorageBuffersPerShaderStage', 'maxComputeWorkgroupsPerDimension',
    ] as const;
    const requiredLimits: Record<string, number> = {};
    for (const k of want) requiredLimits[k] = Number(adapter.limits[k]);
    const requiredFeatures: GPUFeatureName[] = [];
    for (const f of ['shader-f16', 'timestamp-query', 'subgroups'] as GPUFeatureName[]) {
      if (adapter.features.has(f)) requiredFeatures.push(f);
    }
    const device = await adapter.requestDevice({ requiredLimits, requiredFeatures });
    const g = new Gpu(api, adapter, device, o.backend ?? ((adapter.info as unknown as { backend?: string }).backend) ?? 'default');
    current = g;
    return g;
  })();
  try {
    return await pending;
  } finally {
    pending = null;
  }
}

/** The runtime, if one is open. */
export function currentGpu(): Gpu | null {
  return current;
}

/** The runtime created by getGpu(); throws if there is none yet. */
export function gpu(): Gpu {
  if (!current) throw new GpuError('GPU runtime not initialised: call await getGpu() (Node) or openGpu(navigator.gpu) first');
  return current;
}

/** Destroys the process-wide runtime, if any. */
export function destroyGpu(): void {
  current?.destroy();
  current = null;
}
