/**
 * Self-consistency voting: sample n answers to one question from a shared, prefilled prefix (one
 * fork, no prefix recomputed) and keep the majority answer.
 *
 * Run (from the repository root): npm run build && node dist/examples/self-consistency.js [MODEL_DIR]
 * (default: the shipped Multiverse model, which solves sums of products such as `Compute 17*3`)
 */
import { lastValueFrom, type Observable } from 'rxjs';
import { vote, type BranchResult, type GenerateInput, type GenerateOptions, type Model, type VoteResult } from '../src/index.js';
import { runExample } from './run-example.js';

export interface SelfConsistencyOptions extends GenerateOptions {
  /** Samples to vote over. Default 5. */
  n?: number;
}

/** A branch's answer: the last number in its text (none: the branch does not vote). */
export function answerOf(result: BranchResult): string | undefined {
  return result.text.match(/-?\d+(?:\.\d+)?/g)?.at(-1);
}

/** The majority answer of `n` samples of `question` (temperature 0.8 and 64 tokens each unless given). */
export function selfConsistency(model: Model, question: GenerateInput, { n = 5, temperature = 0.8, maxTokens = 64, ...options }: SelfConsistencyOptions = {}): Observable<VoteResult> {
  return model.session(question, { ...options, maxTokens }, (root) => root.fork(n, { temperature }).pipe(vote(answerOf)));
}

await runExample(import.meta.url, async (model) => {
  const v = await lastValueFrom(selfConsistency(model, 'Compute 17*3', { n: 8 }));
  console.log(`answer: ${v.answer ?? '(no branch gave a number)'}`, v.votes);
  for (const r of v.results) console.log(`  ${r.branch} ${JSON.stringify(answerOf(r) ?? null)} ${JSON.stringify(r.text.slice(0, 60))}`);
});
