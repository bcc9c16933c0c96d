// The native engine: weights, the KV pool and a backend, with the rules that keep a step safe.
// prepare() validates a whole step and appends its slots on the JS thread (so errors reject the
// promise before anything changes); execute() does the math on a worker thread; finish() clears
// the busy flag. One step at a time: prepare() throws while busy.
//
// Fork, merge and release may run on the JS thread while a step is in flight: execute() reads
// only the K/V storage through the slot lists copied into its batch, never the segment metadata,
// and slots freed meanwhile cannot be handed out again before the step finishes (only prepare()
// allocates). A sequence released mid-step just has its results dropped.
#pragma once
#include <atomic>
#include <memory>
#include <mutex>
#include <vector>

#include "engine/backend.h"
#include "kv/kv_pool.h"
#include "model/model_spec.h"
#include "model/weights.h"

namespace mv {

// Where the math runs. Auto: CUDA when cuda_usable() says so, else the CPU.
enum class Device { Cpu, Cuda, Auto };

struct StepRequest {
  int seq = -1;
  std::vector<int32_t> tokens;
  std::vector<int32_t> positions;
  LogitsMode logits = LogitsMode::Last;
};

class Engine {
 public:
  // Throws EngineError "CUDA_UNAVAILABLE: ..." when Cuda is asked for and cannot run here.
  Engine(ModelSpec spec, int kv_slots, KvDtype kv_dtype, const CpuOptions& cpu, Device device = Device::Cpu);

  const ModelSpec& spec() const { return spec_; }
  KvPool& kv() { return kv_; }
  std::string backend_name() const { return backend_->name(); }

  // Validates every item (known, distinct sequences; 1+ tokens; ids in vocab; as many positions as
  // tokens; enough free slots for all), then appends the slots and marks the engine busy.
  // Throws and changes nothing on any violation.
  std::vector<StepInput> prepare(const std::vector<StepRequest>& items);
  void execute(const std::vector<StepInput>& batch, LogitsRows* logits);
  void finish() { busy_.store(false); }

 private:
  ModelSpec spec_;
  bool on_cuda_;
  std::unique_ptr<Weights> weights_;  // the CPU's f32 view; the CUDA backend uploads its own copy
  KvPool kv_;
  std::unique_ptr<Backend> backend_;
  std::atomic<bool> busy_{false};
  std::once_flag populated_;  // the weights are read in at the first step
};

}  // namespace mv
