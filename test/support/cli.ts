/** Runs the compiled `multiverse` CLI (npm test builds dist/ first) and captures what it prints. */
import { spawnSync } from 'node:child_process';
import path from 'node:path';

export const CLI = path.resolve('dist/src/cli/main.js');

type CliResult = { code: number | null; stdout: string; stderr: string };

/** Runs the CLI with `env` in `cwd` (undefined: this process's), as from an app that installed the package. */
function runCli(env: NodeJS.ProcessEnv, cwd: string | undefined, args: string[], input = ''): CliResult {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 60_000, env, cwd, input });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

export const cli = (...args: string[]): CliResult => runCli(process.env, undefined, args);
export const cliIn = (cwd: string, ...args: string[]): CliResult => runCli(process.env, cwd, args);
/** Runs the CLI with `input` piped to its stdin. */
export const cliWithInput = (input: string, ...args: string[]): CliResult => runCli(process.env, undefined, args, input);
