/**
 * What the commands that take a model and an input share (`run`, `score`): the options --model
 * (default: the embedded model), --device, --tokens (else the input is text), --top-logprobs, --raw,
 * --no-multiverse and --help, and holding the loaded model for the length of the command. `serve`
 * shares --model and --device alone; `inspect` only the parsing and --help.
 */
import { GenerationError } from '../engine/errors.js';
import { resolveOptions, type GenerateOptions } from '../engine/generate-options.js';
import { localModelDir } from '../hub/model-source.js';
import { loadModel, type LoadModelOptions } from '../facade/load-model.js';
import { DEFAULT_TEMPLATE } from '../multiverse/template.js';
import type { NativeDevice } from '../native/binding.js';
import type { Model } from '../facade/model.js';
import { formatHelp, parseArgs, UsageError, type OptionSpec, type ParsedArgs } from './args.js';
import { shippedModelDir } from '../facade/shipped-models.js';
import { reportDuration } from './progress.js';

/** --model and --device, for commands that take a model but no input (`serve`). */
export const MODEL_SPEC: Record<string, OptionSpec> = {
  model: { kind: 'string', help: 'model folder, .gguf file, or hub model hf:org/name[@revision] (default: the embedded default model)' },
  device: { kind: 'string', help: "cpu (default), cuda, or auto (cuda when a GPU and a CUDA build are present)" },
};

const DEVICES: readonly NativeDevice[] = ['cpu', 'cuda', 'auto'];

/** --device, checked. @throws UsageError for another value. */
function deviceOption(args: ParsedArgs): NativeDevice {
  const v = args.options.device ?? 'cpu';
  const device = DEVICES.find((d) => d === v);
  if (!device) throw new UsageError(`--device must be cpu, cuda or auto, got ${String(v)}`);
  return device;
}

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
 * The input: the one positional argument, the ids of --tokens, or, when neither is given and
 * stdin is not a terminal, the text piped in (`echo "Compute 17*3" | multiverse run`).
 * @throws UsageError when both are given, or none, or more than one positional (an unquoted prompt
 *   would be joined silently otherwise), or --tokens is not a list of ids.
 */
export async function readInput(args: ParsedArgs, usage: string): Promise<string | number[]> {
  if (args.positionals.length > 1) throw new UsageError(`give the text as one argument (quote it), got ${args.positionals.length}: ${args.positionals.join(' ')}\n${usage}`);
  const text = args.positionals[0] ?? '';
  const list = args.options.tokens;
  if (typeof list === 'string' && text) throw new UsageError('give text or --tokens, not both');
  if (typeof list !== 'string') {
    if (text) return text;
    const piped = process.stdin.isTTY ? '' : (await readStdin()).replace(/\n$/, '');
    if (!piped) throw new UsageError(`text or --tokens is required (or pipe the text to stdin)\n${usage}`);
    return piped;
  }
  const ids = list.split(',').map((s) => Number(s.trim()));
  if (ids.some((n) => !Number.isInteger(n) || n < 0)) throw new UsageError(`--tokens must be comma-separated token ids, got ${list}`);
  return ids;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** The flag each generation option is set by, to name it in a usage error. */
const FLAGS: Record<string, string> = {
  maxTokens: '--max-tokens',
  temperature: '--temperature',
  topP: '--top-p',
  topK: '--top-k',
  seed: '--seed',
  topLogprobs: '--top-logprobs',
};

/**
 * Checks the values of generation flags with the engine's own rules before any model is loaded,
 * so a bad value is a usage error (exit 2), not a failed request after the load.
 * @throws UsageError naming the flag.
 */
export function checkGenerationFlags(options: GenerateOptions): void {
  try {
    resolveOptions(options, { eosTokenIds: [], template: DEFAULT_TEMPLATE });
  } catch (e) {
    if (!(e instanceof GenerationError)) throw e;
    throw new UsageError(e.message.replace(/^sampling /, '').replace(/\b(maxTokens|temperature|topP|topK|seed|topLogprobs)\b/, (name) => FLAGS[name]));
  }
}

/**
 * Loads --model (or the default model, generated on first use), runs `use` with it and disposes
 * of it, also when `use` throws. A hub model is fetched first (its own progress bar on a TTY).
 * Unless `quiet`, says on stderr what is loading, then what was loaded and how fast.
 */
export async function withModel<T>(args: ParsedArgs, quiet: boolean, use: (model: Model) => Promise<T>, options: LoadModelOptions = {}): Promise<T> {
  const dir = typeof args.options.model === 'string' ? await localModelDir(args.options.model) : shippedModelDir();
  const device = deviceOption(args);
  const load = () => loadModel(dir, { device, ...options });
  const model = quiet
    ? await load()
    : await reportDuration(`loading model ${dir}`, load, ({ info }) => `${info.architecture}, ${(info.parameterCount / 1e6).toFixed(2)}M params, ${info.backend}, loaded`);
  try {
    return await use(model);
  } finally {
    await model.dispose();
  }
}
