/**
 * Best-of-n by mean logprob: sample n continuations of one prompt from a shared, prefilled prefix
 * and keep the one the model is most confident in (the highest mean log-probability per token).
 *
 * Run (from the repository root): npm run build && node dist/examples/best-of-n.js [MODEL_DIR]
 * (default: the shipped Multiverse model)
 */
import { lastValueFrom, type Observable } from 'rxjs';
import { bestOf, type BranchResult, type GenerateInput, type GenerateOptions, type Model } from '../src/index.js';
import { runExample } from './run-example.js';

export interface BestOfNOptions extends GenerateOptions {
  /** Samples to choose from. Default 4. */
  n?: number;
}

/** The sample of `prompt` with the highest mean logprob among `n` (temperature 1 and 64 tokens each unless given). */
export function bestOfN(model: Model, prompt: GenerateInput, { n = 4, temperature = 1, maxTokens = 64, ...options }: BestOfNOptions = {}): Observable<BranchResult> {
  return model.session(prompt, { ...options, maxTokens }, (root) => root.fork(n, { temperature }).pipe(bestOf()));
}

await runExample(import.meta.url, async (model) => {
  const best = await lastValueFrom(bestOfN(model, 'Compute 37*4+12*9', { n: 6, maxTokens: 128 }));
  console.log(`best: ${best.branch}, mean logprob ${best.meanLogprob.toFixed(3)} over ${best.tokenIds.length} tokens`);
  console.log(best.text);
});
