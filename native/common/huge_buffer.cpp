#include "common/huge_buffer.h"

#include <cerrno>
#include <cstring>
#include <string>
#include <utility>

#include "common/aligned_map.h"
#include "common/check.h"

namespace mv {

HugeBuffer::HugeBuffer(size_t bytes) {
  if (bytes == 0) return;
  // Whole huge pages from 2 MB up, so the last one is not left on 4 KB pages.
  mapped_ = bytes >= kHugePage ? (bytes + kHugePage - 1) / kHugePage * kHugePage : bytes;
  data_ = map_for_huge_pages(mapped_, -1);
  if (!data_) {
    mapped_ = 0;
    throw EngineError("cannot allocate " + std::to_string(bytes) + " bytes of KV cache: " + std::strerror(errno));
  }
  // Touched now, as the zero-filled vector it replaces was: the pages are faulted in at load, not
  // during the first steps.
  std::memset(data_, 0, mapped_);
}

HugeBuffer::~HugeBuffer() { release(); }

HugeBuffer::HugeBuffer(HugeBuffer&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)), mapped_(std::exchange(other.mapped_, 0)) {}

HugeBuffer& HugeBuffer::operator=(HugeBuffer&& other) noexcept {
  if (this != &other) {
    release();
    data_ = std::exchange(other.data_, nullptr);
    mapped_ = std::exchange(other.mapped_, 0);
  }
  return *this;
}

void HugeBuffer::release() {
  unmap_aligned(data_, mapped_);
  data_ = nullptr;
  mapped_ = 0;
}

}  // namespace mv
