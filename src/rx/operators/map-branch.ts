/**
 * Per-branch operators: limit, stop early or transform each branch's token stream.
 */
import { concat, ignoreElements, map, type OperatorFunction } from 'rxjs';
import type { TokenEvent } from '../events.js';
import type { Branch } from '../session.js';

/**
 * Applies `op` to each branch's `tokens$`. Because letting go of a branch's tokens cancels it in the
 * engine, an operator that completes early really stops the branch: `mapBranch(take(20))` decodes
 * at most about 20 tokens per branch, `mapBranch(takeWhile(...))` stops at the first token that
 * fails the test.
 *
 * The new branch's `tokens$` is `branch.tokens$.pipe(op)`. Its `result$` first runs that same
 * stream (so reading only the results, as every reducer does, still drives the cut), then emits
 * the branch's result: what the branch really decoded and holds in its KV (its node), with
 * `truncated: true` when `op` let go before the branch ended. A token already decoded when `op`
 * let go (the one `takeWhile` rejected) stays in the result. The cut happens once every subscriber
 * of the original `tokens$` is gone, so a subscription kept elsewhere keeps the branch running.
 *
 *   original tokens$:  -a-b-c-d-|
 *   mapBranch(take(2))
 *   tokens$:           -a-(b|)        the original is let go at b: the engine stops the branch
 *   result$:           -------(r|)    the branch's result once it stopped; r.truncated === true
 *
 * @example
 * ```ts
 * import { take } from 'rxjs';
 * import { loadModel, mapBranch, reduceBranches } from 'multiverse-rx';
 * const model = await loadModel();
 * model
 *   .session('Compute 37*4+12*9', { maxTokens: 100, seed: 1 }, (root) =>
 *     root.fork(2, { temperature: 1 }).pipe(
 *       mapBranch(take(5)),
 *       reduceBranches((results) => results.map((r) => `${r.branch}: ${r.tokenIds.length} tokens, truncated ${r.truncated}`)),
 *     ),
 *   )
 *   .subscribe((lines) => console.log(lines.join('\n')));
 * // Logs:
 * // 0/0: 5 tokens, truncated true
 * // 0/1: 5 tokens, truncated true
 * ```
 */
export function mapBranch(op: OperatorFunction<TokenEvent, TokenEvent>): OperatorFunction<Branch, Branch> {
  return map((branch) => {
    const tokens$ = branch.tokens$.pipe(op);
    return { ...branch, tokens$, result$: concat(tokens$.pipe(ignoreElements()), branch.result$) };
  });
}
