// A training run's folder: its file names, the lock that keeps one process training into it, the
// temporaries an interrupted write leaves, and the log trimmed back to the checkpoint on resume.
// The Trainer owns one; nothing here knows the networks.
import { readFile, readdir, unlink, writeFile } from 'node:fs/promises';
import { unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { TMP_FILE } from '../nn/state.js';
import { writeAtomic } from '../node/state.js';

export const CHECKPOINT = 'checkpoint.safetensors';
export const GENERATOR_FILE = 'generator.safetensors';
/** Held by the process training in a run folder: holds its PID. */
export const LOCK_FILE = 'train.lock';
export const LOG_FILE = 'log.jsonl';

/** What the run folder tells the user (the Trainer's reporting callback). */
export type Say = (msg: string, kind?: 'info' | 'note' | 'warning') => void;

export class RunFolder {
  private lockPath: string | null = null;

  constructor(readonly dir: string, private readonly say: Say) {}

  path(name: string): string { return join(this.dir, name); }

  /**
   * Takes the run folder's lock (a file holding this PID): two processes training into one
   * folder would overwrite each other's checkpoints. A lock whose process is gone is taken over.
   */
  async lock(): Promise<void> {
    const path = this.path(LOCK_FILE);
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        await writeFile(path, `${process.pid}\n`, { flag: 'wx' });
        this.lockPath = path;
        return;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw new Error(`${path}: cannot create the lock file (${(e as Error).message})`);
      }
      const text = await readFile(path, 'utf8').catch(() => '');
      const pid = /^\d+$/.test(text.trim()) ? Number(text.trim()) : 0;
      if (pid > 0 && processAlive(pid)) {
        throw new Error(`${this.dir} is in use by another training process (PID ${pid}, lock file ${path}): wait for it to end, or choose another --out`);
      }
      this.say(`note: ${path}: taking over a stale lock (${pid > 0 ? `PID ${pid} is no longer running` : 'no PID in it'})`, 'note');
      await unlink(path).catch(() => undefined);
    }
    throw new Error(`${path}: another process took the lock first`);
  }

  /** Releases the lock (synchronous: for a process that must exit at once, too). */
  unlock(): void {
    if (!this.lockPath) return;
    try { unlinkSync(this.lockPath); } catch { /* already gone */ }
    this.lockPath = null;
  }

  /** Temporary files of writes a crash interrupted (only this process writes here: it holds the lock). */
  async removeStaleTemporaries(): Promise<void> {
    let n = 0;
    for (const dir of [this.dir, this.path('previews')]) {
      const names = await readdir(dir).catch(() => [] as string[]);
      for (const f of names) if (TMP_FILE.test(f)) { await unlink(join(dir, f)).catch(() => undefined); n++; }
    }
    if (n) this.say(`removed ${n} temporary file(s) left by an interrupted write`);
  }

  /**
   * log.jsonl keeps the lines up to the checkpoint's `step`, so that a resumed run reads as one run
   * (the lines a crash logged after the last checkpoint are redone); a line cut by a crash, or
   * anything else that is not a JSON record, goes too. Rewritten atomically.
   */
  async trimLog(step: number): Promise<void> {
    const path = this.path(LOG_FILE);
    const text = await readFile(path, 'utf8').catch(() => null);
    if (text === null) return;
    const keep: string[] = [];
    let later = 0, bad = 0;
    for (const line of text.split('\n')) {
      if (!line.trim()) continue;
      let rec: unknown;
      try { rec = JSON.parse(line); } catch { bad++; continue; }
      const s = (rec as { step?: unknown } | null)?.step;
      if (typeof s !== 'number') bad++;
      else if (s > step) later++;
      else keep.push(line);
    }
    if (!later && !bad && (text === '' || text.endsWith('\n'))) return;
    await writeAtomic(path, new TextEncoder().encode(keep.map((l) => l + '\n').join('')));
    const what = [later ? `${later} line(s) after step ${step}` : '', bad ? `${bad} unreadable line(s) (cut by a crash?)` : ''].filter(Boolean);
    if (what.length) this.say(`${path}: dropped ${what.join(' and ')}`);
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'; // alive, another user's
  }
}
