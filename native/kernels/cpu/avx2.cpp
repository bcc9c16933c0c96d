// AVX2/FMA/F16C kernels: 8 lanes. Compiled with -mavx2 -mfma -mf16c; only called after dispatch.cpp
// checked the CPU. f16 rows widen with vcvtph2ps, bf16 rows by a 16-bit shift (exact, so activations
// stay f32 and the results match the f32 path to rounding).
#include <immintrin.h>

#include "kernels/cpu/int8_gemm.h"
#include "kernels/cpu/simd_kernels.h"

namespace mv {
namespace {

struct Avx2 {
  using Reg = __m256;
  static constexpr size_t kLanes = 8;
  static Reg zero() { return _mm256_setzero_ps(); }
  static Reg set1(float f) { return _mm256_set1_ps(f); }
  static Reg loadu(const float* p) { return _mm256_loadu_ps(p); }
  static void storeu(float* p, Reg v) { _mm256_storeu_ps(p, v); }
  static Reg fma(Reg a, Reg b, Reg c) { return _mm256_fmadd_ps(a, b, c); }
  static Reg mul(Reg a, Reg b) { return _mm256_mul_ps(a, b); }
  static Reg add(Reg a, Reg b) { return _mm256_add_ps(a, b); }
  static Reg sub(Reg a, Reg b) { return _mm256_sub_ps(a, b); }
  static Reg max(Reg a, Reg b) { return _mm256_max_ps(a, b); }
  static Reg round(Reg v) { return _mm256_round_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
  // n added to the exponent field: exact while the result stays normal (exp_nonpositive's range).
  static Reg ldexp(Reg p, Reg n) {
    const __m256i e = _mm256_slli_epi32(_mm256_cvtps_epi32(n), 23);
    return _mm256_castsi256_ps(_mm256_add_epi32(_mm256_castps_si256(p), e));
  }
  // Two rounds of hadd leave each 128-bit half holding its part of the 4 sums; the halves then add.
  static void hsum4(const Reg a[4], float out[4]) {
    const Reg s = _mm256_hadd_ps(_mm256_hadd_ps(a[0], a[1]), _mm256_hadd_ps(a[2], a[3]));
    _mm_storeu_ps(out, _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1)));
  }
  static float hmax(Reg v) {
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
  }
  static float hsum(Reg v) {
    __m128 lo = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    lo = _mm_add_ps(lo, _mm_movehl_ps(lo, lo));
    lo = _mm_add_ss(lo, _mm_movehdup_ps(lo));
    return _mm_cvtss_f32(lo);
  }
  template <Dtype D>
  static Reg widen(const uint8_t* p) {
    if constexpr (D == Dtype::F32) {
      return _mm256_loadu_ps(reinterpret_cast<const float*>(p));
    } else {
      const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
      if constexpr (D == Dtype::F16) return _mm256_cvtph_ps(h);
      return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
    }
  }
  static void store_half(uint16_t* p, Reg v) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(p), _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  }
  static void matmul_q8_int8(const float* x, size_t tokens, const WeightMatrix& w, const float* b, float* y,
                             size_t ldy, size_t o0, size_t o1) {
    int8_gemm::matmul<int8_gemm::MaddubsDot>(x, tokens, w, b, y, ldy, o0, o1);
  }
};

}  // namespace

const CpuKernels kAvx2Kernels = simd::kernel_set<Avx2>("cpu-avx2");

}  // namespace mv
