/**
 * Countdown train / validation / test splits by seed, as the arithmetic task splits
 * (src/tasks/arith/splits.ts): disjoint seed ranges, and training skips any problem whose text is
 * held out (only a few thousand distinct problems exist, so many recur across seeds).
 */
import { SPLIT_SEED_BASE, type Split, type SplitSizes } from '../arith/splits.js';
import { DEFAULT_PROBLEM_OPTIONS, generateProblem, problemText, type Problem, type ProblemOptions } from './problem.js';

/** `count` problems from seeds `base`, `base + 1`, … whose text is not in `exclude` nor drawn already. */
function drawProblems(base: number, count: number, options: ProblemOptions, exclude: ReadonlySet<string>, distinct: boolean): Problem[] {
  const problems: Problem[] = [];
  const seen = new Set<string>();
  for (let seed = base; problems.length < count; seed++) {
    // The space is finite (5946 problems by default): a request beyond it would never finish.
    if (seed - base > 1000 * (problems.length + 1)) throw new RangeError(`only ${problems.length} Countdown problems of this shape are available, not ${count}`);
    const problem = generateProblem(seed, options);
    const text = problemText(problem);
    if (exclude.has(text) || (distinct && seen.has(text))) continue;
    seen.add(text);
    problems.push(problem);
  }
  return problems;
}

/** The first `count` problems of a held-out split, without repeats. */
export function heldOutProblems(split: 'validation' | 'test', count: number, options: ProblemOptions = DEFAULT_PROBLEM_OPTIONS): Problem[] {
  return drawProblems(SPLIT_SEED_BASE[split], count, options, new Set(), true);
}

/** The three splits; training problems never repeat a held-out problem's text (the two held-out splits may share some). */
export function buildSplits(sizes: SplitSizes, options: ProblemOptions = DEFAULT_PROBLEM_OPTIONS): Record<Split, Problem[]> {
  const validation = heldOutProblems('validation', sizes.validation, options);
  const test = heldOutProblems('test', sizes.test, options);
  const heldOut = new Set([...validation, ...test].map(problemText));
  return { train: drawProblems(SPLIT_SEED_BASE.train, sizes.train, options, heldOut, false), validation, test };
}
