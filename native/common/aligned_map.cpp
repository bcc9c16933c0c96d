#include "common/aligned_map.h"

#include <sys/mman.h>
#include <unistd.h>

namespace mv {
namespace {

size_t whole_pages(size_t bytes) {
  const size_t page = size_t(::sysconf(_SC_PAGESIZE));
  return (bytes + page - 1) / page * page;
}

// Maps `bytes` at an address that is a multiple of `align` (a power of two, at least the page size).
uint8_t* map_aligned(size_t bytes, size_t align, int fd) {
  const size_t length = whole_pages(bytes);
  // Reserve one alignment unit more than needed, place the mapping at the aligned start inside the
  // reservation, and give back the parts before and after it.
  const size_t over = length + align;
  void* reserved = ::mmap(nullptr, over, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (reserved == MAP_FAILED) return nullptr;
  const uintptr_t start = reinterpret_cast<uintptr_t>(reserved), aligned = (start + align - 1) & ~(align - 1);
  void* want = reinterpret_cast<void*>(aligned);
  void* p = fd < 0 ? ::mmap(want, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0)
                   : ::mmap(want, length, PROT_READ, MAP_PRIVATE | MAP_FIXED, fd, 0);
  if (p == MAP_FAILED) {
    ::munmap(reserved, over);
    return nullptr;
  }
  if (aligned > start) ::munmap(reserved, aligned - start);
  if (start + over > aligned + length) ::munmap(reinterpret_cast<void*>(aligned + length), start + over - aligned - length);
  return static_cast<uint8_t*>(p);
}

}  // namespace

uint8_t* map_for_huge_pages(size_t bytes, int fd) {
  const bool huge = bytes >= kHugePage;
  uint8_t* p = map_aligned(bytes, huge ? kHugePage : size_t(::sysconf(_SC_PAGESIZE)), fd);
#ifdef MADV_HUGEPAGE
  if (p && huge) ::madvise(p, whole_pages(bytes), MADV_HUGEPAGE);
#endif
  return p;
}

void unmap_aligned(uint8_t* p, size_t bytes) {
  if (p) ::munmap(p, whole_pages(bytes));
}

}  // namespace mv
