/**
 * Runs the compiled `multiverse` CLI without blocking the test's event loop, so a server in the
 * test process can answer it; the child can be watched and killed mid-run.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { CLI } from './cli.js';

export interface CliRun {
  child: ChildProcess;
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>;
}

export function spawnCli(args: readonly string[], env: NodeJS.ProcessEnv = process.env): CliRun {
  const child = spawn(process.execPath, [CLI, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })),
  );
  return { child, done };
}

/** Runs the CLI once per argument list, all at the same time (their start-ups overlap on the cores); the results in list order. */
export function cliAll(calls: readonly (readonly string[])[], env: NodeJS.ProcessEnv = process.env): Promise<Awaited<CliRun['done']>[]> {
  return Promise.all(calls.map((args) => spawnCli(args, env).done));
}
