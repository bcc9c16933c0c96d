// Runs one engine step on a libuv worker thread and settles a Promise with the logits.
#pragma once
#include <napi.h>

#include <memory>
#include <vector>

#include "engine/engine.h"

namespace mv {

class StepWorker : public Napi::AsyncWorker {
 public:
  StepWorker(Napi::Env env, std::shared_ptr<Engine> engine, std::vector<StepInput> batch);
  Napi::Promise promise() { return deferred_.Promise(); }

  void Execute() override;
  void OnOK() override;
  void OnError(const Napi::Error& e) override;

 private:
  static Napi::Float32Array logits_array(Napi::Env env, std::vector<float> logits);

  std::shared_ptr<Engine> engine_;
  std::vector<StepInput> batch_;
  std::vector<float> logits_;
  Napi::Promise::Deferred deferred_;
};

}  // namespace mv
