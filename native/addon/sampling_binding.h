// Addon functions for the per-token work (native/engine/sampling.h): JavaScript hands over a row
// of logits (a view of the step's output buffer, never copied) and gets back the chosen id, its
// logprob and the asked-for top-K, written into a Float64Array it owns.
#pragma once
#include <napi.h>

namespace mv {

// sampleToken(row: Float32Array, params: Float64Array [temperature, topK, topP, minP,
// repetitionPenalty, topLogprobs], uniform: number, history: Int32Array, out: Float64Array):
// number. Writes [token, logprob, id0, logprob0, id1, ...] into out and returns how many top
// entries it wrote. Throws RangeError with the reference sampler's message on bad params, a
// history id outside the vocab, non-finite logits or an `out` too short.
Napi::Value SampleToken(const Napi::CallbackInfo& info);
// scoreToken(row: Float32Array, token: number, topLogprobs: number, out: Float64Array): number,
// the same output for a given token (forced or scored). Throws RangeError likewise.
Napi::Value ScoreToken(const Napi::CallbackInfo& info);

}  // namespace mv
