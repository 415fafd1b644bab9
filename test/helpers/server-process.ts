// Runs the service as production does, `node dist/src/server.js` (or through `npm start`), on
// 127.0.0.1 with a free port. (`npm test` compiles to dist/ first.)
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { projectRoot, RUNTIME_ENV } from '../../src/config.js';

export interface ServerProcess {
  origin: string;
  /** The process started: the service, or npm when started through `npm start`. */
  child: ChildProcess;
  /** The service's own process id (from its log lines: with `npm start`, npm's child). */
  servicePid(): number | undefined;
  /** Every log line so far (JSON objects from pino). */
  logs: Record<string, unknown>[];
  /** Resolves with the exit code once the process has exited. */
  exited: Promise<number | null>;
  /** Resident memory now and at its peak, in MB, from /proc (the kernel's view, not the process's). */
  memory(): { rssMb: number; peakMb: number };
}

interface Teardown {
  teardown(fn: () => unknown): void;
}

/** A port nothing listens on right now. */
async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * Starts the server and resolves once it listens (not yet once it is ready: see waitForOk).
 * `npmStart`: through `npm start`, as a developer would, instead of node itself.
 */
export async function startServerProcess(
  t: Teardown,
  env: Record<string, string> = {},
  { npmStart = false, cgroup }: { npmStart?: boolean; /** A cgroup v1 folder the process joins before node starts (see memory-cgroup.ts). */ cgroup?: string } = {},
): Promise<ServerProcess> {
  const port = await freePort();
  let [command, args] = npmStart ? ['npm', ['start', '--silent']] : [process.execPath, [path.join(projectRoot, 'dist', 'src', 'server.js')]];
  // Joining before exec, so every page the service touches is charged to the cgroup.
  if (cgroup) [command, args] = ['/bin/sh', ['-c', 'echo $$ > "$0/cgroup.procs" && exec "$@"', cgroup, command, ...args]];
  const child = spawn(command, args, {
    cwd: projectRoot,
    env: { ...process.env, ...RUNTIME_ENV, HOST: '127.0.0.1', PORT: String(port), LOG_LEVEL: 'info', ALLOW_PRIVATE_NETWORKS: 'true', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const servicePid = (): number | undefined => logs.find((entry) => typeof entry.pid === 'number')?.pid as number | undefined;
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
    // Through npm, the service is npm's child: a SIGKILL to npm would leave it running.
    const pid = servicePid();
    if (npmStart && pid !== undefined && isAlive(pid)) process.kill(pid, 'SIGKILL');
  });

  const logs: Record<string, unknown>[] = [];
  let buffered = '';
  let stderr = '';
  child.stderr!.on('data', (data: Buffer) => (stderr += data.toString()));
  child.stdout!.on('data', (data: Buffer) => {
    buffered += data.toString();
    const lines = buffered.split('\n');
    buffered = lines.pop()!;
    // npm's own lines (with `npm start`) are not JSON; the service's all are.
    for (const line of lines) if (line.startsWith('{')) logs.push(JSON.parse(line) as Record<string, unknown>);
  });
  const origin = `http://127.0.0.1:${port}`;
  const started = Date.now();
  while (!(await fetch(`${origin}/health`).then((r) => r.ok, () => false))) {
    if (child.exitCode !== null) throw new Error(`the server exited (${child.exitCode}): ${stderr}`);
    if (Date.now() - started > 20_000) throw new Error(`the server did not start: ${stderr}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }

  return {
    origin,
    child,
    servicePid,
    logs,
    exited,
    memory() {
      const status = readFileSync(`/proc/${servicePid() ?? child.pid}/status`, 'utf8');
      const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
      return { rssMb: kb('VmRSS') / 1024, peakMb: kb('VmHWM') / 1024 };
    },
  };
}

/** Whether a process with this id is running (signal 0 checks without sending anything). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Polls `url` until it answers 200 (or gives up after `ms`). */
export async function waitForOk(url: string, ms = 20_000): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    const ok = await fetch(url).then((r) => r.ok, () => false);
    if (ok) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`${url} did not answer 200 within ${ms} ms`);
}
