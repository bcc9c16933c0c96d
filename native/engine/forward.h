// One transformer pass (Qwen2 / Llama decoder) over a ragged batch of sequences on the CPU.
// Each sequence brings new tokens with explicit position ids; their KV goes into slots the KV pool
// already appended, and each query attends over its own sequence's flattened slot list, causally in
// slot order. This is what makes fork/merge exact: a child's list is prefix + its own slots, a merged
// list is prefix + every child's slots, so the Multiverse mask falls out of the lists themselves.
#pragma once
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <vector>

#include "common/logits_rows.h"
#include "common/thread_pool.h"
#include "kernels/cpu/attention.h"
#include "kernels/cpu/kernels.h"
#include "kernels/cpu/quantized_rows.h"
#include "kv/kv_pool.h"
#include "model/model_spec.h"
#include "model/weights.h"

namespace mv {

enum class LogitsMode { None, Last, All };

// How the CPU backend runs: threads, kernels, and when a loop is worth splitting across threads.
struct CpuOptions {
  int threads = 0;  // <= 0: hardware concurrency
  KernelChoice kernels = KernelChoice::Auto;
  // Multiply-adds below which a loop runs on the calling thread alone. Unset: chosen from the
  // model's size by make_cpu_backend (cpu_backend.cpp).
  std::optional<size_t> parallel_min_work;
};

// One output of a fused matmul: y (tokens, w.rows) = x w^T + b. Every job of a call reads the same x.
struct MatmulJob {
  const WeightMatrix* w;
  const float* b;  // (w.rows) or null
  float* y;
};

struct StepInput {
  std::vector<int32_t> tokens;     // (n) new token ids
  std::vector<int32_t> positions;  // (n) their position ids
  std::vector<int32_t> slots;      // (context) the sequence's flattened slots; the last n are the new tokens'
  LogitsMode logits = LogitsMode::Last;
};

// Consecutive items of a step, viewed in place: a whole step, or one lane's share of it.
class StepSpan {
 public:
  // Implicit, so a whole step passes where a span is asked for.
  StepSpan(const std::vector<StepInput>& batch) : StepSpan(batch.data(), batch.size()) {}
  StepSpan(const StepInput* first, size_t count) : first_(first), count_(count) {}
  size_t size() const { return count_; }
  const StepInput& operator[](size_t i) const { return first_[i]; }
  const StepInput* begin() const { return first_; }
  const StepInput* end() const { return first_ + count_; }

 private:
  const StepInput* first_;
  size_t count_;
};

class CpuForward {
 public:
  CpuForward(const ModelSpec& spec, const Weights& weights, KvPool& kv, ThreadPool& pool, const CpuKernels& k,
             size_t parallel_min_work);

  // Rows of logits in input order ('last': 1 row, 'all': n rows), each (vocab) floats.
  // Preconditions (checked by the caller): token ids < vocab, slots valid and already appended.
  void run(StepSpan batch, LogitsRows* logits);
  // The same rows written to logits, which holds logit_rows(batch) * vocab floats.
  void run(StepSpan batch, float* logits);

  size_t logit_rows(StepSpan batch) const;

  // Whether every loop of run(batch) stays under `limit` multiply-adds (small enough for one thread).
  bool runs_alone(StepSpan batch, size_t limit) const;

  // Multiply-adds of one item over every layer: its tokens through the weights, and attention over
  // its context. What a lane's share of a step costs, to balance the lanes.
  size_t item_work(const StepInput& item) const;
  // Weights of one layer's matrices (q/k/v, o, gate/up, down): a token's multiply-adds through it.
  size_t layer_weights() const;

 private:
  // Several matmuls over the same input (q/k/v, gate/up) as one parallel loop: the threads share out
  // the rows of all of them, so there is one hand-off per group instead of one per matrix.
  void matmuls(const float* x, size_t tokens, std::initializer_list<MatmulJob> jobs);
  void rms_norm(const float* x, const float* w, float* y, size_t tokens);
  // Fills rope_cos_ and rope_sin_ for the step's position ids (pos_), once for every layer.
  void rope_table(size_t tokens);
  void rope(float* x, size_t tokens, int heads);
  // Multiply-adds of one layer's attention over one item, and over the batch.
  size_t attention_work(const StepInput& item) const;
  size_t attention_work(StepSpan batch) const;
  void attention(int layer, StepSpan batch, size_t tokens, bool split);

  const ModelSpec& spec_;
  const Weights& w_;
  KvPool& kv_;
  ThreadPool& pool_;
  const CpuKernels& k_;
  const size_t parallel_min_work_;
  std::vector<double> inv_freq_;  // (head_dim / 2)

  // Scratch, grown to the largest batch seen. Shapes per step with T new tokens:
  std::vector<float> x_;     // (T, hidden) residual stream
  std::vector<float> xn_;    // (T, hidden) normed input
  std::vector<float> q_;     // (T, heads * head_dim)
  std::vector<float> kn_;    // (T, kv_heads * head_dim) new keys
  std::vector<float> vn_;    // (T, kv_heads * head_dim) new values
  std::vector<float> att_;   // (T, heads * head_dim) attention output
  std::vector<float> gate_;  // (T, intermediate)
  std::vector<float> up_;    // (T, intermediate)
  std::vector<int32_t> pos_;       // (T) position ids, flattened over the batch
  std::vector<int32_t> tok_item_;  // (T) which batch item each token belongs to
  std::vector<int32_t> tok_ctx_;   // (T) how many context slots that token sees (itself included)
  QuantizedRows x8_;  // a matmul's input as Q8_0 blocks (MatmulInput), when int8-path weights read it
  std::vector<float> rope_cos_;    // (T, head_dim / 2) cos(pos * inv_freq) of each token
  std::vector<float> rope_sin_;    // (T, head_dim / 2)
  std::vector<float> picked_;      // (R, hidden) the residual rows that give logits
  std::vector<float> picked_norm_; // (R, hidden) the same after the final norm
};

}  // namespace mv
