// The int8 path (int8_gemm.h) with vpdpbusd, in its own object compiled with -mavx512vnni: the AVX-512
// set calls it only where the CPU has VNNI.
#include <immintrin.h>

#include "kernels/cpu/int8_gemm.h"

namespace mv {
namespace {

// vpdpbusd multiplies unsigned by signed bytes: the activations come offset by 128. 512-bit
// registers, 16 rows: each broadcast of 4 activation bytes feeds 64 products (with 8 rows the
// broadcasts, not the multiplies, were the limit). One instruction per dot4, so its latency shows:
// 8 tokens, 8 independent chains (AVX-512 has the 32 registers for their accumulators).
struct VnniDot {
  using IReg = __m512i;
  using FReg = __m512;
  static constexpr size_t kGroup = 16;
  static constexpr int kTokens = 8;
  static constexpr bool kOffset = true;
  static IReg dot4(IReg acc, IReg x4, IReg w) { return _mm512_dpbusd_epi32(acc, x4, w); }
  static IReg load(const void* p) { return _mm512_loadu_si512(p); }
  static IReg set1(int32_t v) { return _mm512_set1_epi32(v); }
  // One block's 32 products as 8 int32 partial sums (matvec): |w| is unsigned and x takes w's sign,
  // so no offset is needed (|w| <= 128, |x| <= 127).
  static __m256i block_dot(__m256i w, __m256i x) {
    return _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_sign_epi8(w, w), _mm256_sign_epi8(x, w));
  }
  static FReg zero() { return _mm512_setzero_ps(); }
  static FReg loadf(const float* p) { return _mm512_loadu_ps(p); }
  static void storef(float* p, FReg v) { _mm512_storeu_ps(p, v); }
  static FReg scale_add(IReg dot, FReg dw, float dx, FReg acc) {
    return _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), _mm512_mul_ps(dw, _mm512_set1_ps(dx)), acc);
  }
};

}  // namespace

void matmul_q8_int8_vnni(const float* x, size_t tokens, const WeightMatrix& w, const float* b, float* y, size_t ldy,
                         size_t o0, size_t o1) {
  int8_gemm::matmul<VnniDot>(x, tokens, w, b, y, ldy, o0, o1);
}

}  // namespace mv
