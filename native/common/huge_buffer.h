// Zeroed host memory for the KV cache, mapped so the kernel may back it with 2 MB pages
// (transparent huge pages, where the system allows them on request: `madvise` or `always` in
// /sys/kernel/mm/transparent_hugepage/enabled; elsewhere it is ordinary 4 KB pages). A buffer
// under 2 MB takes ordinary pages: its few 4 KB pages cost little, and a whole huge page would be
// mostly unused memory.
//
// Why: a decode step streams all the weights, which leaves the TLB and the cached page tables
// holding nothing of the KV cache; attention then gathers K and V rows whose every 4 KB page costs
// a page walk before its lines can load. With 2 MB pages a layer's K or V of a few MB is a page or
// two.
#pragma once
#include <cstddef>
#include <cstdint>

namespace mv {

class HugeBuffer {
 public:
  HugeBuffer() = default;
  // Throws EngineError when the memory cannot be mapped.
  explicit HugeBuffer(size_t bytes);
  ~HugeBuffer();
  HugeBuffer(const HugeBuffer&) = delete;
  HugeBuffer& operator=(const HugeBuffer&) = delete;
  HugeBuffer(HugeBuffer&& other) noexcept;
  HugeBuffer& operator=(HugeBuffer&& other) noexcept;

  uint8_t* data() { return data_; }

 private:
  void release();

  uint8_t* data_ = nullptr;
  size_t mapped_ = 0;  // whole pages
};

}  // namespace mv
