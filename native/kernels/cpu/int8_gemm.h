// Block-format weights (Q8_0, Q4_0, Q4_K, Q6_K) times Q8_0-quantized activations (the int8 path of
// kernels.h), for the AVX2 and AVX-512 sets, every format seen as 32-weight blocks (`F` below says
// how each stores them). G weight rows (G = the register's 32-bit lanes) are repacked so that one register
// holds 4 consecutive int8 weights of each row (lane r = row r); one broadcast of 4 activation bytes
// then feeds all G rows, and the G per-row sums of a 32-weight block accumulate exactly in int32
// before one conversion and one FMA with the block scales. A row's blocks are not contiguous (each
// carries its scales), so the repack is what lets one instruction serve G rows; it is done
// once per G rows per call and serves every token. Steps of 1-4 tokens (decode) skip the repack
// (matvec below).
//
// `I` supplies the registers and the 4-byte dot product: IReg/FReg (int32/float lanes), kGroup (=
// lanes), kTokens (the tokens a tile takes: each keeps its own chain of dependent dot4s, and a
// one-instruction dot4 needs several in flight to hide its latency), kOffset, and
// dot4(acc, x4, w) = acc plus, per lane, the 4 products of activation bytes x4 (the same 4 in every
// lane) and w, with load/convert/arithmetic helpers.
//   - AVX2 (MaddubsDot, 8 rows): vpmaddubsw on |w| and x with w's sign, then vpmaddwd with ones
//     (each pair of products is at most 2 * 128 * 127, inside int16).
//   - AVX-512 VNNI (avx512_vnni.cpp, 16 rows): vpdpbusd, which multiplies unsigned by signed bytes:
//     activations are stored offset by 128 (kOffset) and each row's block starts from
//     -128 * (sum of its weights).
// Everything is in an anonymous namespace: avx2.cpp and avx512.cpp each compile their own copy with
// their own flags, and the copies must never merge at link time.
#pragma once
#include <immintrin.h>

#include <cstring>

#include "kernels/cpu/block_decode.h"
#include "kernels/cpu/kernels.h"
#include "kernels/cpu/quant.h"

namespace mv {
namespace {
namespace int8_gemm {

constexpr size_t kBlock = 32;

// The weight formats of the int8 path, seen as 32-weight blocks b of a row: signed32 gives a block's
// integer weights q as signed bytes, biased32 as q + kBias in unsigned bytes (for vpdpbusd), decode as
// integers; d_at points at the block's f16 factor, or, where the format has mins (kMins), scales
// gives its float factors. A block contributes d_w * d_x * sum(q xq), plus m_w * d_x * sum(xq) with
// mins; with half scales (kHalfScales) sum(q xq) is s_lo * (the first 16 products) + s_hi * (the
// last 16), the two small integers from halves(). kernels.h gives the exact float steps.
struct Q8Format {  // 34 bytes: f16 d, int8 q[32]; w = d q
  static constexpr int kBias = 128;
  static constexpr bool kMins = false, kHalfScales = false;
  static const uint8_t* at(const uint8_t* row, size_t b) { return row + 34 * b; }
  static const uint8_t* d_at(const uint8_t* row, size_t b) { return at(row, b); }
  static __m256i signed32(const uint8_t* row, size_t b) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(at(row, b) + 2)); }
  static __m256i biased32(const uint8_t* row, size_t b) { return _mm256_xor_si256(signed32(row, b), _mm256_set1_epi8(char(0x80))); }
  static void decode(const uint8_t* row, size_t b, int8_t q[kBlock]) { std::memcpy(q, at(row, b) + 2, kBlock); }
};

struct Q4Format {  // 18 bytes: f16 d, then weight j in the low nibble of byte j, j + 16 in the high one; w = d (nibble - 8)
  static constexpr int kBias = 8;
  static constexpr bool kMins = false, kHalfScales = false;
  static const uint8_t* at(const uint8_t* row, size_t b) { return row + 18 * b; }
  static const uint8_t* d_at(const uint8_t* row, size_t b) { return at(row, b); }
  static __m256i biased32(const uint8_t* row, size_t b) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(at(row, b) + 2));
    const __m128i low = _mm_set1_epi8(15);
    return _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(v, 4), low), _mm_and_si128(v, low));
  }
  static __m256i signed32(const uint8_t* row, size_t b) { return _mm256_sub_epi8(biased32(row, b), _mm256_set1_epi8(8)); }
  static void decode(const uint8_t* row, size_t b, int8_t q[kBlock]) {
    const uint8_t* v = at(row, b) + 2;
    for (size_t j = 0; j < kBlock / 2; ++j) {
      q[j] = int8_t((v[j] & 15) - 8);
      q[j + kBlock / 2] = int8_t((v[j] >> 4) - 8);
    }
  }
};

