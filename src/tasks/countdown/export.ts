/**
 * Countdown training examples as JSONL records, in the schema of the arithmetic export
 * (src/tasks/arith/export.ts: the token and layout fields the trainer reads) with these task fields:
 *
 *   problem   string    the question, e.g. "Make 36 from 7 5 3"
 *   answer    string    the expression the written search reports, e.g. "(7+5)*3"
 *   numbers   number[]  the numbers; `target` the number to reach (a solution is checked against
 *   target    number    these, not against `answer`: any expression that reaches it counts)
 *   seed      number    the problem's generator seed
 *   parts     number    top-level paths: the first pairs the search tries (2 or 3)
 *   nested    boolean   always true: each pair's path forks again, one path per first move
 *   format    "multiverse" | "sequential"
 */
import type { MultiverseTagIds } from '../../multiverse/tags.js';
import { trainingTokens, type TrainingTokens } from '../../multiverse/training-record.js';
import type { Tokenizer } from '../../model/tokenizer.js';
import { toMultiverse } from '../arith/convert.js';
import type { ExampleFormat } from '../arith/export.js';
import { parseAnswer, sequentialChain } from './chain.js';
import { problemText, type Problem } from './problem.js';
import { remainingPairs } from './search.js';

export interface CountdownRecord extends TrainingTokens {
  problem: string;
  answer: string;
  numbers: number[];
  target: number;
  seed: number;
  parts: number;
  nested: boolean;
  format: ExampleFormat;
}

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
export function exampleRecord(problem: Problem, format: ExampleFormat, tokenizer: Tokenizer, tagIds: MultiverseTagIds): CountdownRecord {
  const solution = solutionText(problem, format);
  return {
    problem: problemText(problem),
    answer: parseAnswer(solution) as string,
    numbers: problem.numbers,
    target: problem.target,
    seed: problem.seed,
    parts: remainingPairs(problem.numbers).length,
    nested: true,
    format,
    ...trainingTokens(promptText(problem, tokenizer), solution, tokenizer, tagIds),
  };
}
