#include "addon/logits_recycler.h"

#include <utility>

namespace mv {

LogitsRows LogitsRecycler::take() {
  std::lock_guard<std::mutex> lock(mu_);
  if (free_.empty()) return {};
  LogitsRows rows = std::move(free_.back());
  free_.pop_back();
  free_bytes_ -= rows.capacity() * sizeof(float);
  return rows;
}

void LogitsRecycler::give_back(LogitsRows rows) {
  const size_t bytes = rows.capacity() * sizeof(float);
  std::lock_guard<std::mutex> lock(mu_);
  if (bytes == 0 || free_bytes_ + bytes > kMaxBytes) return;
  free_bytes_ += bytes;
  free_.push_back(std::move(rows));
}

}  // namespace mv