// Q4_K (quant.h): 144-byte super-blocks of 8 sub-blocks; sub-block j of super-block s is block
// b = 8 s + j. q is the nibble (0..15, unsigned as stored, so kBias = 0), d_w = d sc_j and
// m_w = -dmin m_j (both exact in f32: an f16 times a 6-bit integer).
struct Q4KFormat {
  static constexpr int kBias = 0;
  static constexpr bool kMins = true, kHalfScales = false;
  static const uint8_t* super(const uint8_t* row, size_t b) { return row + 144 * (b / 8); }
  // The 32 bytes whose low nibbles are block b's weights if b is even, and whose high nibbles are if odd.
  static const uint8_t* nibbles(const uint8_t* row, size_t b) { return super(row, b) + 16 + 32 * (b % 8 / 2); }
  static __m256i biased32(const uint8_t* row, size_t b) {
    const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(nibbles(row, b)));
    return _mm256_and_si256(b % 2 ? _mm256_srli_epi16(v, 4) : v, _mm256_set1_epi8(15));
  }
  static __m256i signed32(const uint8_t* row, size_t b) { return biased32(row, b); }
  static void decode(const uint8_t* row, size_t b, int8_t q[kBlock]) {
    const uint8_t* v = nibbles(row, b);
    for (size_t i = 0; i < kBlock; ++i) q[i] = int8_t(b % 2 ? v[i] >> 4 : v[i] & 15);
  }
  static void scales(const uint8_t* row, size_t b, float* dw, float* mw) {
    const uint8_t* s = super(row, b);
    uint16_t d, dmin;
    std::memcpy(&d, s, 2);
    std::memcpy(&dmin, s + 2, 2);
    int sc, m;
    block_decode::q4_k_scale_min(int(b % 8), s + 4, &sc, &m);
    *dw = _cvtsh_ss(d) * float(sc);
    *mw = -(_cvtsh_ss(dmin) * float(m));
  }
};

