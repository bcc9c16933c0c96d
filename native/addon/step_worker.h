// Runs one engine step on a libuv worker thread and settles a Promise with the logits.
#pragma once
#include <napi.h>

#include <memory>
#include <vector>

#include "addon/logits_recycler.h"
#include "engine/engine.h"

namespace mv {

class StepWorker : public Napi::AsyncWorker {
 public:
  StepWorker(Napi::Env env, std::shared_ptr<Engine> engine, std::shared_ptr<LogitsRecycler> recycler,
             std::vector<StepInput> batch);
  Napi::Promise promise() { return deferred_.Promise(); }

  void Execute() override;
  void OnOK() override;
  void OnError(const Napi::Error& e) override;

 private:
  // The step's rows as a Float32Array over the same memory, given back to recycler_ when collected.
  Napi::Float32Array logits_array(Napi::Env env);

  std::shared_ptr<Engine> engine_;
  std::shared_ptr<LogitsRecycler> recycler_;
  std::vector<StepInput> batch_;
  LogitsRows logits_;
  Napi::Promise::Deferred deferred_;
};

}  // namespace mv
