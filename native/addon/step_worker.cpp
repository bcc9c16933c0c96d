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
  Napi::Env env = Env();
  Napi::Float32Array out = Napi::Float32Array::New(env, logits_.size());
  if (!logits_.empty()) std::memcpy(out.Data(), logits_.data(), logits_.size() * sizeof(float));
  deferred_.Resolve(out);
}

void StepWorker::OnError(const Napi::Error& e) {
  engine_->finish();
  deferred_.Reject(e.Value());
}

}  // namespace mv
