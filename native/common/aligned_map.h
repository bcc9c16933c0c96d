// Memory mappings that start on a chosen boundary, so the kernel can back them with 2 MB pages: a
// huge page maps a 2 MB-aligned virtual range, and for a file, the same 2 MB-aligned range of the
// file (the file is mapped from offset 0, so both line up).
#pragma once
#include <cstddef>
#include <cstdint>

namespace mv {

// Maps `bytes` at an address that is a multiple of `align` (a power of two, at least the page
// size): fd < 0 maps zeroed read-write anonymous memory, otherwise the file read-only from its
// start. Returns nullptr with errno set on failure. Release with unmap_aligned.
uint8_t* map_aligned(size_t bytes, size_t align, int fd);
void unmap_aligned(uint8_t* p, size_t bytes);

// Asks for transparent huge pages on [p, p + bytes): a request, not a requirement; where the
// system offers none (`never`, or no THP in the kernel), 4 KB pages serve.
void advise_huge_pages(uint8_t* p, size_t bytes);

constexpr size_t kHugePage = size_t(2) << 20;

}  // namespace mv
