// AVX2/FMA kernels. Compiled with -mavx2 -mfma; only called after dispatch.cpp checked the CPU.
#include <immintrin.h>

#include "kernels/cpu/kernels.h"

namespace mv {
namespace {

inline float hsum(__m256 v) {
  __m128 lo = _mm256_castps256_ps128(v);
  __m128 hi = _mm256_extractf128_ps(v, 1);
  lo = _mm_add_ps(lo, hi);
  lo = _mm_add_ps(lo, _mm_movehl_ps(lo, lo));
  lo = _mm_add_ss(lo, _mm_movehdup_ps(lo));
  return _mm_cvtss_f32(lo);
}

float dot_avx2(const float* a, const float* b, size_t n) {
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
    acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), acc1);
  }
  for (; i + 8 <= n; i += 8) acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
  float s = hsum(_mm256_add_ps(acc0, acc1));
  for (; i < n; ++i) s += a[i] * b[i];
  return s;
}

// 4 weight rows x 4 tokens: 16 accumulators, each weight and activation load feeds 4 FMAs.
void tile4x4(const float* x, size_t in, const float* w, size_t n8, __m256 acc[4][4]) {
  for (size_t i = 0; i < n8; i += 8) {
    const __m256 w0 = _mm256_loadu_ps(w + i), w1 = _mm256_loadu_ps(w + in + i);
    const __m256 w2 = _mm256_loadu_ps(w + 2 * in + i), w3 = _mm256_loadu_ps(w + 3 * in + i);
    for (int t = 0; t < 4; ++t) {
      const __m256 xv = _mm256_loadu_ps(x + t * in + i);
      acc[0][t] = _mm256_fmadd_ps(w0, xv, acc[0][t]);
      acc[1][t] = _mm256_fmadd_ps(w1, xv, acc[1][t]);
      acc[2][t] = _mm256_fmadd_ps(w2, xv, acc[2][t]);
      acc[3][t] = _mm256_fmadd_ps(w3, xv, acc[3][t]);
    }
  }
}

void matmul_avx2(const float* x, size_t tokens, size_t in, const float* w, const float* b, float* y, size_t ldy,
                 size_t o0, size_t o1) {
  // Token blocks small enough that their activations stay in L2 while all weight rows stream past.
  constexpr size_t kTokenBlock = 64;
  const size_t n8 = in & ~size_t(7);
  for (size_t tb = 0; tb < tokens; tb += kTokenBlock) {
    const size_t te = tb + kTokenBlock < tokens ? tb + kTokenBlock : tokens;
    size_t o = o0;
    for (; o + 4 <= o1; o += 4) {
      const float* wr = w + o * in;
      size_t t = tb;
      for (; t + 4 <= te; t += 4) {
        __m256 acc[4][4];
        for (auto& r : acc)
          for (auto& a : r) a = _mm256_setzero_ps();
        tile4x4(x + t * in, in, wr, n8, acc);
        for (int r = 0; r < 4; ++r)
          for (int c = 0; c < 4; ++c) {
            float s = hsum(acc[r][c]);
            for (size_t i = n8; i < in; ++i) s += wr[r * in + i] * x[(t + c) * in + i];
            y[(t + c) * ldy + o + r] = s + (b ? b[o + r] : 0.0f);
          }
      }
      for (; t < te; ++t)
        for (int r = 0; r < 4; ++r) y[t * ldy + o + r] = dot_avx2(x + t * in, wr + r * in, in) + (b ? b[o + r] : 0.0f);
    }
    for (; o < o1; ++o)
      for (size_t t = tb; t < te; ++t) y[t * ldy + o] = dot_avx2(x + t * in, w + o * in, in) + (b ? b[o] : 0.0f);
  }
}

void axpy_avx2(float a, const float* x, float* y, size_t n) {
  const __m256 av = _mm256_set1_ps(a);
  size_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_fmadd_ps(av, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
  for (; i < n; ++i) y[i] += a * x[i];
}

}  // namespace

const CpuKernels kAvx2Kernels = {"cpu-avx2", matmul_avx2, dot_avx2, axpy_avx2};

}  // namespace mv
