/**
 * `multiverse run`: generate from a prompt and stream it to the terminal, or as JSON lines.
 */
import { lastValueFrom, tap } from 'rxjs';
import type { GenerateOptions } from '../engine/generate-options.js';
import { loadModel } from '../model/load-model.js';
import type { GenerationEvent } from '../rx/events.js';
import { formatHelp, numberOption, parseArgs, UsageError, type OptionSpec } from './args.js';
import { defaultModelDir } from './default-model.js';

const SPEC: Record<string, OptionSpec> = {
  model: { kind: 'string', help: 'model folder (default: the embedded default model)' },
  tokens: { kind: 'string', help: 'prompt as comma-separated token ids instead of text' },
  'max-tokens': { kind: 'string', help: 'most tokens to generate (default 256)' },
  temperature: { kind: 'string', help: '0 = greedy (default: the model\'s generation config, else 1)' },
  'top-p': { kind: 'string', help: 'nucleus sampling mass (default off)' },
  'top-k': { kind: 'string', help: 'keep the k most likely tokens (default off)' },
  seed: { kind: 'string', help: 'sampling seed (default random; printed at the end)' },
  'top-logprobs': { kind: 'string', help: 'report the K most likely tokens at each step (with --json)' },
  raw: { kind: 'boolean', help: 'send the prompt as is, without the chat template' },
  json: { kind: 'boolean', help: 'one JSON event per line on stdout' },
  help: { kind: 'boolean', help: 'show this help' },
};

export const RUN_USAGE = 'usage: multiverse run [--model DIR] [PROMPT | --tokens 1,2,3] [options]';

export async function runCommand(argv: readonly string[]): Promise<number> {
  const args = parseArgs(argv, SPEC);
  if (args.options.help) {
    process.stdout.write(formatHelp(RUN_USAGE, SPEC));
    return 0;
  }
  const prompt = args.positionals.join(' ');
  const tokens = typeof args.options.tokens === 'string' ? parseTokens(args.options.tokens) : undefined;
  if (tokens && prompt) throw new UsageError('give a PROMPT or --tokens, not both');
  if (!tokens && !prompt) throw new UsageError(`a prompt is required\n${RUN_USAGE}`);

  const json = args.options.json === true;
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const dir = typeof args.options.model === 'string' ? args.options.model : defaultModelDir(log);
  const options: GenerateOptions = {
    maxTokens: numberOption(args, 'max-tokens', true),
    temperature: numberOption(args, 'temperature', false),
    topP: numberOption(args, 'top-p', false),
    topK: numberOption(args, 'top-k', true),
    seed: numberOption(args, 'seed', true),
    topLogprobs: numberOption(args, 'top-logprobs', true),
    raw: args.options.raw === true,
  };
  const started = Date.now();
  const model = await loadModel(dir);
  if (!json) log(`model ${model.info.dir} (${model.info.architecture}, ${(model.info.parameterCount / 1e6).toFixed(2)}M params, ${model.info.backend}) loaded in ${Date.now() - started} ms`);
  try {
    const genStart = Date.now();
    const done = await lastValueFrom(model.events(tokens ?? prompt, options).pipe(tap((e) => print(e, json))));
    if (!json && done.type === 'done') {
      const secs = (Date.now() - genStart) / 1000;
      log(`\n[${done.finishReason}] ${done.usage.promptTokens} prompt + ${done.usage.completionTokens} generated tokens in ${secs.toFixed(2)} s (${(done.usage.completionTokens / secs).toFixed(1)} tok/s), seed ${done.seed}`);
    }
  } finally {
    await model.dispose();
  }
  return 0;
}

function print(e: GenerationEvent, json: boolean): void {
  if (json) {
    process.stdout.write(`${JSON.stringify(e)}\n`);
  } else if (e.type === 'token') {
    process.stdout.write(e.text);
  } else if (e.type === 'done') {
    process.stdout.write(`${e.tail}\n`);
  }
}

function parseTokens(list: string): number[] {
  const ids = list.split(',').map((s) => Number(s.trim()));
  if (ids.some((n) => !Number.isInteger(n) || n < 0)) throw new UsageError(`--tokens must be comma-separated token ids, got ${list}`);
  return ids;
}
