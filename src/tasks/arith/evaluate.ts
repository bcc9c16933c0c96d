/**
 * The arithmetic task as the engine evaluation (src/tasks/evaluate.ts) sees it: its test problems,
 * prompt, and answer check (the `Answer:` number against the sum's value).
 */
import type { EvalTask } from '../evaluate.js';
import { parseAnswer } from './chain.js';
import { promptText } from './export.js';
import { generateProblem, problemAnswer, type Problem } from './problem.js';
import { SPLIT_SEED_BASE } from './splits.js';

/** The first `count` problems of the test split (the split never trained on). */
export function testProblems(count: number): Problem[] {
  return Array.from({ length: count }, (_, i) => generateProblem(SPLIT_SEED_BASE.test + i));
}

export const ARITH_EVAL: EvalTask<Problem> = {
  prompt: promptText,
  isCorrect: (problem, text) => parseAnswer(text) === problemAnswer(problem),
  parts: (problem) => problem.parts.length,
  seed: (problem) => problem.seed,
};
