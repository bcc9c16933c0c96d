/**
 * A small, strict argument parser: `--name value`, `--name=value`, boolean `--flag`, positionals.
 * Unknown options are errors (exit code 2), so a typo never silently changes a run.
 */

export interface OptionSpec {
  /** 'string' takes a value; 'strings' takes one each time it is given (a list); 'boolean' takes none. */
  kind: 'string' | 'strings' | 'boolean';
  help: string;
}

export interface ParsedArgs {
  options: Record<string, string | string[] | boolean>;
  positionals: string[];
}

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export function parseArgs(argv: readonly string[], spec: Record<string, OptionSpec>): ParsedArgs {
  const options: ParsedArgs['options'] = {};
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith('--')) {
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq < 0 ? undefined : eq);
    const s = spec[name];
    if (!s) throw new UsageError(`unknown option --${name}`);
    if (s.kind === 'boolean') {
      if (eq >= 0) throw new UsageError(`--${name} takes no value`);
      options[name] = true;
    } else {
      const value = eq >= 0 ? arg.slice(eq + 1) : argv[++i];
      if (value === undefined) throw new UsageError(`--${name} needs a value`);
      const before = options[name];
      options[name] = s.kind === 'strings' ? [...(Array.isArray(before) ? before : []), value] : value;
    }
  }
  return { options, positionals };
}

/** A number option, or undefined when absent. */
export function numberOption(args: ParsedArgs, name: string, integer: boolean): number | undefined {
  const v = args.options[name];
  if (v === undefined) return undefined;
  const n = Number(v);
  if (typeof v !== 'string' || v.trim() === '' || !Number.isFinite(n) || (integer && !Number.isInteger(n))) {
    throw new UsageError(`--${name} must be ${integer ? 'an integer' : 'a number'}, got ${String(v)}`);
  }
  return n;
}

export function formatHelp(usage: string, spec: Record<string, OptionSpec>): string {
  const rows = Object.entries(spec).map(([name, s]) => `  --${name}${s.kind === 'boolean' ? '' : ' <value>'}`.padEnd(28) + s.help);
  return `${usage}\n\nOptions:\n${rows.join('\n')}\n`;
}
