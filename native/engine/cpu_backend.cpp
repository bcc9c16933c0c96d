#include <cstdint>
#include <memory>

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

// Contiguous runs of `batch` with about equal token counts, at most `parts` of them, none empty.
std::vector<std::vector<StepInput>> split_by_tokens(const std::vector<StepInput>& batch, size_t parts) {
  size_t total = 0;
  for (const StepInput& s : batch) total += s.tokens.size();
  std::vector<std::vector<StepInput>> groups(1);
  size_t seen = 0;
  for (size_t i = 0; i < batch.size(); ++i) {
    // Start the next group once the groups so far hold their share of the tokens.
    const bool full = seen * parts >= groups.size() * total && !groups.back().empty();
    if (full && groups.size() < parts) groups.emplace_back();
    groups.back().push_back(batch[i]);
    seen += batch[i].tokens.size();
  }
  return groups;
}

class CpuBackend : public Backend {
 public:
  CpuBackend(const ModelSpec& spec, const Weights& weights, KvPool& kv, const CpuOptions& o)
      : kernels_(select_kernels(o.kernels)),
        pool_(o.threads),
        forward_(spec, weights, kv, pool_, kernels_, o.parallel_min_work.value_or(default_parallel_min_work(spec))) {
    // One forward (its own scratch) per thread, never splitting its loops: they never use the pool.
    for (int i = 0; i < pool_.size(); ++i)
      lanes_.push_back(std::make_unique<CpuForward>(spec, weights, kv, pool_, kernels_, SIZE_MAX));
  }

  std::string name() const override { return kernels_.name; }

  // A step whose every loop is too small to split (a small model) but that carries several
  // sequences runs one forward per thread over its share of the sequences: the threads meet once a
  // step, where otherwise one core would do it all, and a Multiverse step's parallel paths run on
  // parallel cores. Each lane writes only its own sequences' new KV slots and reads shared
  // prefixes, so lanes do not race.
  void step(const std::vector<StepInput>& batch, std::vector<float>* logits) override {
    if (batch.size() < 2 || lanes_.size() < 2 || !forward_.runs_alone(batch)) {
      forward_.run(batch, logits);
      return;
    }
    const std::vector<std::vector<StepInput>> groups = split_by_tokens(batch, lanes_.size());
    std::vector<std::vector<float>> outs(groups.size());
    pool_.parallel_for(groups.size(), [&](size_t g0, size_t g1) {
      for (size_t g = g0; g < g1; ++g) lanes_[g]->run(groups[g], &outs[g]);
    });
    logits->clear();
    for (const std::vector<float>& o : outs) logits->insert(logits->end(), o.begin(), o.end());
  }

 private:
  const CpuKernels& kernels_;
  ThreadPool pool_;
  CpuForward forward_;
  std::vector<std::unique_ptr<CpuForward>> lanes_;
};

}  // namespace

std::unique_ptr<Backend> make_cpu_backend(const ModelSpec& spec, const Weights& weights, KvPool& kv,
                                          const CpuOptions& options) {
  return std::make_unique<CpuBackend>(spec, weights, kv, options);
}

}  // namespace mv
