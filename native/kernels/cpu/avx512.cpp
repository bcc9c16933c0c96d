// AVX-512 kernels: 16 lanes. Compiled with -mavx512f -mavx512bw -mavx512vl (plus F16C); only called
// after dispatch.cpp checked the CPU. The int8 path uses VNNI (avx512_vnni.cpp) only where it exists. bf16 rows widen by a shift rather than vdpbf16ps, which would
// round the activations to bf16 too (a 2^-9 relative error per product, far above f32 rounding).
#include <immintrin.h>

#include "kernels/cpu/int8_gemm.h"
#include "kernels/cpu/simd_kernels.h"

namespace mv {
namespace {

struct Avx512 {
  using Reg = __m512;
  static constexpr size_t kLanes = 16;
  static Reg zero() { return _mm512_setzero_ps(); }
  static Reg set1(float f) { return _mm512_set1_ps(f); }
  static Reg loadu(const float* p) { return _mm512_loadu_ps(p); }
  static void storeu(float* p, Reg v) { _mm512_storeu_ps(p, v); }
  static Reg fma(Reg a, Reg b, Reg c) { return _mm512_fmadd_ps(a, b, c); }
  static Reg mul(Reg a, Reg b) { return _mm512_mul_ps(a, b); }
  static Reg add(Reg a, Reg b) { return _mm512_add_ps(a, b); }
  static Reg sub(Reg a, Reg b) { return _mm512_sub_ps(a, b); }
  static Reg max(Reg a, Reg b) { return _mm512_max_ps(a, b); }
  static Reg div(Reg a, Reg b) { return _mm512_div_ps(a, b); }
  static Reg select_negative(Reg x, Reg a, Reg b) { return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, zero(), _CMP_LT_OQ), b, a); }
  static Reg round(Reg v) { return _mm512_roundscale_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
  static Reg ldexp(Reg p, Reg n) { return _mm512_scalef_ps(p, n); }
  static float hmax(Reg v) { return _mm512_reduce_max_ps(v); }
  // The 16 sums of a[0..15] at once, out[i] = hsum(a[i]) bit for bit: the same pairing as hsum
  // (lanes i and i+8, then +4, +2, +1), each round folding two registers into one, so 15 folds do the
  // work of 16 separate reductions' 60 steps.
  static void hsum_lanes(const Reg a[16], float out[16]) {
    Reg s[8], u[4];
    for (int k = 0; k < 8; ++k)  // [a 256-bit halves added | b's]
      s[k] = _mm512_add_ps(_mm512_shuffle_f32x4(a[2 * k], a[2 * k + 1], 0x44), _mm512_shuffle_f32x4(a[2 * k], a[2 * k + 1], 0xEE));
    for (int k = 0; k < 4; ++k)  // quarter j: register 4k+j's 128-bit halves added
      u[k] = _mm512_add_ps(_mm512_shuffle_f32x4(s[2 * k], s[2 * k + 1], 0x88), _mm512_shuffle_f32x4(s[2 * k], s[2 * k + 1], 0xDD));
    Reg v[2];
    for (int k = 0; k < 2; ++k) {  // quarter j: lanes +2 of registers j and 4+j (8k+j, 8k+4+j)
      const __m512d lo = _mm512_unpacklo_pd(_mm512_castps_pd(u[2 * k]), _mm512_castps_pd(u[2 * k + 1]));
      const __m512d hi = _mm512_unpackhi_pd(_mm512_castps_pd(u[2 * k]), _mm512_castps_pd(u[2 * k + 1]));
      v[k] = _mm512_add_ps(_mm512_castpd_ps(lo), _mm512_castpd_ps(hi));
    }
    // Quarter j now holds the sums of registers j, 4+j, 8+j, 12+j: lane 4j+i is register 4i+j.
    const Reg w = _mm512_add_ps(_mm512_shuffle_ps(v[0], v[1], 0x88), _mm512_shuffle_ps(v[0], v[1], 0xDD));
    const __m512i order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
    _mm512_storeu_ps(out, _mm512_permutexvar_ps(order, w));
  }
  static float hsum(Reg v) { return _mm512_reduce_add_ps(v); }
  template <Dtype D>
  static Reg widen(const uint8_t* p) {
    if constexpr (D == Dtype::F32) {
      return _mm512_loadu_ps(p);
    } else {
      const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
      if constexpr (D == Dtype::F16) return _mm512_cvtph_ps(h);
      return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
    }
  }
  static void store_half(uint16_t* p, Reg v) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), _mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  }
  // VNNI only where the CPU has it (an AVX-512 CPU may lack it, e.g. Skylake-SP).
  static void matmul_int8(const MatmulInput& in, const WeightMatrix& w, const float* b, float* y, size_t ldy,
                             size_t o0, size_t o1) {
    if (cpu_has_avx512_vnni()) matmul_int8_vnni(in, w, b, y, ldy, o0, o1);
    else int8_gemm::matmul<int8_gemm::MaddubsDot>(in, w, b, y, ldy, o0, o1);
  }
};

}  // namespace

const CpuKernels kAvx512Kernels = simd::kernel_set<Avx512>("cpu-avx512");

}  // namespace mv
