#include "engine/engine.h"

#include <string>
#include <unordered_set>

#include "common/check.h"
#include "engine/cuda_backend.h"

namespace mv {
namespace {

bool resolve_cuda(Device device) {
  if (device == Device::Cpu) return false;
  std::string why;
  const bool usable = cuda_usable(&why);
  MV_CHECK(usable || device == Device::Auto, why);
  return usable;
}

}  // namespace

Engine::Engine(ModelSpec spec, int kv_slots, KvDtype kv_dtype, const CpuOptions& cpu, Device device)
    : spec_(std::move(spec)),
      on_cuda_(resolve_cuda(device)),
      weights_(on_cuda_ ? nullptr : std::make_unique<Weights>(spec_)),
      kv_(KvShape{spec_.layers, spec_.kv_heads * spec_.head_dim, kv_slots, kv_dtype, !on_cuda_, spec_.kv_heads}),
      backend_(on_cuda_ ? make_cuda_backend(spec_, kv_) : make_cpu_backend(spec_, *weights_, kv_, cpu)) {}

std::vector<StepInput> Engine::prepare(const std::vector<StepRequest>& items) {
  MV_CHECK(!busy_.load(), "engine busy: a step is already in flight");
  MV_CHECK(!items.empty(), "step needs at least one sequence");
  std::unordered_set<int> seen;
  size_t need = 0;
  for (const StepRequest& r : items) {
    const std::string who = "sequence " + std::to_string(r.seq);
    MV_CHECK(kv_.has_sequence(r.seq), "unknown " + who);
    MV_CHECK(seen.insert(r.seq).second, who + " appears twice in one step");
    MV_CHECK(!r.tokens.empty(), who + " has no tokens to step");
    MV_CHECK(r.positions.size() == r.tokens.size(), who + ": positions and tokens differ in length");
    for (int32_t tok : r.tokens)
      MV_CHECK(tok >= 0 && tok < spec_.vocab, who + ": token id " + std::to_string(tok) + " outside the vocabulary");
    for (int32_t p : r.positions) MV_CHECK(p >= 0, who + ": negative position id");
    need += r.tokens.size();
  }
  MV_CHECK(need <= kv_.free_slots(), "KV pool exhausted: step needs " + std::to_string(need) + " slots, " +
                                         std::to_string(kv_.free_slots()) + " free");
  std::vector<StepInput> batch(items.size());
  for (size_t i = 0; i < items.size(); ++i) {
    kv_.append(items[i].seq, items[i].positions.data(), items[i].positions.size());
    batch[i].tokens = items[i].tokens;
    batch[i].positions = items[i].positions;
    batch[i].logits = items[i].logits;
    kv_.flatten(items[i].seq, &batch[i].slots);
  }
  busy_.store(true);
  return batch;
}

void Engine::execute(const std::vector<StepInput>& batch, LogitsRows* logits) {
  std::call_once(populated_, [this] {
    if (weights_) weights_->populate();
  });
  backend_->step(batch, logits);
}

}  // namespace mv
