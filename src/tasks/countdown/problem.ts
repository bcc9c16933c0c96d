/**
 * Countdown problems: three distinct numbers and a target; reach the target with `+ - * /`, using
 * each number at most once, every intermediate result a positive integer. Every problem is a pure
 * function of its seed, and its target is built from the numbers by the same moves the search
 * (search.ts) tries, so every problem has a solution the search finds.
 */
import { Rng } from '../../engine/rng.js';
import { firstMoves, leafMoves, remainingPairs } from './search.js';

export interface Problem {
  seed: number;
  /** The numbers, in the order the question lists them. */
  numbers: number[];
  target: number;
}

/** Shape of the problems a generator draws. */
export interface ProblemOptions {
  /** Smallest and largest number (1 is left out by default: `*1` and `/1` are no-op moves). */
  min: number;
  max: number;
}

export const DEFAULT_PROBLEM_OPTIONS: ProblemOptions = { min: 2, max: 9 };

/** Uniform integer in [lo, hi]. */
function uniform(rng: Rng, lo: number, hi: number): number {
  return lo + Math.floor(rng.nextFloat() * (hi - lo + 1));
}

function pick<T>(rng: Rng, items: readonly T[]): T {
  return items[uniform(rng, 0, items.length - 1)];
}

/**
 * The problem of `seed`: three distinct numbers, and the value of a random first move on a random
 * pair followed by a random move with the third.
 *
 * Distinct, so the search always has three subtrees. With a repeated number it had two (one per
 * distinct number), and the plan had to notice the repeat before writing a third outline: the
 * Multiverse model never learned that in 8000 steps (teacher-forced, it opened a third outline on
 * 48 of 48 such validation problems, then searched a subtree that does not exist), while its
 * sequential twin, deciding after a whole subtree, did (docs/countdown.md).
 * @throws RangeError when the range holds fewer than three numbers.
 */
export function generateProblem(seed: number, options: ProblemOptions = DEFAULT_PROBLEM_OPTIONS): Problem {
  if (options.max - options.min < 2) throw new RangeError(`three distinct numbers need a range of three, not ${options.min}..${options.max}`);
  const rng = Rng.fromSeed(seed);
  const numbers: number[] = [];
  while (numbers.length < 3) {
    const n = uniform(rng, options.min, options.max);
    if (!numbers.includes(n)) numbers.push(n);
  }
  const pair = pick(rng, remainingPairs(numbers));
  const first = pick(rng, firstMoves(pair.a, pair.b));
  const last = pick(rng, leafMoves(first.value, pair.rest));
  return { seed, numbers, target: last.value };
}

/** The question the model is asked. */
export function problemText(problem: Problem): string {
  return `Make ${problem.target} from ${problem.numbers.join(' ')}`;
}