// Q6_K (quant.h): 210-byte super-blocks of 256 weights: ql[128] (low 4 bits), qh[64] (high 2 bits),
// 16 int8 scales (one per 16 weights), f16 d. Block j = 4 h + k of a super-block (h its half of 128)
// takes nibble k >> 1 of ql[64 h + 32 (k & 1) + i] and bits 2k, 2k + 1 of qh[32 h + i] for weight
// i; q = that 6-bit value - 32 (kBias = 32), d_w = d, and its halves' scales are scales[2j], [2j + 1].
struct Q6KFormat {
  static constexpr int kBias = 32;
  static constexpr bool kMins = false, kHalfScales = true;
  static const uint8_t* super(const uint8_t* row, size_t b) { return row + 210 * (b / 8); }
  static const uint8_t* d_at(const uint8_t* row, size_t b) { return super(row, b) + 208; }
  static __m256i biased32(const uint8_t* row, size_t b) {
    const size_t j = b % 8, h = j / 4, k = j % 4;
    const uint8_t* s = super(row, b);
    const __m256i l = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s + 64 * h + 32 * (k & 1)));
    const __m256i hb = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s + 128 + 32 * h));
    const __m256i low = _mm256_and_si256(_mm256_srl_epi16(l, _mm_cvtsi32_si128(int(4 * (k >> 1)))), _mm256_set1_epi8(15));
    const __m256i high = _mm256_and_si256(_mm256_srl_epi16(hb, _mm_cvtsi32_si128(int(2 * k))), _mm256_set1_epi8(3));
    return _mm256_or_si256(low, _mm256_slli_epi16(high, 4));
  }
  static __m256i signed32(const uint8_t* row, size_t b) { return _mm256_sub_epi8(biased32(row, b), _mm256_set1_epi8(32)); }
  static void decode(const uint8_t* row, size_t b, int8_t q[kBlock]) {
    const size_t j = b % 8, h = j / 4, k = j % 4;
    const uint8_t* s = super(row, b);
    const uint8_t* l = s + 64 * h + 32 * (k & 1);
    const uint8_t* hb = s + 128 + 32 * h;
    for (size_t i = 0; i < kBlock; ++i) q[i] = int8_t((((l[i] >> (4 * (k >> 1))) & 15) | (((hb[i] >> (2 * k)) & 3) << 4)) - 32);
  }
  static void halves(const uint8_t* row, size_t b, int32_t* lo, int32_t* hi) {
    const int8_t* sc = reinterpret_cast<const int8_t*>(super(row, b) + 192);
    *lo = sc[2 * (b % 8)];
    *hi = sc[2 * (b % 8) + 1];
  }
};

// Row r's factors for block b, the f16 scale of the formats without mins read as one.
template <class F>
void block_scales(const uint8_t* row, size_t b, float* dw, float* mw) {
  if constexpr (F::kMins) {
    F::scales(row, b, dw, mw);
  } else {
    uint16_t h;
    std::memcpy(&h, F::d_at(row, b), 2);
    *dw = _cvtsh_ss(h);
    *mw = 0;
  }
}

// Lanes 0-3 (the block's first 16 products, 4 to a lane) times s_lo, lanes 4-7 times s_hi, per row.
template <class F, size_t R>
void half_scales(const uint8_t* const row[R], size_t b, __m256i out[R]) {
  for (size_t r = 0; r < R; ++r) {
    int32_t lo, hi;
    F::halves(row[r], b, &lo, &hi);
    out[r] = _mm256_set_m128i(_mm_set1_epi32(hi), _mm_set1_epi32(lo));
  }
}

// The activations of a call: xq (tokens, in) bytes, xd (tokens, nb) scales, xs (tokens, nb) block sums
// of xq (quantize_activations_q8).
struct Activations {
  const int8_t* q;
  const float* d;
  const int32_t* s;
  Activations at(size_t t, size_t in, size_t nb) const { return {q + t * in, d + t * nb, s + t * nb}; }
};

struct MaddubsDot {
  using IReg = __m256i;
  using FReg = __m256;
  static constexpr size_t kGroup = 8;
  static constexpr int kTokens = 4;
  static constexpr bool kOffset = false;
  static IReg dot4(IReg acc, IReg x4, IReg w) { return _mm256_add_epi32(acc, block_dot(w, x4)); }
  static IReg load(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }
  static IReg set1(int32_t v) { return _mm256_set1_epi32(v); }
  static FReg zero() { return _mm256_setzero_ps(); }
  static FReg loadf(const float* p) { return _mm256_loadu_ps(p); }
  static void storef(float* p, FReg v) { _mm256_storeu_ps(p, v); }
  // One block's 32 products w * x (signed bytes both) as 8 int32 partial sums (matvec).
  static __m256i block_dot(__m256i w, __m256i x) {
    const __m256i pairs = _mm256_maddubs_epi16(_mm256_sign_epi8(w, w), _mm256_sign_epi8(x, w));
    return _mm256_madd_epi16(pairs, _mm256_set1_epi16(1));
  }
  static FReg cvt(IReg v) { return _mm256_cvtepi32_ps(v); }
  static FReg fma(FReg a, FReg b, FReg c) { return _mm256_fmadd_ps(a, b, c); }
  static FReg mul(FReg a, FReg b) { return _mm256_mul_ps(a, b); }
  static FReg setf(float v) { return _mm256_set1_ps(v); }
  static IReg add(IReg a, IReg b) { return _mm256_add_epi32(a, b); }
  static IReg mullo(IReg a, IReg b) { return _mm256_mullo_epi32(a, b); }
  // Decode steps: int8_gemm::matvec below.
  template <class F, int T>
  static void matvec(Activations x, size_t in, const WeightMatrix& w, const float* bias, float* y, size_t ldy, size_t o0,
                     size_t o1);
};

