/** Runs the compiled `multiverse` CLI (npm test builds dist/ first) and captures what it prints. */
import { spawnSync } from 'node:child_process';
import path from 'node:path';

export const CLI = path.resolve('dist/src/cli/main.js');

/** Runs the CLI in `cwd` (undefined: this process's), as from an app that installed the package. */
export function cliIn(cwd: string | undefined, ...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 60_000, cwd });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

export const cli = (...args: string[]) => cliIn(undefined, ...args);
