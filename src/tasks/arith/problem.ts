/**
 * Synthetic arithmetic problems with natural, variable parallelism: a sum of 1 to 6 independent
 * parts, each a product of a two-digit and a one-digit number ("37*4"), or, in harder instances, a
 * bracketed group that is itself a sum of products ("(12*9+85*3)"), so its work splits again.
 * Every problem is a pure function of its seed.
 */
import { Rng } from '../../engine/rng.js';

/** A product `a*b` of a two-digit number (not a multiple of ten) and a digit from 2 to 9. */
export interface Product {
  kind: 'product';
  a: number;
  b: number;
}

/** A bracketed sum of 2 or 3 products: one part whose own work splits into nested paths. */
export interface Group {
  kind: 'group';
  products: Product[];
}

export type Part = Product | Group;

/** A problem: the sum of its parts. */
export interface Problem {
  seed: number;
  parts: Part[];
}

/** Shape of the problems a generator draws. */
export interface ProblemOptions {
  /** Most top-level parts (the fewest is 1). */
  maxParts: number;
  /** Most products in the whole problem, counting those inside groups. */
  maxProducts: number;
  /** Chance that a problem with 2 or more parts turns some of them into groups. */
  nestedProbability: number;
}

export const DEFAULT_PROBLEM_OPTIONS: ProblemOptions = { maxParts: 6, maxProducts: 6, nestedProbability: 0.3 };

/** Uniform integer in [lo, hi]. */
function uniform(rng: Rng, lo: number, hi: number): number {
  return lo + Math.floor(rng.nextFloat() * (hi - lo + 1));
}

function drawProduct(rng: Rng): Product {
  // A multiple of ten would make the expansion's units term zero: a degenerate step.
  let a = uniform(rng, 11, 99);
  while (a % 10 === 0) a = uniform(rng, 11, 99);
  return { kind: 'product', a, b: uniform(rng, 2, 9) };
}

/** The problem of `seed`: the number of parts is uniform in 1..maxParts. */
export function generateProblem(seed: number, options: ProblemOptions = DEFAULT_PROBLEM_OPTIONS): Problem {
  const rng = Rng.fromSeed(seed);
  const partCount = uniform(rng, 1, Math.min(options.maxParts, options.maxProducts));
  const sizes: number[] = new Array(partCount).fill(1);
  if (partCount >= 2 && rng.nextFloat() < options.nestedProbability) {
    // Grow one or two parts into groups of 2-3 products while the product budget allows.
    let spare = options.maxProducts - partCount;
    const groups = uniform(rng, 1, 2);
    for (let g = 0; g < groups && spare > 0; g++) {
      const i = uniform(rng, 0, partCount - 1);
      if (sizes[i] > 1) continue;
      const extra = Math.min(spare, uniform(rng, 1, 2));
      sizes[i] += extra;
      spare -= extra;
    }
  }
  const parts: Part[] = sizes.map((size) =>
    size === 1 ? drawProduct(rng) : { kind: 'group', products: Array.from({ length: size }, () => drawProduct(rng)) },
  );
  return { seed, parts };
}

/** `37*4`. */
export function productText(p: Product): string {
  return `${p.a}*${p.b}`;
}

/** A part as it appears in the problem: `37*4` or `(12*9+85*3)`. */
export function partText(part: Part): string {
  return part.kind === 'product' ? productText(part) : `(${part.products.map(productText).join('+')})`;
}

/** The question the model is asked. */
export function problemText(problem: Problem): string {
  return `Compute ${problem.parts.map(partText).join('+')}`;
}

/** The value of a part. */
export function partValue(part: Part): number {
  return part.kind === 'product' ? part.a * part.b : part.products.reduce((sum, p) => sum + p.a * p.b, 0);
}

/** The answer. */
export function problemAnswer(problem: Problem): number {
  return problem.parts.reduce((sum, part) => sum + partValue(part), 0);
}