// G rows of one call: per block, 8 registers of repacked weights (4 bytes of each row), the rows'
// factors and the rows' starting sums (0, or the offset correction).
struct Panel {
  int8_t* q;      // (blocks, 8 registers, G * 4 bytes)
  float* d;       // (blocks, G)
  float* m;          // (blocks, G) the mins' factors (F::kMins)
  int32_t* init;     // (blocks, G); with half scales, the first half's
  int32_t* init_hi;  // (blocks, G) the second half's (F::kHalfScales)
  int32_t* lo;       // (blocks, G) the halves' scales (F::kHalfScales)
  int32_t* hi;
};

template <class I, class F>
void repack(const uint8_t* rows, size_t rb, size_t n, size_t nb, const Panel& p) {
  constexpr size_t kGroup = I::kGroup;
  for (size_t b = 0; b < nb; ++b) {
    int8_t* q = p.q + b * kGroup * kBlock;
    for (size_t r = 0; r < kGroup; ++r) {
      if (r >= n) {  // past the last row: zero weights, whose outputs are never stored
        for (size_t k = 0; k < kBlock / 4; ++k) std::memset(q + k * kGroup * 4 + r * 4, 0, 4);
        p.d[b * kGroup + r] = 0;
        p.m[b * kGroup + r] = 0;
        p.init[b * kGroup + r] = p.init_hi[b * kGroup + r] = 0;
        p.lo[b * kGroup + r] = p.hi[b * kGroup + r] = 0;
        continue;
      }
      const uint8_t* row = rows + r * rb;
      block_scales<F>(row, b, &p.d[b * kGroup + r], &p.m[b * kGroup + r]);
      int8_t weights[kBlock];
      F::decode(row, b, weights);
      for (size_t k = 0; k < kBlock / 4; ++k) std::memcpy(q + k * kGroup * 4 + r * 4, weights + 4 * k, 4);
      int32_t sum[2] = {0, 0};  // two plain loops: an indexed sum[j / 16] was not vectorised
      for (size_t h = 0; h < 2; ++h)
        for (size_t j = 0; j < kBlock / 2; ++j) sum[h] += weights[h * kBlock / 2 + j];
      if constexpr (F::kHalfScales) {
        p.init[b * kGroup + r] = I::kOffset ? -128 * sum[0] : 0;
        p.init_hi[b * kGroup + r] = I::kOffset ? -128 * sum[1] : 0;
        F::halves(row, b, &p.lo[b * kGroup + r], &p.hi[b * kGroup + r]);
      } else {
        p.init[b * kGroup + r] = I::kOffset ? -128 * (sum[0] + sum[1]) : 0;
      }
    }
  }
}

// acc + float(dot) * (dw * dx): a block's product term, the scale product first, then one fused
// multiply-add (kernels.h).
template <class I>
typename I::FReg scale_add(typename I::IReg dot, typename I::FReg dw, float dx, typename I::FReg acc) {
  return I::fma(I::cvt(dot), I::mul(dw, I::setf(dx)), acc);
}

