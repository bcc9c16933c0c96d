// The seam between the engine and a compute backend. CPU implements it today; a CUDA backend will
// implement the same call over the same flat slot lists (KvPool::flatten) with device buffers.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "engine/forward.h"

namespace mv {

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;
  // Runs the model over the batch (slots already appended) and fills logits rows in batch order.
  virtual void step(const std::vector<StepInput>& batch, LogitsRows* logits) = 0;
};

// The CPU backend: thread pool + the AVX-512, AVX2 or portable kernel set (kernels/cpu/kernels.h).
std::unique_ptr<Backend> make_cpu_backend(const ModelSpec& spec, const Weights& weights, KvPool& kv,
                                          const CpuOptions& options);

}  // namespace mv
