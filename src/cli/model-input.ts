/**
 * What the commands that take a model and an input share (`run`, `score`): the options --model
 * (default: the embedded model), --tokens (else the input is text), --top-logprobs, --raw,
 * --no-multiverse and --help, and holding the loaded model for the length of the command. `serve` shares --model
 * alone; `inspect` only the parsing and --help.
 */
import { loadModel } from '../model/load-model.js';
import type { Model } from '../model/model.js';
import { formatHelp, parseArgs, UsageError, type OptionSpec, type ParsedArgs } from './args.js';
import { defaultModelDir } from './default-model.js';
import { reportDuration } from './progress.js';

/** --model alone, for commands that take a model but no input (`serve`). */
export const MODEL_SPEC: Record<string, OptionSpec> = {
  model: { kind: 'string', help: 'model folder or .gguf file (default: the embedded default model)' },
};

const MODEL_INPUT_SPEC: Record<string, OptionSpec> = {
  ...MODEL_SPEC,
  tokens: { kind: 'string', help: 'input as comma-separated token ids instead of text' },
  'top-logprobs': { kind: 'string', help: 'report the K most likely tokens at each position' },
  raw: { kind: 'boolean', help: 'take the text as is, without the chat template' },
  'no-multiverse': { kind: 'boolean', help: 'plain causal semantics: the tags are ordinary tokens (no forks, no path masks)' },
};

/** `multiverse: { enabled: false }` when --no-multiverse is given, for run and score options. */
export function multiverseOption(args: ParsedArgs): { multiverse?: { enabled: false } } {
  return args.options['no-multiverse'] === true ? { multiverse: { enabled: false } } : {};
}

/**
 * Parses a command's arguments: the shared options (by default those of a model and an input),
 * the command's own, and --help. Prints the help and returns undefined when --help is given.
 * @throws UsageError for an unknown option or a missing value.
 */
export function parseCommand(
  argv: readonly string[],
  usage: string,
  own: Record<string, OptionSpec>,
  shared: Record<string, OptionSpec> = MODEL_INPUT_SPEC,
): ParsedArgs | undefined {
  const spec: Record<string, OptionSpec> = { ...shared, ...own, help: { kind: 'boolean', help: 'show this help' } };
  const args = parseArgs(argv, spec);
  if (!args.options.help) return args;
  process.stdout.write(formatHelp(usage, spec));
  return undefined;
}

/** Writes a line to stderr: progress and stats stay off stdout, which may carry JSON. */
export function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

/**
 * The input: the positionals as one text, or the ids of --tokens.
 * @throws UsageError when both or neither are given, or --tokens is not a list of ids.
 */
export function readInput(args: ParsedArgs, usage: string): string | number[] {
  const text = args.positionals.join(' ');
  const list = args.options.tokens;
  if (typeof list === 'string' && text) throw new UsageError('give text or --tokens, not both');
  if (typeof list !== 'string') {
    if (!text) throw new UsageError(`text or --tokens is required\n${usage}`);
    return text;
  }
  const ids = list.split(',').map((s) => Number(s.trim()));
  if (ids.some((n) => !Number.isInteger(n) || n < 0)) throw new UsageError(`--tokens must be comma-separated token ids, got ${list}`);
  return ids;
}

/**
 * Loads --model (or the default model, generated on first use), runs `use` with it and disposes
 * of it, also when `use` throws. Unless `quiet`, says on stderr what is loading, then what was
 * loaded and how fast.
 */
export async function withModel<T>(args: ParsedArgs, quiet: boolean, use: (model: Model) => Promise<T>): Promise<T> {
  const dir = typeof args.options.model === 'string' ? args.options.model : defaultModelDir();
  const load = () => loadModel(dir);
  const model = quiet
    ? await load()
    : await reportDuration(`loading model ${dir}`, load, ({ info }) => `${info.architecture}, ${(info.parameterCount / 1e6).toFixed(2)}M params, ${info.backend}, loaded`);
  try {
    return await use(model);
  } finally {
    await model.dispose();
  }
}
