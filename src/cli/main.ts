#!/usr/bin/env node
// bg-remove: the package's command (see run.ts; `bg-remove --help` says what it does).
//
// The service is started with settings that glibc and libuv read before any code runs
// (config.ts RUNTIME_ENV: huge pages for the inference's buffers, fewer malloc arenas, a libuv
// thread per core). When they are missing, the command runs itself again with them, so it runs as
// fast as the service; BG_REMOVE_CHILD marks the second run. Nothing heavy is loaded before that.
import { spawn } from 'node:child_process';
import os from 'node:os';

const args = process.argv.slice(2);
const { RUNTIME_ENV } = await import('../config.js');
const missing = Object.keys(RUNTIME_ENV).some((name) => process.env[name] === undefined);
const onlyText = args.some((arg) => arg === '-h' || arg === '--help' || arg === '--version');

if (missing && !onlyText && process.env.BG_REMOVE_CHILD === undefined) {
  const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
    stdio: 'inherit',
    env: { ...RUNTIME_ENV, ...process.env, BG_REMOVE_CHILD: '1' },
  });
  // The terminal sends Ctrl+C to both processes; the child decides what it means.
  process.on('SIGINT', () => {});
  process.on('SIGTERM', () => child.kill('SIGTERM'));
  child.on('exit', (code, signal) => process.exit(code ?? 128 + (signal ? os.constants.signals[signal] : 0)));
} else {
  const { loadEnvFile, run } = await import('./run.js');
  loadEnvFile();
  try {
    process.exitCode = await run(args, process);
  } catch (error) {
    console.error('bg-remove: unexpected failure:', error);
    process.exitCode = 1;
  }
}
