// findNonFinite(tensors): scans tensors for NaN/±Inf on a libuv worker thread (the scan reads every
// weight byte once, too long to block the event loop for) and settles a Promise with the first hit.
#pragma once
#include <napi.h>

#include <vector>

#include "model/model_spec.h"

namespace mv {

class FiniteWorker : public Napi::AsyncWorker {
 public:
  FiniteWorker(Napi::Env env, std::vector<TensorRef> tensors);
  Napi::Promise promise() { return deferred_.Promise(); }

  void Execute() override;
  void OnOK() override;
  void OnError(const Napi::Error& e) override;

 private:
  std::vector<TensorRef> tensors_;
  int64_t bad_tensor_ = -1;   // index into tensors_, -1 when all are finite
  int64_t bad_element_ = -1;  // element index inside that tensor
  double bad_value_ = 0;      // NaN, +Inf or -Inf
  Napi::Promise::Deferred deferred_;
};

// JS: findNonFinite(tensors: NativeTensorRef[]) => Promise<{ tensor, element, value } | null>.
Napi::Value FindNonFinite(const Napi::CallbackInfo& info);

}  // namespace mv
