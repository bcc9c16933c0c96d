// Plain C++ kernels: the reference the SIMD sets are tested against, and the fallback.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "kernels/cpu/block_decode.h"
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

// Weight i of 32-weight block b of a row as the int8 path's integer q (kernels.h), and the block's
// factors: d_w, and m_w for Q4_K's mins (0 for the others).
int32_t int8_weight(Dtype d, const uint8_t* row, size_t b, size_t i) {
  if (d == Dtype::Q8_0) return int8_t(row[34 * b + 2 + i]);
  if (d == Dtype::Q4_0) {
    const uint8_t* v = row + 18 * b + 2;
    return i < 16 ? int32_t(v[i] & 15) - 8 : int32_t(v[i - 16] >> 4) - 8;
  }
  const size_t j = b % 8;  // the block's place in its super-block
  if (d == Dtype::Q4_K) {
    const uint8_t* qs = row + 144 * (b / 8) + 16 + 32 * (j / 2);
    return b % 2 ? qs[i] >> 4 : qs[i] & 15;
  }
  // Q6_K: block j = 4h + k takes nibble k >> 1 of ql[64h + 32(k & 1) + i], bits 2k, 2k + 1 of qh[32h + i].
  const uint8_t* s = row + 210 * (b / 8);
  const size_t h = j / 4, k = j % 4;
  const int32_t low = (s[64 * h + 32 * (k & 1) + i] >> (4 * (k >> 1))) & 15, high = (s[128 + 32 * h + i] >> (2 * k)) & 3;
  return (low | high << 4) - 32;
}

// Q6_K's scale for weight i of block b (one per 16 weights); 1 for the other formats.
int32_t int8_half_scale(Dtype d, const uint8_t* row, size_t b, size_t i) {
  if (d != Dtype::Q6_K) return 1;
  return int8_t(row[210 * (b / 8) + 192 + 2 * (b % 8) + i / 16]);
}

void int8_factors(Dtype d, const uint8_t* row, size_t b, float* dw, float* mw) {
  if (d == Dtype::Q6_K) {
    *dw = half_to_float(block_decode::u16(row + 210 * (b / 8) + 208));
    *mw = 0;
    return;
  }
  if (d != Dtype::Q4_K) {
    *dw = half_to_float(block_decode::u16(row + b * block_bytes(d)));
    *mw = 0;
    return;
  }
  const uint8_t* s = row + 144 * (b / 8);
  int sc, m;
  block_decode::q4_k_scale_min(int(b % 8), s + 4, &sc, &m);
  *dw = half_to_float(block_decode::u16(s)) * float(sc);
  *mw = -(half_to_float(block_decode::u16(s + 2)) * float(m));
}

// The int8 path (kernels.h) one product at a time.
void matmul_int8_portable(const MatmulInput& input, const WeightMatrix& w, const float* b, float* y, size_t ldy,
                          size_t o0, size_t o1) {
  const size_t tokens = input.tokens, in = w.cols, nb = in / 32;
  if (!input.q8) throw_unquantized_input();
  const int8_t* xq = input.q8;
  const float* xd = input.q8_scale;  // the block sums (q8_sum) this reference takes itself, below
  for (size_t o = o0; o < o1; ++o) {
    const uint8_t* row = w.data + o * w.row_bytes;
    for (size_t t = 0; t < tokens; ++t) {
      float acc = 0;
      for (size_t blk = 0; blk < nb; ++blk) {
        const int8_t* xb = xq + t * in + blk * 32;
        int32_t dot = 0, sum = 0;
        for (size_t i = 0; i < 32; ++i) {
          dot += int8_half_scale(w.dtype, row, blk, i) * int8_weight(w.dtype, row, blk, i) * xb[i];
          sum += xb[i];
        }
        float dw, mw;
        int8_factors(w.dtype, row, blk, &dw, &mw);
        const float dx = xd[t * nb + blk];
        acc = std::fma(float(dot), dw * dx, acc);
        if (w.dtype == Dtype::Q4_K) acc = std::fma(float(sum), mw * dx, acc);
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
                                     store_kv_portable,   silu_mul_portable,    quantize_activations_q8};

}  // namespace mv
