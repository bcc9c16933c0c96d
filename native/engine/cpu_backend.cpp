#include "engine/backend.h"

namespace mv {
namespace {

// A model whose f32 weights fit in cache is compute-bound: handing a small loop to the pool (a
// worker wake-up, tens of microseconds) costs more than splitting it saves, so only big loops split.
// A larger model streams its weights from memory every step, and two cores stream faster than one,
// so nearly every loop splits. Measured on the 2-core dev machine: the 1M-parameter arithmetic
// model is fastest at 2^20 (one thread for its decode steps), the 153M bench model at ~0.
size_t default_parallel_min_work(const ModelSpec& s) {
  const size_t attn = size_t(s.hidden) * size_t(s.heads + 2 * s.kv_heads) * s.head_dim + size_t(s.heads) * s.head_dim * s.hidden;
  const size_t mlp = 3 * size_t(s.hidden) * s.intermediate;
  const size_t bytes = 4 * (size_t(s.layers) * (attn + mlp) + size_t(s.vocab) * s.hidden);
  return bytes <= (size_t(16) << 20) ? size_t(1) << 20 : size_t(1) << 14;
}

class CpuBackend : public Backend {
 public:
  CpuBackend(const ModelSpec& spec, const Weights& weights, KvPool& kv, const CpuOptions& o)
      : kernels_(select_kernels(o.force_portable)),
        pool_(o.threads),
        forward_(spec, weights, kv, pool_, kernels_, o.parallel_min_work.value_or(default_parallel_min_work(spec))) {}

  std::string name() const override { return kernels_.name; }
  void step(const std::vector<StepInput>& batch, std::vector<float>* logits) override { forward_.run(batch, logits); }

 private:
  const CpuKernels& kernels_;
  ThreadPool pool_;
  CpuForward forward_;
};

}  // namespace

std::unique_ptr<Backend> make_cpu_backend(const ModelSpec& spec, const Weights& weights, KvPool& kv,
                                          const CpuOptions& options) {
  return std::make_unique<CpuBackend>(spec, weights, kv, options);
}

}  // namespace mv
