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

// 4 weight rows x T tokens (T <= 4): each weight load feeds T FMAs and each activation load 4, so
// decode steps with one to three tokens also stream W once instead of once per token.
template <int T>
void tile4(const float* x, size_t in, const float* w, size_t n8, __m256 acc[4][4]) {
  for (size_t i = 0; i < n8; i += 8) {
    const __m256 w0 = _mm256_loadu_ps(w + i), w1 = _mm256_loadu_ps(w + in + i);
    const __m256 w2 = _mm256_loadu_ps(w + 2 * in + i), w3 = _mm256_loadu_ps(w + 3 * in + i);
    for (int t = 0; t < T; ++t) {
      const __m256 xv = _mm256_loadu_ps(x + t * in + i);
      acc[0][t] = _mm256_fmadd_ps(w0, xv, acc[0][t]);
      acc[1][t] = _mm256_fmadd_ps(w1, xv, acc[1][t]);
      acc[2][t] = _mm256_fmadd_ps(w2, xv, acc[2][t]);
      acc[3][t] = _mm256_fmadd_ps(w3, xv, acc[3][t]);
    }
  }
}

// Four horizontal sums at once: lane r of the result is the sum of v[r].
inline __m128 hsum4(const __m256 v[4]) {
  const __m256 a = _mm256_hadd_ps(v[0], v[1]), b = _mm256_hadd_ps(v[2], v[3]);
  const __m256 c = _mm256_hadd_ps(a, b);
  return _mm_add_ps(_mm256_castps256_ps128(c), _mm256_extractf128_ps(c, 1));
}

// Rows [o, o + 4) of y for tokens [t, t + T).
template <int T>
void rows4(const float* x, size_t t, size_t in, const float* wr, const float* b, size_t o, float* y, size_t ldy) {
  const size_t n8 = in & ~size_t(7);
  __m256 acc[4][4];
  for (auto& r : acc)
    for (auto& a : r) a = _mm256_setzero_ps();
  tile4<T>(x + t * in, in, wr, n8, acc);
  for (int c = 0; c < T; ++c) {
    const __m256 col[4] = {acc[0][c], acc[1][c], acc[2][c], acc[3][c]};
    alignas(16) float s[4];
    _mm_store_ps(s, hsum4(col));
    for (int r = 0; r < 4; ++r) {
      for (size_t i = n8; i < in; ++i) s[r] += wr[r * in + i] * x[(t + c) * in + i];
      y[(t + c) * ldy + o + r] = s[r] + (b ? b[o + r] : 0.0f);
    }
  }
}

void matmul_avx2(const float* x, size_t tokens, size_t in, const float* w, const float* b, float* y, size_t ldy,
                 size_t o0, size_t o1) {
  // Token blocks small enough that their activations stay in L2 while all weight rows stream past.
  constexpr size_t kTokenBlock = 64;
  for (size_t tb = 0; tb < tokens; tb += kTokenBlock) {
    const size_t te = tb + kTokenBlock < tokens ? tb + kTokenBlock : tokens;
    size_t o = o0;
    for (; o + 4 <= o1; o += 4) {
      const float* wr = w + o * in;
      size_t t = tb;
      for (; t + 4 <= te; t += 4) rows4<4>(x, t, in, wr, b, o, y, ldy);
      switch (te - t) {
        case 3: rows4<3>(x, t, in, wr, b, o, y, ldy); break;
        case 2: rows4<2>(x, t, in, wr, b, o, y, ldy); break;
        case 1: rows4<1>(x, t, in, wr, b, o, y, ldy); break;
        default: break;
      }
    }
    for (; o < o1; ++o)
      for (size_t t = tb; t < te; ++t) y[t * ldy + o] = dot_avx2(x + t * in, w + o * in, in) + (b ? b[o] : 0.0f);
  }
}

void gather_dot_avx2(const float* q, const float* base, size_t stride, const int32_t* rows, size_t n, size_t d,
                     float scale, float* out) {
  size_t i = 0;
  if (d % 8 == 0) {
    // Four rows at a time, summed together: one q load feeds four FMAs.
    for (; i + 4 <= n; i += 4) {
      const float* r[4] = {base + size_t(rows[i]) * stride, base + size_t(rows[i + 1]) * stride,
                           base + size_t(rows[i + 2]) * stride, base + size_t(rows[i + 3]) * stride};
      __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
      for (size_t j = 0; j < d; j += 8) {
        const __m256 qv = _mm256_loadu_ps(q + j);
        for (int k = 0; k < 4; ++k) acc[k] = _mm256_fmadd_ps(qv, _mm256_loadu_ps(r[k] + j), acc[k]);
      }
      _mm_storeu_ps(out + i, _mm_mul_ps(hsum4(acc), _mm_set1_ps(scale)));
    }
  }
  for (; i < n; ++i) out[i] = dot_avx2(q, base + size_t(rows[i]) * stride, d) * scale;
}

void gather_axpy_avx2(const float* p, const float* base, size_t stride, const int32_t* rows, size_t n, size_t d,
                      float* y) {
  if (d % 8 != 0 || d > 256) {
    kPortableKernels.gather_axpy(p, base, stride, rows, n, d, y);
    return;
  }
  // The output row stays in registers (head dims up to 256) while the value rows stream past.
  __m256 acc[32];
  const size_t v = d / 8;
  for (size_t j = 0; j < v; ++j) acc[j] = _mm256_loadu_ps(y + j * 8);
  for (size_t i = 0; i < n; ++i) {
    const float* r = base + size_t(rows[i]) * stride;
    const __m256 pv = _mm256_set1_ps(p[i]);
    for (size_t j = 0; j < v; ++j) acc[j] = _mm256_fmadd_ps(pv, _mm256_loadu_ps(r + j * 8), acc[j]);
  }
  for (size_t j = 0; j < v; ++j) _mm256_storeu_ps(y + j * 8, acc[j]);
}

}  // namespace

const CpuKernels kAvx2Kernels = {"cpu-avx2", matmul_avx2, gather_dot_avx2, gather_axpy_avx2};

}  // namespace mv