// acc + float(xs) * (mw * dx): a block's min term, after its product term (kernels.h).
template <class I>
typename I::FReg min_add(int32_t xs, typename I::FReg mw, float dx, typename I::FReg acc) {
  return I::fma(I::setf(float(xs)), I::mul(mw, I::setf(dx)), acc);
}

// The kRows rows of the group at row o of w, n (<= kRows) of them real: the others point at row o
// (real memory, whose results are never stored), so a group's loads need no bounds.
template <size_t kRows>
void group_rows(const WeightMatrix& w, size_t o, size_t n, const uint8_t* row[kRows]) {
  for (size_t r = 0; r < kRows; ++r) row[r] = w.data + (o + (r < n ? r : 0)) * w.row_bytes;
}

// A group's results for one token: y[r] = out[r] + bias[r] for its n real rows (y and bias at the
// group's first row; bias may be null).
inline void store_group(const float* out, size_t n, const float* bias, float* y) {
  for (size_t r = 0; r < n; ++r) y[r] = out[r] + (bias ? bias[r] : 0.0f);
}

// T tokens x the panel's G rows; n of the rows are real.
template <class I, class F, int T>
void tile(const Panel& p, size_t nb, Activations x, size_t in, const float* bias, size_t n, float* y, size_t ldy) {
  const int8_t* xq = x.q;
  const float* xd = x.d;
  constexpr size_t kGroup = I::kGroup;
  typename I::FReg acc[T];
  for (int t = 0; t < T; ++t) acc[t] = I::zero();
  for (size_t b = 0; b < nb; ++b) {
    const int8_t* q = p.q + b * kGroup * kBlock;
    // Groups of 4 weights [k0, k1) of the block, from `start`, into dot.
    const auto products = [&](size_t k0, size_t k1, const int32_t* start, typename I::IReg dot[T]) {
      const typename I::IReg init = I::load(start + b * kGroup);
      for (int t = 0; t < T; ++t) dot[t] = init;
      for (size_t k = k0; k < k1; ++k) {
        const typename I::IReg w = I::load(q + k * kGroup * 4);
        for (int t = 0; t < T; ++t) {
          int32_t x4;
          std::memcpy(&x4, xq + t * in + b * kBlock + 4 * k, 4);
          dot[t] = I::dot4(dot[t], I::set1(x4), w);
        }
      }
    };
    typename I::IReg dot[T];
    if constexpr (F::kHalfScales) {
      typename I::IReg hi[T];
      products(0, kBlock / 8, p.init, dot);
      products(kBlock / 8, kBlock / 4, p.init_hi, hi);
      const typename I::IReg lo_scale = I::load(p.lo + b * kGroup), hi_scale = I::load(p.hi + b * kGroup);
      for (int t = 0; t < T; ++t) dot[t] = I::add(I::mullo(dot[t], lo_scale), I::mullo(hi[t], hi_scale));
    } else {
      products(0, kBlock / 4, p.init, dot);
    }
    const typename I::FReg dw = I::loadf(p.d + b * kGroup);
    for (int t = 0; t < T; ++t) acc[t] = scale_add<I>(dot[t], dw, xd[t * nb + b], acc[t]);
    if constexpr (F::kMins) {
      const typename I::FReg mw = I::loadf(p.m + b * kGroup);
      for (int t = 0; t < T; ++t) acc[t] = min_add<I>(x.s[t * nb + b], mw, xd[t * nb + b], acc[t]);
    }
  }
  float out[kGroup];
  for (int t = 0; t < T; ++t) {
    I::storef(out, acc[t]);
    store_group(out, n, bias, y + t * ldy);
  }
}

