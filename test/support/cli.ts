/** Runs the compiled `multiverse` CLI (npm test builds dist/ first) and captures what it prints. */
import { spawnSync } from 'node:child_process';
import path from 'node:path';

export const CLI = path.resolve('dist/src/cli/main.js');

export function cli(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  return cliWithEnv(process.env, ...args);
}

export function cliWithEnv(env: NodeJS.ProcessEnv, ...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 60_000, env });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
