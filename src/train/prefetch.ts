// Batches made ahead of the training step. The real-world degradations cost tens of milliseconds a
// sample on the CPU, so a worker thread builds the next batches while the GPU runs the current step;
// the trainer only waits when the worker falls behind (`waitMs` says how long, in all).
import { Worker } from 'node:worker_threads';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { makeBatch, type Batch, type RgbImage } from './data.js';
import type { DegradationConfig } from '../srgan/degrade.js';

export interface BatchParams { n: number; crop: number; scale: number; seed: number; degradation?: DegradationConfig }

const WORKER_URL = new URL('./batch-worker.js', import.meta.url);

export class BatchSource {
  private worker: Worker | null = null;
  private pending = new Map<number, { resolve: (b: Batch) => void; reject: (e: Error) => void; promise: Promise<Batch> }>();
  private failed: Error | null = null;
  /** Milliseconds get() spent waiting for batches that were not ready. */
  waitMs = 0;
  /** Milliseconds the producer spent building batches. */
  buildMs = 0;
  built = 0;

  /**
   * `ahead` batches are kept in flight past the one asked for. `worker: false` (or a build without
   * the compiled worker, as under vitest's TypeScript) makes each batch in this thread when asked.
   */
  constructor(private images: RgbImage[], private p: BatchParams, opts: { ahead?: number; worker?: boolean } = {}) {
    this.ahead = opts.ahead ?? 2;
    if (opts.worker !== false && WORKER_URL.protocol === 'file:' && existsSync(fileURLToPath(WORKER_URL))) {
      this.worker = new Worker(WORKER_URL);
      this.worker.postMessage({ images, params: p });
      this.worker.on('message', (m: { step: number; batch: Batch; ms: number }) => {
        this.buildMs += m.ms; this.built++;
        this.pending.get(m.step)?.resolve(m.batch);
      });
      const fail = (e: Error) => {
        this.failed = new Error(`batch worker: ${e.message}`);
        for (const { reject } of this.pending.values()) reject(this.failed);
      };
      this.worker.on('error', fail);
      this.worker.on('exit', (code) => { if (code !== 0 && !this.failed) fail(new Error(`exited with code ${code}`)); });
    }
  }
  private ahead: number;
  get threaded(): boolean { return this.worker !== null; }

  private request(step: number): Promise<Batch> {
    let e = this.pending.get(step);
    if (!e) {
      let resolve!: (b: Batch) => void, reject!: (e: Error) => void;
      const promise = new Promise<Batch>((res, rej) => { resolve = res; reject = rej; });
      promise.catch(() => {}); // a prefetched batch that is never asked for must not be an unhandled rejection
      e = { resolve, reject, promise };
      this.pending.set(step, e);
      if (this.failed) reject(this.failed);
      else this.worker!.postMessage({ step });
    }
    return e.promise;
  }

  /** The batch of `step`; starts building the next `ahead` steps' (below `end`, when given). */
  async get(step: number, end = Infinity): Promise<Batch> {
    if (!this.worker) {
      const t = performance.now();
      const b = makeBatch(this.images, this.p.n, this.p.crop, this.p.scale, this.p.seed, step, this.p.degradation);
      const ms = performance.now() - t;
      this.buildMs += ms; this.waitMs += ms; this.built++;
      return b;
    }
    const want = this.request(step);
    for (let s = step + 1; s <= step + this.ahead && s < end; s++) this.request(s);
    // older requests (a resume elsewhere, a step skipped) are dropped
    for (const k of this.pending.keys()) if (k < step) this.pending.delete(k);
    const t = performance.now();
    const b = await want;
    this.waitMs += performance.now() - t;
    this.pending.delete(step);
    return b;
  }

  async close(): Promise<void> {
    const w = this.worker;
    this.worker = null;
    if (w) await w.terminate();
  }
}
