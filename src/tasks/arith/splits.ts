/**
 * Train / validation / test splits by seed: each split draws from its own disjoint seed range, and
 * the training set also skips any problem whose text is held out (small problems, e.g. single
 * products, recur across seeds), so no validation or test question is ever trained on.
 */
import { DEFAULT_PROBLEM_OPTIONS, generateProblem, problemText, type Problem, type ProblemOptions } from './problem.js';

export type Split = 'train' | 'validation' | 'test';

/** First seed of each split; each range is far larger than any split we draw. */
export const SPLIT_SEED_BASE: Readonly<Record<Split, number>> = { train: 0, validation: 1_000_000_000, test: 2_000_000_000 };

export type SplitSizes = Readonly<Record<Split, number>>;

/** `count` problems from seeds `base`, `base + 1`, … that are not in `exclude` (by text). */
function drawProblems(base: number, count: number, options: ProblemOptions, exclude: ReadonlySet<string>): Problem[] {
  const problems: Problem[] = [];
  for (let seed = base; problems.length < count; seed++) {
    const problem = generateProblem(seed, options);
    if (!exclude.has(problemText(problem))) problems.push(problem);
  }
  return problems;
}

/** The three splits; training problems never repeat a held-out problem's text. */
export function buildSplits(sizes: SplitSizes, options: ProblemOptions = DEFAULT_PROBLEM_OPTIONS): Record<Split, Problem[]> {
  const none = new Set<string>();
  const validation = drawProblems(SPLIT_SEED_BASE.validation, sizes.validation, options, none);
  const test = drawProblems(SPLIT_SEED_BASE.test, sizes.test, options, none);
  const heldOut = new Set([...validation, ...test].map(problemText));
  return { train: drawProblems(SPLIT_SEED_BASE.train, sizes.train, options, heldOut), validation, test };
}
