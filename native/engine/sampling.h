// Per-token work over one row of logits: pick the next token (repetition penalty, temperature,
// top-k, top-p, min-p, then a draw or argmax) and report logprobs. Runs where the row lives, so
// only the chosen id, its logprob and the asked-for top-K ever reach JavaScript.
//
// The algorithm, its order of operations and its float64 arithmetic follow the TypeScript
// reference sampler (test/support/reference-sampler.ts) step by step, so a given uniform draw
// picks the same token: only exp/log may differ from V8's in the last bit, which can change a
// pick only when the draw lands within that rounding of a cumulative boundary.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace mv {

// As JavaScript numbers, so validation sees what the caller passed (a top_k of 1.5 is an error).
struct SamplingParams {
  double temperature = 1;         // 0 = greedy
  double top_k = 0;               // integer; 0 = off
  double top_p = 1;               // 1 = off
  double min_p = 0;               // 0 = off
  double repetition_penalty = 1;  // 1 = off
  double top_logprobs = 0;        // integer: how many most likely tokens to report
};

struct TopLogprob {
  int32_t token;
  double logprob;
};

struct ScoredToken {
  int32_t token = -1;
  double logprob = 0;                  // raw log-softmax at token, before penalty and filters
  std::vector<TopLogprob> top;         // raw log-softmax of the top_logprobs most likely tokens, descending
};

// Throws EngineError naming the first field out of range (the same rules as validateSamplingParams).
void validate_sampling_params(const SamplingParams& p);

// Picks a token from `logits` (vocab floats). `uniform` in [0, 1) is the one draw a non-greedy
// pick consumes (ignored when greedy); `history` (history_len ids) is what the repetition penalty
// applies to. Throws EngineError on bad params, a history id outside the vocab, or logits with
// NaN, +Infinity or no finite value.
ScoredToken sample_token(const float* logits, int vocab, const SamplingParams& p, double uniform,
                         const int32_t* history, size_t history_len);

// The raw logprob of `token` and the top_logprobs most likely tokens (what a forced or scored
// token reports). Throws EngineError on a token outside the vocab, a bad top_logprobs or
// non-finite logits.
ScoredToken score_token(const float* logits, int vocab, double token, double top_logprobs);

}  // namespace mv
