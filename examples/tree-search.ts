/**
 * Breadth-2 tree search: fork two branches of `step` tokens from the prompt, keep the one with the
 * higher mean logprob, release the other's KV, and fork two again from the winner, `depth` levels
 * deep. Every level continues from the winner's KV: nothing is recomputed, and only the chosen path
 * stays in the pool.
 *
 * Run (from the repository root): npm run build && node dist/examples/tree-search.js [MODEL_DIR]
 * (default: the shipped Multiverse model)
 */
import { lastValueFrom, map, mergeMap, of, type Observable } from 'rxjs';
import { reduceBranches, type BranchResult, type GenerateInput, type GenerateOptions, type Model, type Node } from '../src/index.js';
import { runExample } from './run-example.js';

export interface TreeSearchOptions extends GenerateOptions {
  /** Levels of the tree. Default 3. */
  depth?: number;
  /** Branches per level. Default 2. */
  width?: number;
  /** Tokens each branch decodes. Default 16. */
  step?: number;
}

/** The chosen path: the winner of each level, from the first level down. */
export function treeSearch(model: Model, prompt: GenerateInput, { depth = 3, width = 2, step = 16, temperature = 1, ...options }: TreeSearchOptions = {}): Observable<BranchResult[]> {
  const branchOptions = { temperature, maxTokens: step };
  const expand = (node: Node, level: number): Observable<BranchResult[]> =>
    node.fork(width, branchOptions).pipe(
      reduceBranches(keepBest),
      mergeMap((best) => (level === depth ? of([best]) : expand(best.node, level + 1).pipe(map((rest) => [best, ...rest])))),
    );
  return model.session(prompt, options, (root) => expand(root, 1));
}

/** The sibling with the highest mean logprob (the first of a tie); the others' KV is released now. */
function keepBest(siblings: BranchResult[]): BranchResult {
  const best = siblings.reduce((a, b) => (b.meanLogprob > a.meanLogprob ? b : a));
  for (const r of siblings) if (r !== best) r.node.release();
  return best;
}

await runExample(import.meta.url, async (model) => {
  const path = await lastValueFrom(treeSearch(model, 'Compute 23*4+45*3', { depth: 4, step: 12 }));
  for (const r of path) console.log(`${r.branch.padEnd(10)} ${r.meanLogprob.toFixed(3)} ${JSON.stringify(r.text)}`);
});
