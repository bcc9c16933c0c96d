/**
 * `multiverse score`: the logprob of every token of a transcript under Multiverse semantics
 * (model.score; plain causal ones with --no-multiverse), as a table or as JSON lines: one object
 * per token, then a summary.
 */
import type { ScoredToken, ScoreResult } from '../multiverse/score.js';
import { numberOption } from './args.js';
import { checkGenerationFlags, multiverseOption, parseCommand, readInput, withModel } from './model-input.js';
import { formatTopLogprobs } from './top-logprobs-table.js';
import { SCORE_USAGE } from './usage.js';

export async function scoreCommand(argv: readonly string[]): Promise<number> {
  const args = parseCommand(argv, SCORE_USAGE, { json: { kind: 'boolean', help: 'one JSON object per token on stdout, then a summary line' } });
  if (!args) return 0;
  const input = await readInput(args, SCORE_USAGE);
  const json = args.options.json === true;
  const options = { topLogprobs: numberOption(args, 'top-logprobs', true), raw: args.options.raw === true, ...multiverseOption(args) };
  checkGenerationFlags(options);
  const output = await withModel(args, json, async (model) => {
    const result = await model.score(input, options);
    return json ? jsonLines(result) : table(result, (id) => model.tokenizer.idToText(id));
  });
  process.stdout.write(output);
  return 0;
}

function jsonLines({ tokens, totalLogprob, meanLogprob }: ScoreResult): string {
  // The first token has no logprob: null, as OpenAI's echo reports it.
  const lines = tokens.map((t) => JSON.stringify({ type: 'token', ...t, logprob: t.logprob ?? null }));
  lines.push(JSON.stringify({ type: 'summary', totalLogprob, meanLogprob, tokens: tokens.length }));
  return `${lines.join('\n')}\n`;
}

function table({ tokens, totalLogprob, meanLogprob }: ScoreResult, textOf: (tokenId: number) => string): string {
  const row = (cells: string[]) => cells.map((c, i) => (i < 4 ? c.padStart(10) : c)).join('  ').trimEnd();
  const top = (t: ScoredToken) => formatTopLogprobs(t.topLogprobs ?? {}, textOf);
  const lines = [row(['index', 'position', 'token', 'logprob', 'text', ...(tokens.some((t) => t.topLogprobs) ? ['top'] : [])])];
  tokens.forEach((t, i) => lines.push(row([String(i), String(t.position), String(t.tokenId), t.logprob?.toFixed(4) ?? '-', JSON.stringify(t.text), top(t)])));
  lines.push(`total logprob ${totalLogprob.toFixed(4)}, mean ${meanLogprob.toFixed(4)} over ${tokens.length - 1} scored tokens`);
  return `${lines.join('\n')}\n`;
}
