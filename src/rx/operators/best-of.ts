/**
 * Best-of-n's reduce: the branch with the highest score.
 */
import type { OperatorFunction } from 'rxjs';
import { GenerationError } from '../../engine/errors.js';
import type { Branch, BranchResult } from '../session.js';
import { reduceBranches } from './reduce-branches.js';

/**
 * Waits for every branch, then emits the result with the highest `score` (by default the mean
 * logprob of its tokens) and completes; a tie goes to the lowest branch index. No branch at all
 * is an INVALID_REQUEST error.
 *
 *   branches:  --a--b--c--|          scores: a → -1.2, b → -0.4, c → -0.4
 *   bestOf()
 *   output:    -----------(b|)
 *
 * @example
 * ```ts
 * import { loadModel, bestOf } from 'multiverse-rx';
 * const model = await loadModel();
 * model
 *   .session('Compute 37*4+12*9', { maxTokens: 8, seed: 1 }, (root) =>
 *     root.fork(4, { temperature: 1 }).pipe(bestOf()),
 *   )
 *   .subscribe((best) => console.log(best.branch, best.meanLogprob.toFixed(2), JSON.stringify(best.text)));
 * // Logs:
 * // 0/0 -0.00 "<Parallel><Goal><Outline>1: 37"
 * ```
 */
export function bestOf(score: (result: BranchResult) => number = (r) => r.meanLogprob): OperatorFunction<Branch, BranchResult> {
  return reduceBranches((results) => {
    if (results.length === 0) throw new GenerationError('INVALID_REQUEST', 'bestOf needs at least one branch');
    const scores = results.map(score);
    let best = 0;
    for (let i = 1; i < results.length; i++) if (scores[i] > scores[best]) best = i;
    return results[best];
  });
}
