// A memory cgroup (v1) of its own for a test's server process: the kernel then enforces a limit as a
// container's would, and counts every page the process touches (RSS, page cache, kernel memory).
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const ROOT = '/sys/fs/cgroup/memory';

export interface MemoryCgroup {
  path: string;
  /** The most ever charged, in MiB. */
  peakMb(): number;
  /** How often the limit was hit (the kernel reclaimed or killed to stay under it). */
  failures(): number;
  /** Processes the kernel's OOM killer ended in it (0 where the kernel does not count them). */
  oomKills(): number;
  remove(): void;
}

/** A new cgroup limited to `limitMb`, or the reason there cannot be one here. */
export function createMemoryCgroup(name: string, limitMb: number): MemoryCgroup | string {
  if (!existsSync(path.join(ROOT, 'memory.limit_in_bytes'))) return `no cgroup v1 memory controller at ${ROOT}`;
  const folder = path.join(ROOT, `${name}-${process.pid}`);
  try {
    mkdirSync(folder);
    writeFileSync(path.join(folder, 'memory.limit_in_bytes'), String(limitMb * 1024 * 1024));
  } catch (error) {
    return `cannot create a memory cgroup under ${ROOT}: ${(error as Error).message}`;
  }
  const read = (file: string) => readFileSync(path.join(folder, file), 'utf8');
  return {
    path: folder,
    peakMb: () => Number(read('memory.max_usage_in_bytes')) / 1024 / 1024,
    failures: () => Number(read('memory.failcnt')),
    oomKills: () => Number(/^oom_kill (\d+)/m.exec(read('memory.oom_control'))?.[1] ?? 0),
    remove: () => rmdirSync(folder),
  };
}
