#include "engine/backend.h"

namespace mv {
namespace {

class CpuBackend : public Backend {
 public:
  CpuBackend(const ModelSpec& spec, const Weights& weights, KvPool& kv, int threads, bool force_portable)
      : kernels_(select_kernels(force_portable)), pool_(threads), forward_(spec, weights, kv, pool_, kernels_) {}

  std::string name() const override { return kernels_.name; }
  void step(const std::vector<StepInput>& batch, std::vector<float>* logits) override { forward_.run(batch, logits); }

 private:
  const CpuKernels& kernels_;
  ThreadPool pool_;
  CpuForward forward_;
};

}  // namespace

std::unique_ptr<Backend> make_cpu_backend(const ModelSpec& spec, const Weights& weights, KvPool& kv, int threads,
                                          bool force_portable) {
  return std::make_unique<CpuBackend>(spec, weights, kv, threads, force_portable);
}

}  // namespace mv
