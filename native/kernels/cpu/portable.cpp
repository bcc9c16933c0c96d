// Plain C++ kernels: the reference the SIMD sets are tested against, and the fallback.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "kernels/cpu/kernels.h"
#include "kernels/cpu/quant.h"

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

void dequantize_rows_portable(const WeightMatrix& w, size_t r0, size_t n, float* out) {
  for (size_t r = 0; r < n; ++r) dequantize_row_reference(w.dtype, w.data + (r0 + r) * w.row_bytes, w.cols, out + r * w.cols);
}

// Weight j of a Q8_0 or Q4_0 block as an integer (quant.h gives the layouts).
int32_t int8_weight(Dtype d, const uint8_t* blk, size_t j) {
  if (d == Dtype::Q8_0) return int8_t(blk[2 + j]);
  return j < 16 ? int32_t(blk[2 + j] & 15) - 8 : int32_t(blk[2 + j - 16] >> 4) - 8;
}

// The int8 path of Q8_0 and Q4_0 weights (kernels.h) one product at a time.
void matmul_int8_portable(const MatmulInput& input, const WeightMatrix& w, const float* b, float* y, size_t ldy,
                          size_t o0, size_t o1) {
  const size_t tokens = input.tokens, in = w.cols, nb = in / 32, bb = block_bytes(w.dtype);
  std::vector<int8_t> own_q;
  std::vector<float> own_d;
  const int8_t* xq = input.q8;
  const float* xd = input.q8_scale;
  if (!xq) {
    own_q.resize(tokens * in);
    own_d.resize(tokens * nb);
    quantize_activations_q8(input.x, tokens, in, own_q.data(), own_d.data());
    xq = own_q.data();
    xd = own_d.data();
  }
  for (size_t o = o0; o < o1; ++o) {
    const uint8_t* row = w.data + o * w.row_bytes;
    for (size_t t = 0; t < tokens; ++t) {
      float acc = 0;
      for (size_t blk = 0; blk < nb; ++blk) {
        const uint8_t* wb = row + blk * bb;
        uint16_t h;
        std::memcpy(&h, wb, 2);
        int32_t dot = 0;
        for (size_t j = 0; j < 32; ++j) dot += int8_weight(w.dtype, wb, j) * xq[t * in + blk * 32 + j];
        acc = std::fma(float(dot), half_to_float(h) * xd[t * nb + blk], acc);
      }
      y[t * ldy + o] = acc + (b ? b[o] : 0.0f);
    }
  }
}

void matmul_portable(const MatmulInput& input, const WeightMatrix& w, const float* b, float* y, size_t ldy, size_t o0,
                     size_t o1) {
  if (int8_path(w.dtype)) return matmul_int8_portable(input, w, b, y, ldy, o0, o1);
  const float* x = input.x;
  const size_t tokens = input.tokens;
  const size_t in = w.cols;
  std::vector<float> row(in);
  for (size_t o = o0; o < o1; ++o) {
    dequantize_rows_portable(w, o, 1, row.data());
    const float bias = b ? b[o] : 0.0f;
    for (size_t t = 0; t < tokens; ++t) y[t * ldy + o] = dot_portable(x + t * in, row.data(), in) + bias;
  }
}

// Row i of the KV storage widened to f32.
void kv_row(const void* base, KvDtype kv, size_t stride, int32_t slot, size_t d, float* out) {
  if (kv == KvDtype::F32) {
    std::memcpy(out, static_cast<const float*>(base) + size_t(slot) * stride, d * 4);
  } else {
    const uint16_t* r = static_cast<const uint16_t*>(base) + size_t(slot) * stride;
    for (size_t j = 0; j < d; ++j) out[j] = half_to_float(r[j]);
  }
}

void gather_dot_portable(const float* q, size_t nq, const void* base, KvDtype kv, size_t stride, const int32_t* rows,
                         size_t n, size_t d, float scale, float* scores) {
  std::vector<float> r(d);
  for (size_t i = 0; i < n; ++i) {
    kv_row(base, kv, stride, rows[i], d, r.data());
    for (size_t j = 0; j < nq; ++j) scores[j * n + i] = dot_portable(q + j * d, r.data(), d) * scale;
  }
}

void gather_axpy_portable(const float* p, size_t nq, const void* base, KvDtype kv, size_t stride, const int32_t* rows,
                          size_t n, size_t d, float* y) {
  std::vector<float> r(d);
  for (size_t i = 0; i < n; ++i) {
    kv_row(base, kv, stride, rows[i], d, r.data());
    for (size_t j = 0; j < nq; ++j)
      for (size_t e = 0; e < d; ++e) y[j * d + e] += p[j * n + i] * r[e];
  }
}

void softmax_portable(float* s, size_t n) {
  float mx = -INFINITY;
  for (size_t i = 0; i < n; ++i) mx = std::max(mx, s[i]);
  double sum = 0;
  for (size_t i = 0; i < n; ++i) {
    s[i] = std::exp(s[i] - mx);
    sum += s[i];
  }
  const float inv = float(1.0 / sum);
  for (size_t i = 0; i < n; ++i) s[i] *= inv;
}

void store_kv_portable(const float* src, void* dst, KvDtype kv, size_t n) {
  if (kv == KvDtype::F32) {
    std::memcpy(dst, src, n * 4);
    return;
  }
  uint16_t* out = static_cast<uint16_t*>(dst);
  for (size_t i = 0; i < n; ++i) out[i] = float_to_half(src[i]);
}

void silu_mul_portable(float* gate, const float* up, size_t n) {
  for (size_t i = 0; i < n; ++i) gate[i] = gate[i] / (1.0f + std::exp(-gate[i])) * up[i];
}

}  // namespace

const CpuKernels kPortableKernels = {"cpu-portable",      matmul_portable,      dequantize_rows_portable,
                                     gather_dot_portable, gather_axpy_portable, softmax_portable,
                                     store_kv_portable,   silu_mul_portable};

}  // namespace mv
