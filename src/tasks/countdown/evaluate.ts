/**
 * The Countdown task as the engine evaluation (src/tasks/evaluate.ts) sees it: its test problems,
 * prompt, and answer check (the reported expression evaluated against the numbers and the target).
 */
import type { EvalTask } from '../evaluate.js';
import { parseAnswer } from './chain.js';
import { solves } from './check.js';
import { promptText } from './export.js';
import type { Problem } from './problem.js';
import { remainingPairs } from './search.js';
import { heldOutProblems } from './splits.js';

/** The first `count` problems of the test split (never trained on). */
export function testProblems(count: number): Problem[] {
  return heldOutProblems('test', count);
}

export const COUNTDOWN_EVAL: EvalTask<Problem> = {
  prompt: promptText,
  isCorrect: (problem, text) => solves(problem, parseAnswer(text)),
  parts: (problem) => remainingPairs(problem.numbers).length,
  seed: (problem) => problem.seed,
};
