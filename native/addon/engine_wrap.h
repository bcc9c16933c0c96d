// JS class `Engine` (src/native/binding.ts NativeEngine): bindings only, the logic is in engine/.
#pragma once
#include <napi.h>

#include <memory>

#include "addon/logits_recycler.h"
#include "engine/engine.h"

namespace mv {

class EngineWrap : public Napi::ObjectWrap<EngineWrap> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit EngineWrap(const Napi::CallbackInfo& info);

 private:
  Engine& live();  // throws after dispose()
  int seq_arg(const Napi::CallbackInfo& info, size_t i);

  Napi::Value Backend(const Napi::CallbackInfo& info);
  Napi::Value CreateSequence(const Napi::CallbackInfo& info);
  Napi::Value Fork(const Napi::CallbackInfo& info);
  Napi::Value Merge(const Napi::CallbackInfo& info);
  Napi::Value Release(const Napi::CallbackInfo& info);
  Napi::Value SequenceLength(const Napi::CallbackInfo& info);
  Napi::Value SequencePositions(const Napi::CallbackInfo& info);
  Napi::Value CheckIntegrity(const Napi::CallbackInfo& info);
  Napi::Value KvStats(const Napi::CallbackInfo& info);
  Napi::Value Step(const Napi::CallbackInfo& info);
  Napi::Value Dispose(const Napi::CallbackInfo& info);

  // Shared with an in-flight step worker, so dispose() during a step frees memory after it ends.
  std::shared_ptr<Engine> engine_;
  // Its steps' logits buffers, shared with the arrays lent to JS (they may outlive the engine).
  std::shared_ptr<LogitsRecycler> logits_recycler_ = std::make_shared<LogitsRecycler>();
};

}  // namespace mv
