/**
 * Training examples as JSONL records: one line per problem, the same export a user would feed to
 * a large-scale trainer. Layout fields come from multiverseLayout (src/multiverse/attention.ts), so
 * training sees exactly the positions and mask the engine reproduces at inference.
 *
 * Record schema (one JSON object per line; arrays of length L are per token):
 *   problem      string    the question, e.g. "Compute 37*4+12*9"
 *   answer       number    the correct final answer
 *   seed         number    the problem's generator seed
 *   parts        number    top-level parts (1 = sequential problem)
 *   nested       boolean   whether some part is a group (nested block)
 *   format       "multiverse" | "sequential"
 *   prompt_len   number    tokens of the chat prompt (user turn + assistant opener)
 *   ids          number[L] token ids: prompt, then the answer text and `<|im_end|>`
 *   loss_mask    number[L] 1 on the answer tokens (after the prompt, `<|im_end|>` included), else 0
 *   positions    number[L] position ids (RoPE): Multiverse positions, or 0..L-1 for sequential text
 *   path_span    number[L] innermost `<Path>…</Path>` span holding the token (numbered by `<Path>` in
 *                          order), or -1
 *   span_parent  number[S] per span: the span whose path holds its block, or -1 at top level
 *   span_block   number[S] per span: the block (numbered by `<Parallel>` in order) it is a path of
 *
 * Visibility (key k seen by query q): k <= q, unless the chains of spans holding q and k (each
 * span up through span_parent) hold two different spans of the same block, which never see each
 * other. That is DESIGN.md §1's mask; train/model.py rebuilds it from these fields.
 */
import type { MultiverseTagIds } from '../../multiverse/tags.js';
import { END_OF_TURN, trainingTokens, type TrainingTokens } from '../../multiverse/training-record.js';
import type { Tokenizer } from '../../model/tokenizer.js';
import { sequentialChain } from './chain.js';
import { toMultiverse } from './convert.js';
import { problemAnswer, problemText, type Problem } from './problem.js';

export type ExampleFormat = 'multiverse' | 'sequential';

export interface ExampleRecord extends TrainingTokens {
  problem: string;
  answer: number;
  seed: number;
  parts: number;
  nested: boolean;
  format: ExampleFormat;
}

export { END_OF_TURN };

/** The solution text the model learns to write (before `<|im_end|>`). */
export function solutionText(problem: Problem, format: ExampleFormat): string {
  const chain = sequentialChain(problem);
  return format === 'multiverse' ? toMultiverse(chain) : chain;
}

/** The prompt: the problem as a user turn, then the assistant's opener. */
export function promptText(problem: Problem, tokenizer: Tokenizer): string {
  return tokenizer.applyChatTemplate([{ role: 'user', content: problemText(problem) }], { addGenerationPrompt: true });
}

/**
 * The training record of `problem` in `format`.
 * @throws MultiverseFormatError when the converted text breaks the tag grammar.
 */
export function exampleRecord(
  problem: Problem,
  format: ExampleFormat,
  tokenizer: Tokenizer,
  tagIds: MultiverseTagIds,
): ExampleRecord {
  return {
    problem: problemText(problem),
    answer: problemAnswer(problem),
    seed: problem.seed,
    parts: problem.parts.length,
    nested: problem.parts.some((p) => p.kind === 'group'),
    format,
    ...trainingTokens(promptText(problem, tokenizer), solutionText(problem, format), tokenizer, tagIds),
  };
}
