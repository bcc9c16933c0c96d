#include "engine/backend.h"

namespace mv {
namespace {

class CpuBackend : public Backend {
 public:
  CpuBackend(const ModelSpec& spec, const Weights& weights, KvPool& kv, const CpuOptions& o)
      : kernels_(select_kernels(o.force_portable)),
        pool_(o.threads),
        forward_(spec, weights, kv, pool_, kernels_, o.parallel_min_work) {}

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
