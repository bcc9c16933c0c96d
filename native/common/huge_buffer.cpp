#include "common/huge_buffer.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <utility>

#include "common/check.h"

namespace mv {
namespace {

constexpr size_t kHugePage = size_t(2) << 20;

}  // namespace

HugeBuffer::HugeBuffer(size_t bytes) {
  if (bytes == 0) return;
  const bool huge = bytes >= kHugePage;
  const size_t align = huge ? kHugePage : size_t(::sysconf(_SC_PAGESIZE));
  mapped_ = (bytes + align - 1) / align * align;
  // One alignment unit more than needed, so an aligned start can be cut out of it.
  const size_t over = mapped_ + align;
  void* p = ::mmap(nullptr, over, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    mapped_ = 0;
    throw EngineError("cannot allocate " + std::to_string(bytes) + " bytes of KV cache: " + std::strerror(errno));
  }
  const uintptr_t start = reinterpret_cast<uintptr_t>(p), aligned = (start + align - 1) / align * align;
  if (aligned > start) ::munmap(p, aligned - start);
  if (start + over > aligned + mapped_) ::munmap(reinterpret_cast<void*>(aligned + mapped_), start + over - aligned - mapped_);
  data_ = reinterpret_cast<uint8_t*>(aligned);
  // A request, not a requirement: without transparent huge pages this fails and 4 KB pages serve.
#ifdef MADV_HUGEPAGE
  if (huge) ::madvise(data_, mapped_, MADV_HUGEPAGE);
#endif
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
  if (data_) ::munmap(data_, mapped_);
  data_ = nullptr;
  mapped_ = 0;
}

}  // namespace mv
