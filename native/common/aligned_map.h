// Memory mappings the kernel can back with 2 MB pages: a huge page maps a 2 MB-aligned virtual
// range, and for a file, the same 2 MB-aligned range of the file (the file is mapped from offset 0,
// so both line up). Used by the KV cache (anonymous) and the weight files.
#pragma once
#include <cstddef>
#include <cstdint>

namespace mv {

constexpr size_t kHugePage = size_t(2) << 20;

// Maps `bytes`: fd < 0 zeroed read-write anonymous memory, otherwise the file read-only from its
// start. From 2 MB up, on a 2 MB boundary and advised for transparent huge pages (a request, not a
// requirement: where the system offers none, 4 KB pages serve); under 2 MB, on ordinary pages,
// where a whole huge page would be mostly unused. Returns nullptr with errno set on failure.
// Release with unmap_aligned.
uint8_t* map_for_huge_pages(size_t bytes, int fd);
void unmap_aligned(uint8_t* p, size_t bytes);

}  // namespace mv
