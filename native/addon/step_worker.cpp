#include "addon/step_worker.h"

#include <cstring>
#include <exception>

namespace mv {

StepWorker::StepWorker(Napi::Env env, std::shared_ptr<Engine> engine, std::shared_ptr<LogitsRecycler> recycler,
                       std::vector<StepInput> batch)
    : Napi::AsyncWorker(env), engine_(std::move(engine)), recycler_(std::move(recycler)), batch_(std::move(batch)),
      deferred_(Napi::Promise::Deferred::New(env)) {}

void StepWorker::Execute() {
  try {
    logits_ = recycler_->take();
    engine_->execute(batch_, &logits_);
  } catch (const std::exception& e) {
    SetError(std::string("step failed: ") + e.what());
  }
}

void StepWorker::OnOK() {
  engine_->finish();
  deferred_.Resolve(logits_array(Env()));
}

Napi::Float32Array StepWorker::logits_array(Napi::Env env) {
  const size_t n = logits_.size();
  if (n == 0) {
    recycler_->give_back(std::move(logits_));
    return Napi::Float32Array::New(env, 0);
  }
  // The step's rows become the array's memory: nothing is copied, and JS reads only the rows it
  // needs (sampling runs in C++ over them, see sampling_binding.h).
  struct Lent {
    std::shared_ptr<LogitsRecycler> recycler;
    LogitsRows rows;
  };
  auto* lent = new Lent{recycler_, std::move(logits_)};
  Napi::ArrayBuffer buffer;
  try {
    buffer = Napi::ArrayBuffer::New(
        env, lent->rows.data(), n * sizeof(float),
        [](Napi::Env, void*, Lent* back) {
          back->recycler->give_back(std::move(back->rows));
          delete back;
        },
        lent);
  } catch (const Napi::Error&) {
    // A runtime that forbids external buffers (a V8 sandbox) gets a copy.
    Napi::Float32Array copy = Napi::Float32Array::New(env, n);
    std::memcpy(copy.Data(), lent->rows.data(), n * sizeof(float));
    recycler_->give_back(std::move(lent->rows));
    delete lent;
    return copy;
  }
  // From here the buffer's finalizer owns `lent`.
  return Napi::Float32Array::New(env, n, buffer, 0);
}

void StepWorker::OnError(const Napi::Error& e) {
  engine_->finish();
  deferred_.Reject(e.Value());
}

}  // namespace mv
