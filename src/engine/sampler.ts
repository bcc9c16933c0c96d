/**
 * Picks the next token from one row of logits, in Hugging Face / vLLM order: repetition penalty,
 * temperature, top-k, top-p, min-p, then a draw (or argmax when greedy).
 *
 * Reported logprobs are the log-softmax of the raw logits, before penalty, temperature and filters:
 * the model's own belief, as vLLM reports by default, so they do not move with sampling settings.
 *
 * The work over the row runs in C++ (native/engine/sampling.cpp) on the step's own output buffer,
 * which reaches JavaScript without a copy: only the chosen id, its logprob and the asked-for top-K
 * come back. The random draw still comes from the caller's `RandomSource` (one per non-greedy
 * pick), so a seed gives the same tokens as the TypeScript sampler it replaced
 * (test/support/reference-sampler.ts, the tests' oracle).
 */
import { loadNative, type NativeAddon } from '../native/binding.js';

export interface SamplingParams {
  /** Softmax temperature; 0 = greedy (argmax after the repetition penalty). */
  temperature: number;
  /** Keep the k most likely tokens (and any tied with the k-th); 0 = off. */
  topK: number;
  /** Keep the smallest set of most likely tokens whose mass reaches topP; 1 = off. */
  topP: number;
  /** Keep tokens at least minP times as likely as the most likely one; 0 = off. */
  minP: number;
  /** HF semantics: a token already in the history has logit > 0 ? logit / p : logit * p; 1 = off. */
  repetitionPenalty: number;
  /** How many most likely tokens to report with their logprobs; 0 = none. */
  topLogprobs: number;
}

/** Where draws come from; `Rng` from `./rng.js` is one. */
export interface RandomSource {
  /** Uniform in [0, 1). */
  nextFloat(): number;
}

export interface SampledToken {
  token: number;
  /** log-softmax of the raw logits at `token`: the model's own belief, before penalty, temperature and filters. */
  logprob: number;
  /** Raw log-softmax of the `topLogprobs` most likely tokens (by raw logit), keyed by token id. */
  topLogprobs?: Record<number, number>;
}

/**
 * Checks every field's range.
 * @throws RangeError naming the first bad field.
 */
export function validateSamplingParams(p: SamplingParams): void {
  const bad = (field: keyof SamplingParams, want: string) => new RangeError(`sampling ${field} must be ${want}, got ${p[field]}`);
  if (!(p.temperature >= 0 && Number.isFinite(p.temperature))) throw bad('temperature', 'a finite number >= 0');
  if (!(Number.isInteger(p.topK) && p.topK >= 0)) throw bad('topK', 'an integer >= 0');
  if (!(p.topP > 0 && p.topP <= 1)) throw bad('topP', 'in (0, 1]');
  if (!(p.minP >= 0 && p.minP <= 1)) throw bad('minP', 'in [0, 1]');
  if (!(p.repetitionPenalty > 0 && Number.isFinite(p.repetitionPenalty))) throw bad('repetitionPenalty', 'a finite number > 0');
  if (!(Number.isInteger(p.topLogprobs) && p.topLogprobs >= 0)) throw bad('topLogprobs', 'an integer >= 0');
}

/**
 * Samples one token from `logits` (one row, vocab long) after the filters of `params`, drawing from
 * `rng` (one draw, none when greedy). `history` holds the prompt and generated ids that the
 * repetition penalty applies to. Greedy picks the maximum, lowest id on ties. A filtered draw
 * inverts the CDF over the kept tokens in descending-probability order (ties: lower id first).
 * @throws RangeError on bad params, a history id outside the vocab, or logits with NaN, +Infinity
 *   or no finite value.
 */
export function sampleToken(logits: Float32Array, params: SamplingParams, rng: RandomSource, history: readonly number[]): SampledToken {
  packed[0] = params.temperature;
  packed[1] = params.topK;
  packed[2] = params.topP;
  packed[3] = params.minP;
  packed[4] = params.repetitionPenalty;
  packed[5] = params.topLogprobs;
  const uniform = params.temperature === 0 ? 0 : rng.nextFloat();
  const ids = params.repetitionPenalty === 1 || history.length === 0 ? NO_HISTORY : Int32Array.from(history);
  const out = outFor(params.topLogprobs, logits.length);
  return unpack(out, native().sampleToken(logits, packed, uniform, ids, out));
}

/**
 * The model's log-probability of `token` (raw log-softmax of `logits`) and, when `topLogprobs` > 0,
 * of the most likely tokens: what a sampled, forced or scored token reports.
 * @throws RangeError for a token outside the row, or logits with NaN, +Infinity or no finite value.
 */
export function scoreToken(logits: Float32Array, token: number, topLogprobs = 0): SampledToken {
  const out = outFor(topLogprobs, logits.length);
  return unpack(out, native().scoreToken(logits, token, topLogprobs, out));
}

/** The sampling fields in the order the addon reads them (reused: calls never overlap). */
const packed = new Float64Array(6);
const NO_HISTORY = new Int32Array(0);
/** [token, logprob, id0, logprob0, ...], grown to the most top logprobs asked for. */
let scratch = new Float64Array(2);

function outFor(topLogprobs: number, vocab: number): Float64Array {
  const need = 2 + 2 * Math.min(Number.isFinite(topLogprobs) ? Math.max(0, topLogprobs) : 0, vocab);
  if (scratch.length < need) scratch = new Float64Array(need);
  return scratch;
}

function unpack(out: Float64Array, top: number): SampledToken {
  const scored: SampledToken = { token: out[0], logprob: out[1] };
  if (top > 0) {
    const topLogprobs: Record<number, number> = {};
    for (let i = 0; i < top; i++) topLogprobs[out[2 + 2 * i]] = out[3 + 2 * i];
    scored.topLogprobs = topLogprobs;
  }
  return scored;
}

let addon: NativeAddon | undefined;

function native(): NativeAddon {
  return (addon ??= loadNative());
}
