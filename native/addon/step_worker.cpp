#include "addon/step_worker.h"

#include <cstring>
#include <exception>

namespace mv {

StepWorker::StepWorker(Napi::Env env, std::shared_ptr<Engine> engine, std::vector<StepInput> batch)
    : Napi::AsyncWorker(env), engine_(std::move(engine)), batch_(std::move(batch)),
      deferred_(Napi::Promise::Deferred::New(env)) {}

void StepWorker::Execute() {
  try {
    engine_->execute(batch_, &logits_);
  } catch (const std::exception& e) {
    SetError(std::string("step failed: ") + e.what());
  }
}

void StepWorker::OnOK() {
  engine_->finish();
  deferred_.Resolve(logits_array(Env(), std::move(logits_)));
}

Napi::Float32Array StepWorker::logits_array(Napi::Env env, std::vector<float> logits) {
  const size_t n = logits.size();
  if (n == 0) return Napi::Float32Array::New(env, 0);
  // The step's rows become the array's memory: nothing is copied, and JS reads only the rows it
  // needs (sampling runs in C++ over them, see sampling_binding.h).
  auto* owned = new std::vector<float>(std::move(logits));
  try {
    Napi::ArrayBuffer buffer = Napi::ArrayBuffer::New(
        env, owned->data(), n * sizeof(float), [](Napi::Env, void*, std::vector<float>* rows) { delete rows; }, owned);
    return Napi::Float32Array::New(env, n, buffer, 0);
  } catch (const Napi::Error&) {
    // A runtime that forbids external buffers (a V8 sandbox) gets a copy.
    Napi::Float32Array copy = Napi::Float32Array::New(env, n);
    std::memcpy(copy.Data(), owned->data(), n * sizeof(float));
    delete owned;
    return copy;
  }
}

void StepWorker::OnError(const Napi::Error& e) {
  engine_->finish();
  deferred_.Reject(e.Value());
}

}  // namespace mv
