/**
 * The TypeScript sampler the engine used before sampling moved into C++ (native/engine/sampling.cpp):
 * kept as the reference the native sampler is tested against, step for step.
 *
 * Hugging Face / vLLM order: repetition penalty, temperature, top-k, top-p, min-p, then a draw
 * (or argmax when greedy). Logprobs are the log-softmax of the raw logits. No filter sorts the
 * vocabulary: one pass buckets every token by how far its scaled logit lies below the maximum; the
 * filters' cut-offs fall in a bucket found from the histogram, and only the buckets up to it are sorted.
 */
import { validateSamplingParams, type RandomSource, type SampledToken, type SamplingParams } from '../../src/engine/sampler.js';

/** Buckets per nat of distance below the maximum, and how many nats the buckets cover. */
const BUCKETS_PER_NAT = 4;
const BUCKET_NATS = 32;
/** The last bucket takes every token further below the maximum (and masked, -Infinity ones). */
const LAST_BUCKET = BUCKETS_PER_NAT * BUCKET_NATS;

/**
 * Samples one token from `logits` (one row, vocab long) after the filters of `params`, drawing from
 * `rng` (one draw, none when greedy). `history` holds the prompt and generated ids that the
 * repetition penalty applies to. Greedy picks the maximum, lowest id on ties. A filtered draw
 * inverts the CDF over the kept tokens in descending-probability order (ties: lower id first).
 * @throws RangeError on bad params, a history id outside the vocab, or logits with NaN, +Infinity
 *   or no finite value.
 */
export function sampleToken(
  logits: Float32Array,
  params: SamplingParams,
  rng: RandomSource,
  history: readonly number[],
): SampledToken {
  validateSamplingParams(params);
  const z = applyRepetitionPenalty(logits, history, params.repetitionPenalty);
  const token = params.temperature === 0 ? argmax(z) : draw(z, params, rng);
  return scoreToken(logits, token, params.topLogprobs);
}

/**
 * The model's log-probability of `token` (raw log-softmax of `logits`) and, when `topLogprobs` > 0,
 * of the most likely tokens: what a sampled, forced or scored token reports.
 * @throws RangeError for logits with NaN, +Infinity or no finite value.
 */
export function scoreToken(logits: Float32Array, token: number, topLogprobs = 0): SampledToken {
  const lse = logSumExp(logits);
  const scored: SampledToken = { token, logprob: logits[token] - lse };
  if (topLogprobs > 0) scored.topLogprobs = topLogprobsOf(logits, lse, topLogprobs);
  return scored;
}

/**
 * HF's repetition penalty: a copy of `logits` where each id in `history` (duplicates count once)
 * has logit > 0 ? logit / penalty : logit * penalty. Returns `logits` itself when penalty is 1.
 * @throws RangeError when a history id is outside the vocab.
 */
export function applyRepetitionPenalty(logits: Float32Array, history: readonly number[], penalty: number): Float32Array {
  if (penalty === 1) return logits;
  const z = logits.slice();
  for (const id of history) {
    if (!(Number.isInteger(id) && id >= 0 && id < logits.length)) {
      throw new RangeError(`history token ${id} is outside the vocab (size ${logits.length})`);
    }
    // Read the raw logit, so a token repeated in the history is penalised once.
    z[id] = logits[id] > 0 ? logits[id] / penalty : logits[id] * penalty;
  }
  return z;
}

/** log Σ exp(logits), in float64. @throws RangeError on NaN, +Infinity or all -Infinity. */
function logSumExp(logits: Float32Array): number {
  const max = maxOf(logits);
  if (!Number.isFinite(max)) throw new RangeError(`logits must have a finite maximum, got ${max}`);
  let sum = 0;
  for (let i = 0; i < logits.length; i++) {
    if (Number.isNaN(logits[i])) throw new RangeError(`logit ${i} is NaN`);
    sum += Math.exp(logits[i] - max);
  }
  return max + Math.log(sum);
}

function maxOf(z: Float32Array): number {
  let max = -Infinity;
  for (let i = 0; i < z.length; i++) if (z[i] > max) max = z[i];
  return max;
}

function argmax(z: Float32Array): number {
  let best = 0;
  for (let i = 1; i < z.length; i++) if (z[i] > z[best]) best = i;
  return best;
}

