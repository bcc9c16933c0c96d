#include "model/finite_check.h"

#include <algorithm>
#include <cstring>

namespace mv {
namespace {

// Elements per block: a block is tested with a branch-free OR the compiler vectorises, and only a
// block that holds a non-finite value is searched element by element.
constexpr size_t kBlock = 4096;

template <typename Bits>
Bits load(const uint8_t* p) {
  Bits v;
  std::memcpy(&v, p, sizeof v);  // mapped tensors need not be aligned
  return v;
}

template <typename Bits>
int64_t first_with_exponent(const uint8_t* data, size_t count, Bits exponent) {
  for (size_t start = 0; start < count; start += kBlock) {
    const size_t end = std::min(count, start + kBlock);
    unsigned hits = 0;
    for (size_t i = start; i < end; ++i) hits |= (load<Bits>(data + i * sizeof(Bits)) & exponent) == exponent;
    if (hits == 0) continue;
    for (size_t i = start; i < end; ++i) {
      if ((load<Bits>(data + i * sizeof(Bits)) & exponent) == exponent) return static_cast<int64_t>(i);
    }
  }
  return -1;
}

}  // namespace

int64_t first_non_finite(const uint8_t* data, size_t count, Dtype dtype) {
  switch (dtype) {
    case Dtype::F32:
      return first_with_exponent<uint32_t>(data, count, 0x7f800000u);
    case Dtype::F16:
      return first_with_exponent<uint16_t>(data, count, uint16_t{0x7c00});
    case Dtype::BF16:
      return first_with_exponent<uint16_t>(data, count, uint16_t{0x7f80});
    case Dtype::Q8_0:
    case Dtype::Q4_0:
    case Dtype::Q4_K:
    case Dtype::Q6_K:
      return -1;  // block formats are not scanned (src/model/check-weights.ts passes plain arrays only)
  }
  return -1;
}

}  // namespace mv
