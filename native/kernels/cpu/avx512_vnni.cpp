// The int8 path (int8_gemm.h) with vpdpbusd, in its own object compiled with -mavx512vnni: the AVX-512
// set calls it only where the CPU has VNNI.
#include <immintrin.h>

#include "kernels/cpu/int8_gemm.h"

namespace mv {
namespace {

// vpdpbusd (256-bit form) multiplies unsigned by signed bytes: the activations come offset by 128.
struct VnniDot {
  static constexpr bool kOffset = true;
  static __m256i dot4(__m256i acc, __m256i x4, __m256i w) { return _mm256_dpbusd_epi32(acc, x4, w); }
};

}  // namespace

void matmul_q8_int8_vnni(const float* x, size_t tokens, const WeightMatrix& w, const float* b, float* y, size_t ldy,
                         size_t o0, size_t o1) {
  int8_gemm::matmul<VnniDot>(x, tokens, w, b, y, ldy, o0, o1);
}

}  // namespace mv
