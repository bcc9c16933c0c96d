#include <cstdint>
#include <memory>

#include "common/cpu_affinity.h"
#include "engine/backend.h"

namespace mv {
namespace {

// Loops above this many multiply-adds split across the threads, for every model: the workers linger
// between steps (thread_pool.h), so a hand-off costs about a cache-line transfer, and two cores
// stream a small model's weights from L3 faster than one (1M-parameter model, 2 threads, quiet, 3
// rows 0.220 -> 0.176 ms against one thread per loop). A 1-row step moved either way with the
// shared machine's state (0.149 -> 0.138 ms in one window, 0.157-0.173 -> 0.178-0.186 in another).
constexpr size_t kParallelMinWork = size_t(1) << 14;

// From this many sequences in a step, a small model's step runs in lanes instead (below). Step
// curve: at 6-16 rows one forward per thread beat split loops (6 rows 0.25 against 0.27 ms, 16 rows
// 0.47-0.52 against 0.51-0.56), at 4 they tied, at 1-3 lanes lost (above). bench:countdown, quiet,
// two alternating rounds: lanes from 4 rows 1.94x/1.94x, from 6 1.92x/1.87x, from 9 1.80x/1.86x, never
// 1.77x/1.76x.
constexpr size_t kLaneMinRows = 4;

// A lane's share runs on one thread only when each of its loops stays under this: a model whose
// f32 weights fit in cache (16 MiB). A larger model streams its weights from memory, and every loop
// of it is better split.
size_t lane_work_limit(const ModelSpec& s, const CpuForward& forward) {
  const size_t bytes = 4 * (size_t(s.layers) * forward.layer_weights() + size_t(s.vocab) * s.hidden);
  return bytes <= (size_t(16) << 20) ? size_t(1) << 20 : 0;
}

// Splits items with the given work into at most `parts` contiguous, non-empty runs of about equal
// work: each run ends where its share of the total is reached, or just before when that is closer
// (a row's attention grows with its context, so equal row counts are not equal work).
// Returns the runs' ends: run g is [ends[g - 1], ends[g]), with ends[-1] = 0.
std::vector<size_t> split_by_work(const std::vector<size_t>& work, size_t parts) {
  size_t total = 0;
  for (size_t w : work) total += w;
  std::vector<size_t> ends;
  size_t done = 0;
  for (size_t i = 0; i < work.size(); ++i) {
    const size_t goal = total * (ends.size() + 1) / parts, start = ends.empty() ? 0 : ends.back();
    const size_t after = done + work[i];
    // Close the run before item i once it holds its share, or when stopping short of the share
    // misses it by less than taking item i would overshoot it.
    if (i > start && ends.size() + 1 < parts && (done >= goal || (after > goal && goal - done < after - goal)))
      ends.push_back(i);
    done = after;
  }
  ends.push_back(work.size());
  return ends;
}

class CpuBackend : public Backend {
 public:
  CpuBackend(const ModelSpec& spec, const Weights& weights, KvPool& kv, const CpuOptions& o)
      : spec_(spec),
        kernels_(select_kernels(o.kernels)),
        pool_(o.threads),
        forward_(spec, weights, kv, pool_, kernels_, o.parallel_min_work.value_or(kParallelMinWork)),
        lane_work_limit_(lane_work_limit(spec, forward_)) {
    // One forward (its own scratch) per thread, never splitting its loops: they never use the pool.
    for (int i = 0; i < pool_.size(); ++i)
      lanes_.push_back(std::make_unique<CpuForward>(spec, weights, kv, pool_, kernels_, SIZE_MAX));
  }

  std::string name() const override { return kernels_.name; }

  // A step that carries kLaneMinRows sequences or more, where each thread's share of them is too
  // small to split further (a small model), runs one forward per thread over its share (a lane):
  // the threads meet once a step instead of once a loop, and a Multiverse step's parallel paths
  // run on parallel cores. Each lane writes only its own sequences' new KV slots
  // and its own rows of logits, and reads shared prefixes, so lanes do not race.
  void step(const std::vector<StepInput>& batch, LogitsRows* logits) override {
    const ScopedPin pin(pool_.caller_cpu());  // off the pool's workers' CPUs while the step runs
    std::vector<StepSpan> shares;
    if (batch.size() >= kLaneMinRows && lanes_.size() >= 2) shares = lane_shares(batch);
    if (shares.size() < 2) {
      forward_.run(batch, logits);
      return;
    }
    // Where each share's rows of logits start.
    std::vector<size_t> first_row(shares.size() + 1, 0);
    for (size_t g = 0; g < shares.size(); ++g) first_row[g + 1] = first_row[g] + forward_.logit_rows(shares[g]);
    const size_t vocab = size_t(spec_.vocab);
    logits->resize(first_row.back() * vocab);
    pool_.parallel_for(shares.size(), [&](size_t g0, size_t g1) {
      for (size_t g = g0; g < g1; ++g) lanes_[g]->run(shares[g], logits->data() + first_row[g] * vocab);
    });
  }

 private:
  // The batch split into one share per lane by work, or nothing when some share would still be
  // worth splitting across the pool (a long prefill: its loops are big, one thread each is slower).
  std::vector<StepSpan> lane_shares(const std::vector<StepInput>& batch) const {
    std::vector<size_t> work(batch.size());
    for (size_t i = 0; i < batch.size(); ++i) work[i] = forward_.item_work(batch[i]);
    std::vector<StepSpan> shares;
    size_t start = 0;
    for (size_t end : split_by_work(work, lanes_.size())) {
      shares.emplace_back(batch.data() + start, end - start);
      if (!forward_.runs_alone(shares.back(), lane_work_limit_)) return {};
      start = end;
    }
    return shares;
  }

  const ModelSpec& spec_;
  const CpuKernels& kernels_;
  ThreadPool pool_;
  CpuForward forward_;
  const size_t lane_work_limit_;
  std::vector<std::unique_ptr<CpuForward>> lanes_;
};

}  // namespace

std::unique_ptr<Backend> make_cpu_backend(const ModelSpec& spec, const Weights& weights, KvPool& kv,
                                          const CpuOptions& options) {
  return std::make_unique<CpuBackend>(spec, weights, kv, options);
}

}  // namespace mv
