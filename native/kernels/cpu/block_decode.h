// The ggml block decoders, one block at a time, as static functions: quant.cpp includes them for the
// reference path, and each SIMD kernel file includes its own copy, which the compiler vectorises with
// that file's flags (static, so the copies never merge at link time).
#pragma once
#include <cstdint>
#include <cstring>

#include "kernels/cpu/quant.h"

namespace mv {
namespace block_decode {

static inline uint16_t u16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}

static void q8_0(const uint8_t* b, float* y) {
  const float d = half_to_float(u16(b));
  for (int j = 0; j < 32; ++j) y[j] = d * float(int8_t(b[2 + j]));
}

static void q4_0(const uint8_t* b, float* y) {
  const float d = half_to_float(u16(b));
  for (int j = 0; j < 16; ++j) {
    y[j] = d * float(int(b[2 + j] & 15) - 8);
    y[j + 16] = d * float(int(b[2 + j] >> 4) - 8);
  }
}

// Scale and min of Q4_K sub-block j: sub-blocks 0-3 keep theirs in the low 6 bits of bytes j and
// j + 4; sub-blocks 4-7 take 4 low bits from byte j + 4 and their top 2 bits from the spare high
// bits of bytes j - 4 (scale) and j (min).
static void q4_k_scale_min(int j, const uint8_t* s, int* sc, int* m) {
  if (j < 4) {
    *sc = s[j] & 63;
    *m = s[j + 4] & 63;
  } else {
    *sc = (s[j + 4] & 15) | ((s[j - 4] >> 6) << 4);
    *m = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
  }
}

static void q4_k(const uint8_t* b, float* y) {
  const float d = half_to_float(u16(b)), dmin = half_to_float(u16(b + 2));
  const uint8_t* scales = b + 4;
  const uint8_t* qs = b + 16;
  for (int k = 0; k < 4; ++k) {
    int sc0, m0, sc1, m1;
    q4_k_scale_min(2 * k, scales, &sc0, &m0);
    q4_k_scale_min(2 * k + 1, scales, &sc1, &m1);
    const float d0 = d * float(sc0), min0 = dmin * float(m0), d1 = d * float(sc1), min1 = dmin * float(m1);
    for (int l = 0; l < 32; ++l) {
      y[64 * k + l] = d0 * float(qs[32 * k + l] & 15) - min0;
      y[64 * k + 32 + l] = d1 * float(qs[32 * k + l] >> 4) - min1;
    }
  }
}

static void q6_k(const uint8_t* b, float* y) {
  const uint8_t* ql = b;
  const uint8_t* qh = b + 128;
  const int8_t* sc = reinterpret_cast<const int8_t*>(b + 192);
  const float d = half_to_float(u16(b + 208));
  // Two halves of 128; in each, byte l of ql/qh feeds elements l, l + 32, l + 64 and l + 96.
  for (int h = 0; h < 2; ++h) {
    const uint8_t* L = ql + 64 * h;
    const uint8_t* H = qh + 32 * h;
    const int8_t* S = sc + 8 * h;
    float* Y = y + 128 * h;
    for (int l = 0; l < 32; ++l) {
      const int s = l / 16;
      const int q1 = int((L[l] & 15) | (((H[l] >> 0) & 3) << 4)) - 32;
      const int q2 = int((L[l + 32] & 15) | (((H[l] >> 2) & 3) << 4)) - 32;
      const int q3 = int((L[l] >> 4) | (((H[l] >> 4) & 3) << 4)) - 32;
      const int q4 = int((L[l + 32] >> 4) | (((H[l] >> 6) & 3) << 4)) - 32;
      Y[l] = d * float(S[s] * q1);
      Y[l + 32] = d * float(S[s + 2] * q2);
      Y[l + 64] = d * float(S[s + 4] * q3);
      Y[l + 96] = d * float(S[s + 6] * q4);
    }
  }
}

// out[0..cols) from whole blocks of a block format starting at src.
static inline void decode_blocks(Dtype d, const uint8_t* src, size_t cols, float* out) {
  const size_t e = block_elems(d), bb = block_bytes(d);
  for (size_t blk = 0; blk < cols / e; ++blk) {
    const uint8_t* b = src + blk * bb;
    float* y = out + blk * e;
    switch (d) {
      case Dtype::Q8_0: q8_0(b, y); break;
      case Dtype::Q4_0: q4_0(b, y); break;
      case Dtype::Q4_K: q4_k(b, y); break;
      case Dtype::Q6_K: q6_k(b, y); break;
      default: break;
    }
  }
}

}  // namespace block_decode
}  // namespace mv
