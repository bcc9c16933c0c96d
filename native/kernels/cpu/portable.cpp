// Plain C++ kernels: the reference the AVX2 versions are tested against, and the fallback.
#include "kernels/cpu/kernels.h"

namespace mv {
namespace {

float dot_portable(const float* a, const float* b, size_t n) {
  // Four partial sums: same association shape as the SIMD version, and lets the compiler vectorise.
  float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    s0 += a[i] * b[i];
    s1 += a[i + 1] * b[i + 1];
    s2 += a[i + 2] * b[i + 2];
    s3 += a[i + 3] * b[i + 3];
  }
  for (; i < n; ++i) s0 += a[i] * b[i];
  return (s0 + s1) + (s2 + s3);
}

void matmul_portable(const float* x, size_t tokens, size_t in, const float* w, const float* b, float* y,
                     size_t ldy, size_t o0, size_t o1) {
  for (size_t o = o0; o < o1; ++o) {
    const float* wr = w + o * in;
    const float bias = b ? b[o] : 0.0f;
    for (size_t t = 0; t < tokens; ++t) y[t * ldy + o] = dot_portable(x + t * in, wr, in) + bias;
  }
}

void gather_dot_portable(const float* q, const float* base, size_t stride, const int32_t* rows, size_t n, size_t d,
                         float scale, float* out) {
  for (size_t i = 0; i < n; ++i) out[i] = dot_portable(q, base + size_t(rows[i]) * stride, d) * scale;
}

void gather_axpy_portable(const float* p, const float* base, size_t stride, const int32_t* rows, size_t n, size_t d,
                          float* y) {
  for (size_t i = 0; i < n; ++i) {
    const float* r = base + size_t(rows[i]) * stride;
    for (size_t j = 0; j < d; ++j) y[j] += p[i] * r[j];
  }
}

}  // namespace

const CpuKernels kPortableKernels = {"cpu-portable", matmul_portable, gather_dot_portable, gather_axpy_portable};

}  // namespace mv
