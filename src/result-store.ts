// The folder POST /remove-bg saves its results in, and serves them from.
//
// Names are 128 random bits (crypto), never anything the client sent, so nobody can guess another
// client's result or choose where a file lands; a name is checked against that exact shape before
// it becomes a path, so a request can never reach outside the folder. Files are written under a
// temporary name and renamed, so a half-written file is never served. A sweep deletes files older
// than the maximum age and then, while the folder is over its size, the oldest first; it runs on a
// timer and whenever a save takes the folder past its size.
import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, rename, rm, stat, unlink, writeFile } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';

const NAME = /^[0-9a-f]{32}\.jpg$/;
const TEMPORARY = /^\.tmp-[0-9a-f]{32}$/;

export interface ResultStoreOptions {
  dir: string;
  maxAgeMs: number;
  maxBytes: number;
  /** The clock, in ms; tests move it. */
  now?: () => number;
}

export interface SweepReport {
  deleted: number;
  /** Bytes left in the folder. */
  bytes: number;
}

export class ResultStore {
  private bytes = 0;
  /**
   * Bytes saved since the running sweep listed the folder: its listing may not hold them, so they
   * are added to its count rather than lost (a save counted twice only makes the next sweep early).
   */
  private savedDuringSweep = 0;
  private sweeping: Promise<SweepReport> | undefined;
  private readonly now: () => number;

  constructor(private readonly options: ResultStoreOptions) {
    this.now = options.now ?? Date.now;
  }

  /** Whether `name` has the shape of a stored name (and so is safe to join to the folder). */
  static isName(name: string): boolean {
    return NAME.test(name);
  }

  /** Saves a JPEG under a new random name and returns the name. */
  async save(jpeg: Buffer): Promise<string> {
    const id = randomBytes(16).toString('hex');
    const name = `${id}.jpg`;
    const temporary = path.join(this.options.dir, `.tmp-${id}`);
    await mkdir(this.options.dir, { recursive: true });
    try {
      await writeFile(temporary, jpeg, { flag: 'wx', mode: 0o644 });
      await rename(temporary, path.join(this.options.dir, name));
    } catch (error) {
      await rm(temporary, { force: true });
      throw error;
    }
    this.bytes += jpeg.length;
    if (this.sweeping) this.savedDuringSweep += jpeg.length;
    if (this.bytes > this.options.maxBytes) void this.sweep().catch(() => {});
    return name;
  }

  /** An open handle on a stored file and its size, or null when there is no such file. */
  async open(name: string): Promise<{ handle: FileHandle; size: number } | null> {
    if (!ResultStore.isName(name)) return null;
    let handle: FileHandle;
    try {
      handle = await open(path.join(this.options.dir, name), 'r');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw error;
    }
    try {
      const { size } = await handle.stat();
      return { handle, size };
    } catch (error) {
      await handle.close();
      throw error;
    }
  }

  /**
   * Deletes what is too old, then the oldest files while the folder is over its size. One sweep runs
   * at a time; a call during a sweep gets that sweep's report. A missing folder is an empty one.
   */
  sweep(): Promise<SweepReport> {
    if (this.sweeping) return this.sweeping;
    this.savedDuringSweep = 0;
    const sweeping = this.runSweep().finally(() => (this.sweeping = undefined));
    this.sweeping = sweeping;
    // Saves during the sweep may have taken the folder past its size again, and their own call to
    // sweep() only joined this one: the next sweep starts once it is done. (Not after a failed
    // sweep, which would only fail again at once.)
    void sweeping.then(() => {
      if (this.bytes > this.options.maxBytes) void this.sweep().catch(() => {});
    }, () => {});
    return sweeping;
  }

  private async runSweep(): Promise<SweepReport> {
    let names: string[];
    try {
      names = await readdir(this.options.dir);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { deleted: 0, bytes: (this.bytes = this.savedDuringSweep) };
      throw error;
    }
    const oldest = this.now() - this.options.maxAgeMs;
    const files: { file: string; size: number; modified: number }[] = [];
    let deleted = 0;
    for (const name of names) {
      const stored = NAME.test(name);
      if (!stored && !TEMPORARY.test(name)) continue; // not ours: left alone
      const file = path.join(this.options.dir, name);
      const info = await stat(file).catch(() => null);
      if (!info?.isFile()) continue;
      if (stored) files.push({ file, size: info.size, modified: info.mtimeMs });
      // A temporary file is being written, or was left by a crash: only age removes it.
      else if (info.mtimeMs < oldest && (await remove(file))) deleted++;
    }
    files.sort((a, b) => a.modified - b.modified);
    let bytes = files.reduce((sum, entry) => sum + entry.size, 0);
    for (const entry of files) {
      if (entry.modified >= oldest && bytes <= this.options.maxBytes) break;
      if (await remove(entry.file)) deleted++;
      bytes -= entry.size;
    }
    this.bytes = bytes + this.savedDuringSweep;
    return { deleted, bytes };
  }
}

/** Deletes a file; false when it was already gone (another replica's sweep, say). */
async function remove(file: string): Promise<boolean> {
  try {
    await unlink(file);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}
