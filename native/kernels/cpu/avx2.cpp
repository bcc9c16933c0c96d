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
  static Reg div(Reg a, Reg b) { return _mm256_div_ps(a, b); }
  static Reg select_negative(Reg x, Reg a, Reg b) { return _mm256_blendv_ps(b, a, _mm256_cmp_ps(x, zero(), _CMP_LT_OQ)); }
  static Reg round(Reg v) { return _mm256_round_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
  // n added to the exponent field: exact while the result stays normal (exp_nonpositive's range).
  static Reg ldexp(Reg p, Reg n) {
    const __m256i e = _mm256_slli_epi32(_mm256_cvtps_epi32(n), 23);
    return _mm256_castsi256_ps(_mm256_add_epi32(_mm256_castps_si256(p), e));
  }
  static float hmax(Reg v) {
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
  }
  // The 8 sums of a[0..7] at once, out[i] = hsum(a[i]) bit for bit: the same pairing as hsum (lanes
  // i and i+4, then +2, +1), each round folding two registers into one.
  static void hsum_lanes(const Reg a[8], float out[8]) {
    Reg s[4], v[2];
    for (int k = 0; k < 4; ++k)  // [a's 128-bit halves added | b's]
      s[k] = _mm256_add_ps(_mm256_permute2f128_ps(a[2 * k], a[2 * k + 1], 0x20), _mm256_permute2f128_ps(a[2 * k], a[2 * k + 1], 0x31));
    for (int k = 0; k < 2; ++k) {  // half h: lanes +2 of registers 4k+h and 4k+2+h
      const __m256d lo = _mm256_unpacklo_pd(_mm256_castps_pd(s[2 * k]), _mm256_castps_pd(s[2 * k + 1]));
      const __m256d hi = _mm256_unpackhi_pd(_mm256_castps_pd(s[2 * k]), _mm256_castps_pd(s[2 * k + 1]));
      v[k] = _mm256_add_ps(_mm256_castpd_ps(lo), _mm256_castpd_ps(hi));
    }
    // Half h now holds the sums of registers h, 2+h, 4+h, 6+h: lane 4h+i is register 2i+h.
    const Reg w = _mm256_add_ps(_mm256_shuffle_ps(v[0], v[1], 0x88), _mm256_shuffle_ps(v[0], v[1], 0xDD));
    _mm256_storeu_ps(out, _mm256_permutevar8x32_ps(w, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7)));
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
  static void matmul_int8(const MatmulInput& in, const WeightMatrix& w, const float* b, float* y, size_t ldy,
                             size_t o0, size_t o1) {
    int8_gemm::matmul<int8_gemm::MaddubsDot>(in, w, b, y, ldy, o0, o1);
  }
};

}  // namespace

const CpuKernels kAvx2Kernels = simd::kernel_set<Avx2>("cpu-avx2");

}  // namespace mv