// The last `left` (< T) tokens of a call, in one tile of exactly that many.
template <class I, class F, int T>
void leftover_tile(size_t left, const Panel& p, size_t nb, Activations x, size_t in, const float* bias, size_t n, float* y,
                   size_t ldy) {
  if constexpr (T > 1) {
    if (left == T - 1) return tile<I, F, T - 1>(p, nb, x, in, bias, n, y, ldy);
    leftover_tile<I, F, T - 1>(left, p, nb, x, in, bias, n, y, ldy);
  }
}

// Lane r of the result = the sum of the 8 int32 lanes of p[r], for 8 registers (integer adds: exact
// in any order).
inline __m256i sum_lanes8(const __m256i p[8]) {
  const __m256i a = _mm256_hadd_epi32(_mm256_hadd_epi32(p[0], p[1]), _mm256_hadd_epi32(p[2], p[3]));
  const __m256i b = _mm256_hadd_epi32(_mm256_hadd_epi32(p[4], p[5]), _mm256_hadd_epi32(p[6], p[7]));
  // a: rows 0-3 from the low 128 bits of each input, then the same rows from the high 128 bits.
  return _mm256_add_epi32(_mm256_permute2x128_si256(a, b, 0x20), _mm256_permute2x128_si256(a, b, 0x31));
}

// A step of T = 1..4 tokens (decode) with 256-bit registers, rows [o0, o1): the weights are read in place, not repacked
// (the repack would cost more than the products with so few tokens to serve). 8 rows at a time: each
// block of a row gives 8 partial sums per token (I::block_dot), the 8 rows' sums are gathered into
// one register (lane r = row r), then the same conversion and FMA as tile(), so the result is the
// same bit for bit. A block is read from memory once; the other tokens find it in L1. Each block
// load prefetches the same block 8 rows on: 8 short rows read side by side are too many streams
// for the hardware prefetcher to follow.
template <class I, class F, int T>
void matvec(Activations x, size_t in, const WeightMatrix& w, const float* bias, float* y, size_t ldy, size_t o0, size_t o1) {
  constexpr size_t kRows = 8;
  const size_t rb = w.row_bytes, nb = in / kBlock, block_bytes = rb / nb;  // a block's share of a row, for prefetches
  for (size_t o = o0; o < o1; o += kRows) {
    const size_t n = o1 - o < kRows ? o1 - o : kRows;
    const uint8_t* row[kRows];
    group_rows<kRows>(w, o, n, row);
    __m256 acc[T];
    for (int t = 0; t < T; ++t) acc[t] = _mm256_setzero_ps();
    for (size_t b = 0; b < nb; ++b) {
      for (size_t r = 0; r < kRows; ++r) __builtin_prefetch(row[r] + b * block_bytes + kRows * rb, 0, 0);
      alignas(32) float dws[kRows], mws[kRows];
      for (size_t r = 0; r < kRows; ++r) block_scales<F>(row[r], b, &dws[r], &mws[r]);
      const __m256 dw = _mm256_load_ps(dws);
      __m256i halves[F::kHalfScales ? kRows : 1];
      if constexpr (F::kHalfScales) half_scales<F, kRows>(row, b, halves);
      for (int t = 0; t < T; ++t) {
        const __m256i xv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x.q + t * in + b * kBlock));
        __m256i p[kRows];
        for (size_t r = 0; r < kRows; ++r) p[r] = I::block_dot(F::signed32(row[r], b), xv);
        if constexpr (F::kHalfScales)
          for (size_t r = 0; r < kRows; ++r) p[r] = _mm256_mullo_epi32(p[r], halves[r]);
        acc[t] = scale_add<I>(sum_lanes8(p), dw, x.d[t * nb + b], acc[t]);
        if constexpr (F::kMins) acc[t] = min_add<I>(x.s[t * nb + b], _mm256_load_ps(mws), x.d[t * nb + b], acc[t]);
      }
    }
    for (int t = 0; t < T; ++t) {
      alignas(32) float out[kRows];
      _mm256_store_ps(out, acc[t]);
      store_group(out, n, bias ? bias + o : nullptr, y + t * ldy + o);
    }
  }
}

