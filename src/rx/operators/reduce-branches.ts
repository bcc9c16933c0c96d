/**
 * The custom reduce strategy: the other reducers (vote, bestOf, mergeBranches) are built on it.
 */
import { defer, from, mergeMap, of, switchMap, take, throwIfEmpty, toArray, type OperatorFunction } from 'rxjs';
import { GenerationError } from '../../engine/errors.js';
import type { Branch, BranchResult } from '../session.js';

/**
 * Waits for every branch's `result$`, then emits `fn(results)` (results in branch index order;
 * `fn` may return a value or a Promise) and completes. Each `result$` is subscribed as soon as its
 * branch arrives and let go after its first result. An error from a branch, or thrown by `fn`,
 * errors the output; a `result$` that completes without a result is an INVALID_REQUEST error.
 *
 *   branches:   --a--b--|
 *   a.result$:  ------A|          subscribed when a arrives
 *   b.result$:  ------B|          subscribed when b arrives
 *   reduceBranches(fn)
 *   output:     --------(F|)      F = fn([A, B]), in branch index order
 *
 * @example
 * ```ts
 * import { loadModel, reduceBranches } from 'multiverse-rx';
 * const model = await loadModel();
 * model
 *   .session('Compute 37*4+12*9', { maxTokens: 5, ignoreEos: true, seed: 1 }, (root) =>
 *     root.fork(3, { temperature: 1 }).pipe(reduceBranches((results) => results.map((r) => `${r.branch}: ${r.tokenIds.length} tokens`))),
 *   )
 *   .subscribe((lines) => console.log(lines.join('\n')));
 * // Logs:
 * // 0/0: 5 tokens
 * // 0/1: 5 tokens
 * // 0/2: 5 tokens
 * ```
 */
export function reduceBranches<T>(fn: (results: BranchResult[]) => T | PromiseLike<T>): OperatorFunction<Branch, T> {
  return (branches$) =>
    branches$.pipe(
      mergeMap((b) => b.result$.pipe(take(1), throwIfEmpty(() => new GenerationError('INVALID_REQUEST', `branch ${b.branch} ended without a result`)))),
      toArray(),
      switchMap((results) =>
        defer(() => {
          const out = fn([...results].sort((x, y) => x.index - y.index));
          // A plain value is emitted synchronously; only a Promise waits.
          return isPromiseLike(out) ? from(out) : of(out);
        }),
      ),
    );
}

function isPromiseLike<T>(v: T | PromiseLike<T>): v is PromiseLike<T> {
  return typeof (v as PromiseLike<T> | null)?.then === 'function';
}
