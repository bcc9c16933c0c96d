#include "addon/sampling_binding.h"

#include <exception>
#include <string>

#include "addon/js_args.h"
#include "common/check.h"
#include "engine/sampling.h"

namespace mv {
namespace {

template <typename T, napi_typedarray_type kType>
const T* typed_data(const Napi::CallbackInfo& info, size_t i, const char* what, size_t* length) {
  MV_CHECK(info.Length() > i && info[i].IsTypedArray() && info[i].As<Napi::TypedArray>().TypedArrayType() == kType,
           std::string(what) + " has the wrong type");
  Napi::TypedArrayOf<T> a = info[i].As<Napi::TypedArrayOf<T>>();
  *length = a.ElementLength();
  return a.Data();
}

// Writes a scored token into `out` (argument out_arg) and returns the number of top entries.
Napi::Value write_out(const Napi::CallbackInfo& info, size_t out_arg, const ScoredToken& t) {
  Napi::Float64Array out = info[out_arg].As<Napi::Float64Array>();
  MV_CHECK(out.ElementLength() >= 2 + 2 * t.top.size(), "out is too short for the top logprobs asked for");
  double* o = out.Data();
  o[0] = t.token;
  o[1] = t.logprob;
  for (size_t i = 0; i < t.top.size(); ++i) {
    o[2 + 2 * i] = t.top[i].token;
    o[3 + 2 * i] = t.top[i].logprob;
  }
  return Napi::Number::New(info.Env(), double(t.top.size()));
}

// Runs `body`, turning every C++ error into a JS RangeError (bad input, like the reference's).
template <typename Body>
Napi::Value as_range_errors(const Napi::CallbackInfo& info, Body body) {
  try {
    return body();
  } catch (const std::exception& e) {
    throw Napi::RangeError::New(info.Env(), e.what());
  }
}

}  // namespace

Napi::Value SampleToken(const Napi::CallbackInfo& info) {
  return as_range_errors(info, [&] {
    size_t vocab = 0, nparams = 0, history_len = 0, out_len = 0;
    const float* row = typed_data<float, napi_float32_array>(info, 0, "row", &vocab);
    const double* packed = typed_data<double, napi_float64_array>(info, 1, "params", &nparams);
    const double uniform = number_arg(info, 2, "uniform");
    const int32_t* history = typed_data<int32_t, napi_int32_array>(info, 3, "history", &history_len);
    typed_data<double, napi_float64_array>(info, 4, "out", &out_len);
    MV_CHECK(nparams == 6, "params must hold 6 numbers");
    MV_CHECK(vocab < size_t(1) << 31, "row is too long");
    MV_CHECK(uniform >= 0 && uniform < 1, "uniform must be in [0, 1)");
    const SamplingParams p{packed[0], packed[1], packed[2], packed[3], packed[4], packed[5]};
    return write_out(info, 4, sample_token(row, int(vocab), p, uniform, history, history_len));
  });
}

Napi::Value ScoreToken(const Napi::CallbackInfo& info) {
  return as_range_errors(info, [&] {
    size_t vocab = 0, out_len = 0;
    const float* row = typed_data<float, napi_float32_array>(info, 0, "row", &vocab);
    const double token = number_arg(info, 1, "token");
    const double top = number_arg(info, 2, "topLogprobs");
    typed_data<double, napi_float64_array>(info, 3, "out", &out_len);
    MV_CHECK(vocab < size_t(1) << 31, "row is too long");
    return write_out(info, 3, score_token(row, int(vocab), token, top));
  });
}

}  // namespace mv
