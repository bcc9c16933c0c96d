/**
 * Self-consistency's reduce: the majority answer over branches.
 */
import type { OperatorFunction } from 'rxjs';
import type { Branch, BranchResult } from '../session.js';
import { reduceBranches } from './reduce-branches.js';

export interface VoteResult {
  /** The key with the most votes; undefined when no branch voted. */
  answer: string | undefined;
  /** Votes per key. */
  votes: Record<string, number>;
  /** The branches that voted for the answer, in index order. */
  winners: BranchResult[];
  /** Every branch's result, in index order. */
  results: BranchResult[];
}

/**
 * Waits for every branch, then emits the majority of `key(result)` over them and completes.
 * A branch whose key is undefined does not vote; a tie goes to the key whose first vote came from
 * the lowest branch index.
 *
 *   branches:  --a--b--c--|          keys: a → '42', b → '7', c → '42'
 *   vote(key)
 *   output:    -----------(v|)       v.answer = '42', v.votes = { 42: 2, 7: 1 }
 *
 * @example
 * ```ts
 * import { loadModel, vote } from 'multiverse-rx';
 * const model = await loadModel();
 * model
 *   .session('Compute 17*3', { maxTokens: 48, seed: 1 }, (root) =>
 *     root.fork(5, { temperature: 1 }).pipe(vote((r) => r.text.match(/Answer: (\d+)/)?.[1])),
 *   )
 *   .subscribe((v) => console.log(v.answer, v.votes, v.winners.map((r) => r.branch)));
 * // Logs:
 * // 51 { '51': 5 } [ '0/0', '0/1', '0/2', '0/3', '0/4' ]
 * ```
 */
export function vote(key: (result: BranchResult) => string | undefined): OperatorFunction<Branch, VoteResult> {
  return reduceBranches((results) => {
    const keys = results.map(key);
    const votes: Record<string, number> = {};
    for (const k of keys) if (k !== undefined) votes[k] = (votes[k] ?? 0) + 1;
    // Keys in order of their first vote, so a strictly-greater scan keeps the earliest of a tie.
    let answer: string | undefined;
    for (const k of keys) if (k !== undefined && (answer === undefined || votes[k] > votes[answer])) answer = k;
    return { answer, votes, winners: results.filter((_, i) => answer !== undefined && keys[i] === answer), results };
  });
}
