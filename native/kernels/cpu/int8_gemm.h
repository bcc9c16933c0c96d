// Q8_0 weights times Q8_0-quantized activations (the int8 path of kernels.h), for the AVX2 and
// AVX-512 sets. Eight weight rows are repacked so that one 256-bit register holds 4 consecutive int8
// weights of each row (lane r = row r); one broadcast of 4 activation bytes then feeds all 8 rows,
// and the 8 per-row sums of a 32-weight block accumulate exactly in int32 before one conversion and
// one FMA with the block scales. A row's blocks are not contiguous (each starts with its f16 scale),
// so the repack is what lets one instruction serve 8 rows; it is done once per 8 rows per call and
// serves every token.
//
// `I` supplies the 4-byte dot product: I::kOffset and I::dot4(acc, x4, w) returning acc plus, per
// lane, the sum of the 4 products of activation bytes x4 (the same 4 in every lane) and w.
//   - AVX2: vpmaddubsw on |w| and x with w's sign, then vpmaddwd with ones (each pair of products
//     is at most 2 * 128 * 127, inside int16).
//   - AVX-512 VNNI: vpdpbusd, which multiplies unsigned by signed bytes: activations are stored
//     offset by 128 (I::kOffset) and each row's block starts from -128 * (sum of its weights).
// Everything is in an anonymous namespace: avx2.cpp and avx512.cpp each compile their own copy with
// their own flags, and the copies must never merge at link time.
#pragma once
#include <immintrin.h>

#include <cstring>

#include "kernels/cpu/kernels.h"
#include "kernels/cpu/quant.h"

namespace mv {
namespace {
namespace int8_gemm {

constexpr size_t kGroup = 8, kBlock = 32, kBlockBytes = 34, kTokens = 4;

struct MaddubsDot {
  static constexpr bool kOffset = false;
  static __m256i dot4(__m256i acc, __m256i x4, __m256i w) {
    const __m256i pairs = _mm256_maddubs_epi16(_mm256_sign_epi8(w, w), _mm256_sign_epi8(x4, w));
    return _mm256_add_epi32(acc, _mm256_madd_epi16(pairs, _mm256_set1_epi16(1)));
  }
};

// Eight rows of one call: per block, 8 registers of repacked weights, the rows' scales and the
// rows' starting sums (0, or the offset correction).
struct Panel {
  int8_t* q;      // (blocks, 8 registers, 32 bytes)
  float* d;       // (blocks, 8)
  int32_t* init;  // (blocks, 8)
};

template <class I>
void repack(const uint8_t* rows, size_t rb, size_t n, size_t nb, const Panel& p) {
  for (size_t b = 0; b < nb; ++b) {
    int8_t* q = p.q + b * kGroup * kBlock;
    for (size_t r = 0; r < kGroup; ++r) {
      if (r >= n) {  // past the last row: zero weights, whose outputs are never stored
        for (size_t k = 0; k < kBlock / 4; ++k) std::memset(q + k * 32 + r * 4, 0, 4);
        p.d[b * kGroup + r] = 0;
        p.init[b * kGroup + r] = 0;
        continue;
      }
      const uint8_t* blk = rows + r * rb + b * kBlockBytes;
      uint16_t h;
      std::memcpy(&h, blk, 2);
      p.d[b * kGroup + r] = _cvtsh_ss(h);
      int32_t sum = 0;
      for (size_t k = 0; k < kBlock / 4; ++k) std::memcpy(q + k * 32 + r * 4, blk + 2 + 4 * k, 4);
      for (size_t j = 0; j < kBlock; ++j) sum += int8_t(blk[2 + j]);
      p.init[b * kGroup + r] = I::kOffset ? -128 * sum : 0;
    }
  }
}

// T tokens x the panel's 8 rows; n of the rows are real. xq: (T, in) bytes, xd: (T, nb) scales.
template <class I, int T>
void tile(const Panel& p, size_t nb, const int8_t* xq, const float* xd, size_t in, const float* bias, size_t n,
          float* y, size_t ldy) {
  __m256 acc[T];
  for (int t = 0; t < T; ++t) acc[t] = _mm256_setzero_ps();
  for (size_t b = 0; b < nb; ++b) {
    __m256i dot[T];
    const __m256i init = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p.init + b * kGroup));
    for (int t = 0; t < T; ++t) dot[t] = init;
    const int8_t* q = p.q + b * kGroup * kBlock;
    for (size_t k = 0; k < kBlock / 4; ++k) {
      const __m256i w = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q + k * 32));
      for (int t = 0; t < T; ++t) {
        int32_t x4;
        std::memcpy(&x4, xq + t * in + b * kBlock + 4 * k, 4);
        dot[t] = I::dot4(dot[t], _mm256_set1_epi32(x4), w);
      }
    }
    const __m256 dw = _mm256_loadu_ps(p.d + b * kGroup);
    for (int t = 0; t < T; ++t)
      acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot[t]), _mm256_mul_ps(dw, _mm256_set1_ps(xd[t * nb + b])), acc[t]);
  }
  alignas(32) float out[kGroup];
  for (int t = 0; t < T; ++t) {
    _mm256_store_ps(out, acc[t]);
    for (size_t r = 0; r < n; ++r) y[t * ldy + r] = out[r] + (bias ? bias[r] : 0.0f);
  }
}

// The kernels.h matmul contract for Q8_0 weights, rows [o0, o1), any number of tokens.
template <class I>
void matmul(const float* x, size_t tokens, const WeightMatrix& w, const float* b, float* y, size_t ldy, size_t o0,
            size_t o1) {
  const size_t in = w.cols, nb = in / kBlock;
  // One scratch: activation scales, panel scales and starts (4-byte values first), then the bytes.
  const size_t words = tokens * nb + 2 * kGroup * nb, bytes = tokens * in + kGroup * in;
  float* scratch = thread_scratch(words + (bytes + 3) / 4);
  float* xd = scratch;
  const Panel panel{reinterpret_cast<int8_t*>(scratch + words) + tokens * in, scratch + tokens * nb,
                    reinterpret_cast<int32_t*>(scratch + tokens * nb + kGroup * nb)};
  int8_t* xq = reinterpret_cast<int8_t*>(scratch + words);
  quantize_activations_q8(x, tokens, in, xq, xd);
  if (I::kOffset)
    for (size_t i = 0; i < tokens * in; ++i) xq[i] = int8_t(uint8_t(xq[i]) ^ 0x80);
  for (size_t o = o0; o < o1; o += kGroup) {
    const size_t n = o1 - o < kGroup ? o1 - o : kGroup;
    repack<I>(w.data + o * w.row_bytes, w.row_bytes, n, nb, panel);
    const float* bias = b ? b + o : nullptr;
    size_t t = 0;
    for (; t + kTokens <= tokens; t += kTokens)
      tile<I, kTokens>(panel, nb, xq + t * in, xd + t * nb, in, bias, n, y + t * ldy + o, ldy);
    const int8_t* xqt = xq + t * in;
    const float* xdt = xd + t * nb;
    float* yt = y + t * ldy + o;
    switch (tokens - t) {
      case 3: tile<I, 3>(panel, nb, xqt, xdt, in, bias, n, yt, ldy); break;
      case 2: tile<I, 2>(panel, nb, xqt, xdt, in, bias, n, yt, ldy); break;
      case 1: tile<I, 1>(panel, nb, xqt, xdt, in, bias, n, yt, ldy); break;
      default: break;
    }
  }
}

}  // namespace int8_gemm
}  // namespace
}  // namespace mv
