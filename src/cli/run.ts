/**
 * `multiverse run`: generate from a prompt and stream it to the terminal, or as JSON lines.
 */
import { lastValueFrom, tap } from 'rxjs';
import type { GenerateOptions } from '../engine/generate-options.js';
import type { GenerationEvent } from '../rx/events.js';
import { numberOption, type OptionSpec } from './args.js';
import { checkGenerationFlags, log, multiverseOption, parseCommand, readInput, withModel } from './model-input.js';
import { TopLogprobsTable } from './top-logprobs-table.js';
import { TerminalRenderer } from './terminal-renderer.js';
import { RUN_USAGE } from './usage.js';

const OPTIONS: Record<string, OptionSpec> = {
  'max-tokens': { kind: 'string', help: 'most tokens to generate (default 256)' },
  temperature: { kind: 'string', help: '0 = greedy (default: the model\'s generation config, else 1)' },
  'top-p': { kind: 'string', help: 'nucleus sampling mass (default off)' },
  'top-k': { kind: 'string', help: 'keep the k most likely tokens (default off)' },
  seed: { kind: 'string', help: 'sampling seed (default random; printed at the end)' },
  json: { kind: 'boolean', help: 'one JSON event per line on stdout' },
};

export async function runCommand(argv: readonly string[]): Promise<number> {
  const args = parseCommand(argv, RUN_USAGE, OPTIONS);
  if (!args) return 0;
  const input = await readInput(args, RUN_USAGE);
  const json = args.options.json === true;
  const options: GenerateOptions = {
    maxTokens: numberOption(args, 'max-tokens', true),
    temperature: numberOption(args, 'temperature', false),
    topP: numberOption(args, 'top-p', false),
    topK: numberOption(args, 'top-k', true),
    seed: numberOption(args, 'seed', true),
    topLogprobs: numberOption(args, 'top-logprobs', true),
    raw: args.options.raw === true,
    ...multiverseOption(args),
  };
  checkGenerationFlags(options);
  await withModel(args, json, async (model) => {
    const genStart = Date.now();
    const renderer = new TerminalRenderer((t) => process.stdout.write(t), process.stdout.isTTY === true);
    const print = json ? (e: GenerationEvent) => process.stdout.write(`${JSON.stringify(e)}\n`) : (e: GenerationEvent) => renderer.render(e);
    const alternatives = new TopLogprobsTable((id) => model.tokenizer.idToText(id));
    const done = await lastValueFrom(model.events(input, options).pipe(tap(print), tap((e) => alternatives.add(e))));
    if (!json && options.topLogprobs) process.stderr.write(alternatives.render());
    if (!json && done.type === 'done') {
      const secs = (Date.now() - genStart) / 1000;
      const u = done.usage;
      const parallel = done.stats.forks > 0 ? `, ${done.stats.forks} forks, # parallel ${done.stats.parallelism.toFixed(2)} (critical path ${u.criticalPathTokens})` : '';
      // A refused fork changes what the model writes (its paths come one after another), so say so.
      const refused = done.stats.forksRefused > 0 ? `, ${done.stats.forksRefused} forks refused: their paths did not fit the KV pool (a smaller --max-tokens reserves less)` : '';
      log(`[${done.finishReason}${done.limit ? `: ${done.limit}` : ''}] ${u.promptTokens} prompt + ${u.completionTokens} generated tokens in ${secs.toFixed(2)} s (${(u.completionTokens / secs).toFixed(1)} tok/s)${parallel}${refused}, seed ${done.seed}`);
    }
  });
  return 0;
}