/** Draws from softmax(z / temperature) after top-k, top-p and min-p. */
function draw(z: Float32Array, p: SamplingParams, rng: RandomSource): number {
  const invT = 1 / p.temperature;
  const zmax = maxOf(z);
  const { w, total } = softmaxWeights(z, zmax, invT);
  const topK = p.topK > 0 && p.topK < z.length ? p.topK : 0;
  if (topK === 0 && p.topP === 1 && p.minP === 0) return drawFromAll(w, rng.nextFloat() * total);

  // The kept set is a prefix of the tokens sorted by logit, so sorting the buckets that hold the
  // shortest filter's cut-off is enough. Top-p after top-k measures mass within the top-k set, so
  // with top-k on the whole top-k set is collected. One spare bucket absorbs rounding at the edges.
  const hist = histogram(z, zmax, invT, w);
  let bound = LAST_BUCKET;
  if (topK > 0) bound = firstReaching(hist.count, topK);
  else {
    if (p.topP < 1) bound = Math.min(bound, firstReaching(hist.mass, p.topP * total) + 1);
    if (p.minP > 0) bound = Math.min(bound, bucketOf(-Math.log(p.minP)) + 1);
  }
  const ids = sortedDescending(z, zmax, invT, bound);
  const weight = (i: number) => w[ids[i]];

  let kept = ids.length;
  let keptMass = total;
  if (topK > 0) {
    const kth = z[ids[topK - 1]];
    kept = topK;
    while (kept < ids.length && z[ids[kept]] === kth) kept++;
    keptMass = 0;
    for (let i = 0; i < kept; i++) keptMass += weight(i);
  }
  if (p.topP < 1) {
    // HF: drop a token when the mass ranked strictly above it already reaches topP.
    let above = 0;
    for (let i = 0; i < kept; i++) {
      if (above >= p.topP * keptMass) {
        kept = i;
        break;
      }
      above += weight(i);
    }
  }
  if (p.minP > 0) {
    for (let i = 1; i < kept; i++) {
      if (weight(i) < p.minP) {
        kept = i;
        break;
      }
    }
  }

  let mass = 0;
  for (let i = 0; i < kept; i++) mass += weight(i);
  let u = rng.nextFloat() * mass;
  for (let i = 0; i < kept - 1; i++) {
    u -= weight(i);
    if (u < 0) return ids[i];
  }
  return ids[kept - 1];
}

/** Weights row reused across calls (a call never re-enters), grown to the largest vocab seen. */
let scratch = new Float64Array(0);

/**
 * Softmax numerators w[i] = exp((z[i] - zmax) / T), in (0, 1] with 1 at the maximum (0 when
 * masked), and their sum. `w` is a view of the shared scratch row: valid until the next call.
 */
function softmaxWeights(z: Float32Array, zmax: number, invT: number): { w: Float64Array; total: number } {
  if (scratch.length < z.length) scratch = new Float64Array(z.length);
  const w = scratch.subarray(0, z.length);
  let total = 0;
  for (let i = 0; i < z.length; i++) total += w[i] = Math.exp((z[i] - zmax) * invT);
  return { w, total };
}

/** Inverse CDF over the whole vocab in id order; `u` is uniform in [0, Σw). */
function drawFromAll(w: Float64Array, u: number): number {
  let last = 0;
  for (let i = 0; i < w.length; i++) {
    if (w[i] === 0) continue;
    u -= w[i];
    last = i;
    if (u < 0) return i;
  }
  return last; // rounding left u just above zero: the last token with any mass
}

/** Bucket of a token whose scaled logit is `nats` below the maximum. */
function bucketOf(nats: number): number {
  return Math.min(LAST_BUCKET, Math.floor(nats * BUCKETS_PER_NAT));
}

/** Per bucket: token count, and softmax mass when the weights `w` are given. */
function histogram(z: Float32Array, zmax: number, invT: number, w?: Float64Array): { count: Float64Array; mass: Float64Array } {
  const count = new Float64Array(LAST_BUCKET + 1);
  const mass = new Float64Array(LAST_BUCKET + 1);
  for (let i = 0; i < z.length; i++) {
    const b = bucketOf((zmax - z[i]) * invT);
    count[b]++;
    if (w) mass[b] += w[i];
  }
  return { count, mass };
}

/** The first bucket where the running sum of `perBucket` reaches `target`. */
function firstReaching(perBucket: Float64Array, target: number): number {
  let sum = 0;
  for (let b = 0; b < LAST_BUCKET; b++) {
    sum += perBucket[b];
    if (sum >= target) return b;
  }
  return LAST_BUCKET;
}

/** Ids of the tokens in buckets 0..bound, by logit descending (ties: lower id first). */
function sortedDescending(z: Float32Array, zmax: number, invT: number, bound: number): number[] {
  const ids: number[] = [];
  for (let i = 0; i < z.length; i++) if (bucketOf((zmax - z[i]) * invT) <= bound) ids.push(i);
  return ids.sort((a, b) => z[b] - z[a] || a - b);
}

/** Raw log-softmax of the n most likely tokens (fewer when the vocab is smaller). */
function topLogprobsOf(logits: Float32Array, lse: number, n: number): Record<number, number> {
  const max = maxOf(logits);
  const ids = sortedDescending(logits, max, 1, firstReaching(histogram(logits, max, 1).count, n));
  const top: Record<number, number> = {};
  for (const id of ids.slice(0, n)) top[id] = logits[id] - lse;
  return top;
}
