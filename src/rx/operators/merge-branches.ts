/**
 * The default reduce: a lossless KV merge of every branch, as the Multiverse engine merges paths.
 */
import { concatMap, defer, tap, type OperatorFunction } from 'rxjs';
import { GenerationError } from '../../engine/errors.js';
import type { Branch, Node } from '../session.js';
import { reduceBranches } from './reduce-branches.js';

/**
 * Waits for every branch, then merges them into their parent: emits the Node whose context is the
 * parent's, then each branch's own tokens in index order, their KV reused as is (nothing is
 * recomputed), and completes. Fork from that node to continue on the combined context: as in the
 * flattened transcript under Multiverse Attention, its first token is drawn from the last
 * branch's final logits (which saw the prefix and that branch), and every later token sees all
 * branches. Branches of different parents, or no branch at all, are an INVALID_REQUEST error.
 *
 *   branches:  --a--b--|
 *   results:   ----A--B          as each branch ends
 *   mergeBranches()
 *   output:    --------(n|)      n = parent.merge([A.node, B.node]), drawn as instant
 *
 * @example
 * ```ts
 * import { mergeMap } from 'rxjs';
 * import { loadModel, mergeBranches, reduceBranches } from 'multiverse-rx';
 * const model = await loadModel();
 * model
 *   .session('Compute 37*4+12*9', { maxTokens: 3, ignoreEos: true, seed: 1 }, (root) =>
 *     root.fork({ prompts: [' Idea A:', ' Idea B:'] }).pipe(
 *       mergeBranches(),
 *       mergeMap((merged) => merged.generate()),
 *       reduceBranches(([summary]) => `${summary.branch}: ${summary.tokenIds.length} tokens after both ideas`),
 *     ),
 *   )
 *   .subscribe(console.log);
 * // Logs:
 * // 0/0: 3 tokens after both ideas
 * ```
 */
export function mergeBranches(): OperatorFunction<Branch, Node> {
  return (branches$) =>
    defer(() => {
      let parent: Node | undefined;
      return branches$.pipe(
        tap((b) => {
          parent ??= b.parent;
          if (b.parent !== parent) throw new GenerationError('INVALID_REQUEST', `mergeBranches: branch ${b.branch} forked from ${b.parent.branch}, not ${parent.branch}`);
        }),
        reduceBranches((results) => results),
        concatMap((results) => {
          if (!parent) throw new GenerationError('INVALID_REQUEST', 'mergeBranches needs at least one branch');
          return parent.merge(results.map((r) => r.node));
        }),
      );
    });
}