template <class F, int T>
void MaddubsDot::matvec(Activations x, size_t in, const WeightMatrix& w, const float* bias, float* y, size_t ldy, size_t o0,
                        size_t o1) {
  int8_gemm::matvec<MaddubsDot, F, T>(x, in, w, bias, y, ldy, o0, o1);
}

// The kernels.h matmul contract for block format F, rows [o0, o1), any number of tokens.
template <class I, class F>
void matmul_blocks(const MatmulInput& input, const WeightMatrix& w, const float* b, float* y, size_t ldy, size_t o0,
                   size_t o1) {
  constexpr size_t kGroup = I::kGroup;
  const size_t tokens = input.tokens, in = w.cols, nb = in / kBlock;
  if (!input.q8) throw_unquantized_input();
  Activations x{input.q8, input.q8_scale, input.q8_sum};
  switch (tokens) {
    case 1: return I::template matvec<F, 1>(x, in, w, b, y, ldy, o0, o1);
    case 2: return I::template matvec<F, 2>(x, in, w, b, y, ldy, o0, o1);
    case 3: return I::template matvec<F, 3>(x, in, w, b, y, ldy, o0, o1);
    case 4: return I::template matvec<F, 4>(x, in, w, b, y, ldy, o0, o1);
    default: break;
  }
  // One scratch, 4-byte values first: the panel's factors and starts; then the bytes: the
  // activations when offset here, then the panel's weights.
  const size_t words = 6 * kGroup * nb, bytes = tokens * in + kGroup * in;
  float* scratch = thread_scratch(words + (bytes + 3) / 4);
  float* factors = scratch;
  int8_t* own_q = reinterpret_cast<int8_t*>(scratch + words);
  int32_t* ints = reinterpret_cast<int32_t*>(factors + 2 * kGroup * nb);
  const Panel panel{own_q + tokens * in, factors, factors + kGroup * nb, ints, ints + kGroup * nb,
                    ints + 2 * kGroup * nb, ints + 3 * kGroup * nb};
  if (I::kOffset) {  // the shared activations stay as they are: the offset copy is this thread's
    for (size_t i = 0; i < tokens * in; ++i) own_q[i] = int8_t(uint8_t(x.q[i]) ^ 0x80);
    x.q = own_q;
  }
  for (size_t o = o0; o < o1; o += kGroup) {
    const size_t n = o1 - o < kGroup ? o1 - o : kGroup;
    repack<I, F>(w.data + o * w.row_bytes, w.row_bytes, n, nb, panel);
    const float* bias = b ? b + o : nullptr;
    constexpr size_t T = I::kTokens;
    size_t t = 0;
    for (; t + T <= tokens; t += T) tile<I, F, T>(panel, nb, x.at(t, in, nb), in, bias, n, y + t * ldy + o, ldy);
    leftover_tile<I, F, T>(tokens - t, panel, nb, x.at(t, in, nb), in, bias, n, y + t * ldy + o, ldy);
  }
}

// The kernels.h matmul contract for the int8 path's weights (int8_path), rows [o0, o1).
template <class I>
void matmul(const MatmulInput& input, const WeightMatrix& w, const float* b, float* y, size_t ldy, size_t o0,
            size_t o1) {
  switch (w.dtype) {
    case Dtype::Q4_0: return matmul_blocks<I, Q4Format>(input, w, b, y, ldy, o0, o1);
    case Dtype::Q4_K: return matmul_blocks<I, Q4KFormat>(input, w, b, y, ldy, o0, o1);
    case Dtype::Q6_K: return matmul_blocks<I, Q6KFormat>(input, w, b, y, ldy, o0, o1);
    default: return matmul_blocks<I, Q8Format>(input, w, b, y, ldy, o0, o1);
  }
}

}  // namespace int8_gemm
}  // namespace
}  // namespace mv
