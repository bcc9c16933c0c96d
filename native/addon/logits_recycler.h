// Logits buffers lent to JavaScript and taken back when their ArrayBuffer is collected, so a step
// writes its rows into memory that is already mapped. A fresh buffer per step (128 KB for one row of
// a 32000-token vocabulary) had its pages, returned to the kernel when earlier buffers were freed,
// faulted in again (and, as a plain vector, zero-filled: LogitsRows no longer is). Reusing them made
// one-sequence Q8_0 decode of the 150M bench model 1.07x faster (docs/kernels.md).
#pragma once
#include <cstddef>
#include <mutex>
#include <vector>

#include "common/logits_rows.h"

namespace mv {

class LogitsRecycler {
 public:
  // A buffer given back earlier (any size: the step resizes it), or an empty one.
  LogitsRows take();
  // Keeps rows for a later step while the kept buffers stay under kMaxBytes; frees them otherwise
  // (and never keeps one with no memory).
  void give_back(LogitsRows rows);

 private:
  // Enough for the buffers one garbage collection returns between steps of a busy engine.
  static constexpr size_t kMaxBytes = size_t(64) << 20;
  std::mutex mu_;
  std::vector<LogitsRows> free_;
  size_t free_bytes_ = 0;
};

}  // namespace mv
