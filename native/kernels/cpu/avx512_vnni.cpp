// The int8 path (int8_gemm.h) with AVX-512 VNNI, in its own object compiled with -mavx512vnni: the
// AVX-512 set calls it only where the CPU has VNNI.
#include <immintrin.h>

#include <type_traits>

#include "kernels/cpu/int8_gemm.h"

namespace mv {
namespace {

// Lane r of the result = the sum of row r's 8 int32 lanes, s[k] = [row 2k's 8 | row 2k+1's 8]. Each
// round adds the halves of two registers side by side (8 -> 4 -> 2 -> 1); integer adds, so exact in
// any order.
__attribute__((always_inline)) inline __m512i sum_lanes16(const __m512i s[8]) {
  const auto ps = [](__m512i v) { return _mm512_castsi512_ps(v); };
  const auto si = [](__m512 v) { return _mm512_castps_si512(v); };
  __m512i u[4], v[2];
  for (int k = 0; k < 4; ++k)  // quarter j: row 4k+j's
    u[k] = _mm512_add_epi32(_mm512_shuffle_i32x4(s[2 * k], s[2 * k + 1], 0x88), _mm512_shuffle_i32x4(s[2 * k], s[2 * k + 1], 0xDD));
  for (int k = 0; k < 2; ++k)  // quarter j: two lanes each of rows 8k+j and 8k+4+j
    v[k] = _mm512_add_epi32(_mm512_unpacklo_epi64(u[2 * k], u[2 * k + 1]), _mm512_unpackhi_epi64(u[2 * k], u[2 * k + 1]));
  // Quarter j now holds rows j, 4+j, 8+j, 12+j: lane 4j+i is row 4i+j.
  const __m512i w = _mm512_add_epi32(si(_mm512_shuffle_ps(ps(v[0]), ps(v[1]), 0x88)), si(_mm512_shuffle_ps(ps(v[0]), ps(v[1]), 0xDD)));
  return _mm512_permutexvar_epi32(_mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15), w);
}

// vpdpbusd multiplies unsigned by signed bytes: the activations come offset by 128. 512-bit
// registers, 16 rows: each broadcast of 4 activation bytes feeds 64 products (with 8 rows the
// broadcasts, not the multiplies, were the limit). One instruction per dot4, so its latency shows:
// 8 tokens, 8 independent chains (AVX-512 has the 32 registers for their accumulators).
struct VnniDot {
  using IReg = __m512i;
  using FReg = __m512;
  static constexpr size_t kGroup = 16;
  static constexpr int kTokens = 8;
  static constexpr bool kOffset = true;
  static IReg dot4(IReg acc, IReg x4, IReg w) { return _mm512_dpbusd_epi32(acc, x4, w); }
  static IReg load(const void* p) { return _mm512_loadu_si512(p); }
  static IReg set1(int32_t v) { return _mm512_set1_epi32(v); }
  static FReg zero() { return _mm512_setzero_ps(); }
  static FReg loadf(const float* p) { return _mm512_loadu_ps(p); }
  static void storef(float* p, FReg v) { _mm512_storeu_ps(p, v); }
  static FReg cvt(IReg v) { return _mm512_cvtepi32_ps(v); }
  static FReg fma(FReg a, FReg b, FReg c) { return _mm512_fmadd_ps(a, b, c); }
  static FReg mul(FReg a, FReg b) { return _mm512_mul_ps(a, b); }
  static FReg setf(float v) { return _mm512_set1_ps(v); }
  static IReg add(IReg a, IReg b) { return _mm512_add_epi32(a, b); }
  static IReg mullo(IReg a, IReg b) { return _mm512_mullo_epi32(a, b); }
  // Decode steps: matvec_vnni below.
  template <class F, int T>
  static void matvec(int8_gemm::Activations x, size_t in, const WeightMatrix& w, const float* bias, float* y, size_t ldy,
                     size_t o0, size_t o1);
};

// Rows a and b's block blk side by side (a in the low half) as unsigned bytes q + kBias. Q8_0's
// bias is one xor of the stored bytes, done once for both rows.
template <class F>
__m512i biased_pair(const uint8_t* a, const uint8_t* b, size_t blk) {
  if constexpr (std::is_same_v<F, int8_gemm::Q8Format>) {
    const __m512i q = _mm512_inserti64x4(_mm512_castsi256_si512(F::signed32(a, blk)), F::signed32(b, blk), 1);
    return _mm512_xor_si512(q, _mm512_set1_epi8(char(0x80)));
  } else {
    return _mm512_inserti64x4(_mm512_castsi256_si512(F::biased32(a, blk)), F::biased32(b, blk), 1);
  }
}

// biased_pair for blocks b0 .. b0 + S - 1 of the 16 rows, u[i][k] = rows 2k and 2k + 1. Q4_K takes
// S = 2 (b0 even): blocks b0 and b0 + 1 are the low and high nibbles of the same 32 bytes, read once
// for both and split without a choice per block.
template <class F, size_t S>
void biased_pairs(const uint8_t* const row[16], size_t b0, __m512i u[S][8]) {
  for (size_t k = 0; k < 8; ++k) {
    if constexpr (S == 2) {
      static_assert(std::is_same_v<F, int8_gemm::Q4KFormat>, "blocks in pairs: Q4_K's nibbles");
      const auto load = [&](size_t r) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(F::nibbles(row[r], b0))); };
      const __m512i v = _mm512_inserti64x4(_mm512_castsi256_si512(load(2 * k)), load(2 * k + 1), 1), low4 = _mm512_set1_epi8(15);
      u[0][k] = _mm512_and_si512(v, low4);
      u[1][k] = _mm512_and_si512(_mm512_srli_epi16(v, 4), low4);
    } else {
      static_assert(S == 1, "one block at a time, or Q4_K's pairs");
      u[0][k] = biased_pair<F>(row[2 * k], row[2 * k + 1], b0);
    }
  }
}

// The 16 rows' byte offsets from row 0, one per lane: the index of a gather that reads the same
// field of every row of a group.
inline __m512i row_offsets16(const uint8_t* const row[16]) {
  alignas(64) int32_t at[16];
  for (size_t r = 0; r < 16; ++r) at[r] = int32_t(row[r] - row[0]);
  return _mm512_load_si512(at);
}

// Q4KFormat::scales for the 8 blocks of the super-block holding block b, in 16 rows at once (the
// format with mins is Q4_K): each row's 16-byte header (f16 d and dmin, 12 bytes of 6-bit fields) is
// gathered as four 32-bit words, one row per lane, and the fields taken four at a time as the bytes
// of those words (q4_k_scale_min's layout): sub-blocks 0-3 are the low 6 bits of bytes 4-7 (scales)
// and 8-11 (mins); 4-7 take 4 low bits from bytes 12-15 and their top 2 bits from the high bits of
// bytes 4-11. The same conversions and products as scales(), every lane together: row by row it
// was more work than the 8 blocks' products it serves (1.34x for Q4_K decode at one sequence).
inline void q4k_super_scales16(const uint8_t* const row[16], size_t b, float dws[8][16], float mws[8][16]) {
  const __m512i index = row_offsets16(row);
  const uint8_t* s = int8_gemm::Q4KFormat::super(row[0], b);
  const __m512i h = _mm512_i32gather_epi32(index, s, 1), a0 = _mm512_i32gather_epi32(index, s + 4, 1);
  const __m512i a1 = _mm512_i32gather_epi32(index, s + 8, 1), a2 = _mm512_i32gather_epi32(index, s + 12, 1);
  const __m512 d = _mm512_cvtph_ps(_mm512_cvtepi32_epi16(h));
  const __m512 dmin = _mm512_cvtph_ps(_mm512_cvtepi32_epi16(_mm512_srli_epi32(h, 16)));
  const __m512i low6 = _mm512_set1_epi32(0x3f3f3f3f), low4 = _mm512_set1_epi32(0x0f0f0f0f), top2 = _mm512_set1_epi32(0x30303030);
  const __m512i sc[2] = {_mm512_and_si512(a0, low6),
                         _mm512_or_si512(_mm512_and_si512(a2, low4), _mm512_and_si512(_mm512_srli_epi32(a0, 2), top2))};
  const __m512i m[2] = {_mm512_and_si512(a1, low6),
                        _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi32(a2, 4), low4), _mm512_and_si512(_mm512_srli_epi32(a1, 2), top2))};
  const __m512i byte = _mm512_set1_epi32(0xff);
  const __m512i sign = _mm512_set1_epi32(int32_t(0x80000000u));  // -(dmin m): the sign flipped, as in the scalar code
  for (int j = 0; j < 8; ++j) {
    const __m512i scj = _mm512_and_si512(_mm512_srli_epi32(sc[j / 4], unsigned(8 * (j % 4))), byte);
    const __m512i mj = _mm512_and_si512(_mm512_srli_epi32(m[j / 4], unsigned(8 * (j % 4))), byte);
    _mm512_store_ps(dws[j], _mm512_mul_ps(d, _mm512_cvtepi32_ps(scj)));
    _mm512_store_ps(mws[j], _mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(_mm512_mul_ps(dmin, _mm512_cvtepi32_ps(mj))), sign)));
  }
}

// Q6_K's int8 scales (one per 16 weights) for the super-block holding block b, in 16 rows at once:
// each row's 16 scale bytes gathered as four 32-bit words, one row per lane. Read row by row at
// every block (two scalar loads and broadcasts per row) they cost more than the block's products;
// a gather per block was slower still, so the words are gathered once per super-block and each block
// takes its two bytes from them (q6k_block_halves).
inline void q6k_super_scale_words(const uint8_t* const row[16], size_t b, __m512i words[4]) {
  const __m512i index = row_offsets16(row);
  const uint8_t* s = int8_gemm::Q6KFormat::super(row[0], b) + 192;
  for (int i = 0; i < 4; ++i) words[i] = _mm512_i32gather_epi32(index, s + 4 * i, 1);
}

// Block b's scales in matvec_vnni's pair layout: register k = rows 2k and 2k + 1, each row's 8 lanes
// [first 16 weights' scale x4 | last 16's x4], as int32.
inline void q6k_block_halves(const __m512i words[4], size_t b, __m512i halves[8]) {
  const size_t j = b % 8;
  const __m512i w = words[j / 2];
  const unsigned at = unsigned(16 * (j % 2));  // bit offset of the block's first scale byte in its word
  const __m512i lo = _mm512_srai_epi32(_mm512_slli_epi32(w, 24 - at), 24);
  const __m512i hi = _mm512_srai_epi32(_mm512_slli_epi32(w, 16 - at), 24);
  for (int k = 0; k < 8; ++k) {
    const int a = 2 * k, c = 2 * k + 1;  // lanes of lo are 0-15, of hi 16-31
    const __m512i pick = _mm512_setr_epi32(a, a, a, a, 16 + a, 16 + a, 16 + a, 16 + a, c, c, c, c, 16 + c, 16 + c, 16 + c, 16 + c);
    halves[k] = _mm512_permutex2var_epi32(lo, pick, hi);
  }
}

// A step of T = 1..4 tokens (decode), rows [o0, o1), the weights read in place. vpdpbusd takes
// unsigned bytes times signed ones, so each weight w is biased to w + kBias (Q8_0: one xor flips it by
// 128; a Q4_0 nibble already is w + 8) and multiplies the signed activations x:
// sum (w + kBias) x = sum w x + kBias sum x, and each lane starts from minus the second term (the
// same for every row). 16 rows at a time: per block, two rows per 512-bit register (one vpdpbusd
// gives each row's 8 partial sums), the 16 rows folded into one register (lane r = row r), then one
// conversion and one FMA with the gathered block scales: the same integers and float steps as the
// other sets (kernels.h). Against the 256-bit matvec (8 rows, two vpsignb and a vpdpbusd per row
// block, a horizontal-add reduction, a scalar gather of the scales) this is a third of the
// shuffles, the port Zen 4 ran out of; a vpdpbusd per row pair rather than per row ran 1.2x faster
// on Zen 5 with the matrix in L2 (full-width 512-bit units). Each block prefetches the same block 16
// rows on.
template <class F, int T>
void matvec_vnni(int8_gemm::Activations x, size_t in, const WeightMatrix& w, const float* bias, float* y, size_t ldy, size_t o0,
                 size_t o1) {
  constexpr size_t kRows = 16, kBlock = int8_gemm::kBlock;
  const size_t rb = w.row_bytes, nb = in / kBlock, block_bytes = rb / nb;  // a block's share of a row, for prefetches
  const __m512i bias8 = _mm512_set1_epi8(char(F::kBias));
  for (size_t o = o0; o < o1; o += kRows) {
    const size_t n = o1 - o < kRows ? o1 - o : kRows;
    const uint8_t* row[kRows];
    int8_gemm::group_rows<kRows>(w, o, n, row);
    __m512 acc[T];
    for (int t = 0; t < T; ++t) acc[t] = _mm512_setzero_ps();
    // Formats with mins: a super-block's 8 blocks' factors, unpacked once for the 16 rows.
    alignas(64) float dws[8][kRows], mws[8][kRows];
    __m512i scale_words[4];  // Q6_K: the super-block's scale bytes (q6k_super_scale_words)
    // Q4_K rows are whole super-blocks of 8 blocks, so its pairs of blocks (biased_pairs) never split.
    constexpr size_t kStep = F::kMins ? 2 : 1;
    for (size_t b0 = 0; b0 < nb; b0 += kStep) {
      __m512i pairs[kStep][kRows / 2];
      biased_pairs<F, kStep>(row, b0, pairs);
      for (size_t b = b0; b < b0 + kStep; ++b) {
        const __m512i (&u)[kRows / 2] = pairs[b - b0];
        for (size_t r = 0; r < kRows; ++r) __builtin_prefetch(row[r] + b * block_bytes + kRows * rb, 0, 0);
        __m512 dw, mw;
        if constexpr (F::kMins) {
          static_assert(std::is_same_v<F, int8_gemm::Q4KFormat>, "the one format with mins is Q4_K");
          if (b % 8 == 0) q4k_super_scales16(row, b, dws, mws);
          dw = _mm512_load_ps(dws[b % 8]);
          mw = _mm512_load_ps(mws[b % 8]);
        } else {  // the f16 scales side by side, one conversion (vpgatherdd stalled the loop on Zen 4)
          alignas(32) uint16_t scale[kRows];
          for (size_t r = 0; r < kRows; ++r) std::memcpy(&scale[r], F::d_at(row[r], b), 2);
          dw = _mm512_cvtph_ps(_mm256_load_si256(reinterpret_cast<const __m256i*>(scale)));
        }
        __m512i halves[F::kHalfScales ? kRows / 2 : 1];
        if constexpr (F::kHalfScales) {
          static_assert(std::is_same_v<F, int8_gemm::Q6KFormat>, "the one format with half-block scales is Q6_K");
          if (b % 8 == 0) q6k_super_scale_words(row, b, scale_words);
          q6k_block_halves(scale_words, b, halves);
        }
        for (int t = 0; t < T; ++t) {
          // The block's 32 activations in both halves.
          const __m512i xv = _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(x.q + t * in + b * kBlock)));
          // Each lane starts at -kBias * (its 4 activations' sum), so it ends at exactly its sum of q x.
          __m512i start = _mm512_setzero_si512();
          if constexpr (F::kBias != 0) start = _mm512_sub_epi32(start, _mm512_dpbusd_epi32(_mm512_setzero_si512(), bias8, xv));
          __m512i s[kRows / 2];
          for (size_t k = 0; k < kRows / 2; ++k) {
            s[k] = _mm512_dpbusd_epi32(start, u[k], xv);
            if constexpr (F::kHalfScales) s[k] = _mm512_mullo_epi32(s[k], halves[k]);
          }
          const float dx = x.d[t * nb + b];
          acc[t] = int8_gemm::scale_add<VnniDot>(sum_lanes16(s), dw, dx, acc[t]);
          if constexpr (F::kMins) acc[t] = int8_gemm::min_add<VnniDot>(x.s[t * nb + b], mw, dx, acc[t]);
        }
      }
    }
    for (int t = 0; t < T; ++t) {
      alignas(64) float out[kRows];
      _mm512_store_ps(out, acc[t]);
      int8_gemm::store_group(out, n, bias ? bias + o : nullptr, y + t * ldy + o);
    }
  }
}

// Rows of more than kLongRowBlocks blocks (Q8_0 and Q4_0, the formats with one f16 scale a block), 1..4
// tokens: 4 rows at a time, 4 blocks of each per pass, so the walk keeps 4 streams open instead of
// 16. A 16-row group of the bench model's down projection (3072 inputs, 3264-byte Q8_0 rows) spans
// 52 KB, and the 16-row walk read it at 57-64 GB/s against 73-81 for gate/up's 13 KB groups in the
// same runs; this walk read it at 67-69 GB/s (a harness timing the decode matmuls of that GGUF on
// the engine's pool: 11% less time for down; in the engine, down's time went from 0.62 to 0.55 of
// gate/up's, whose bytes are twice down's). On short rows it was slower than the 16-row walk (67-71
// against 73-76 GB/s), which keeps them.
// Per pass, register 2j + p holds rows 2p and 2p + 1 of block j, so sum_lanes16 leaves lane 4j + r =
// row r's sum for block j; each row's blocks are then added in order by one FMA each, with the
// product of the same two factors, so every row gets matvec_vnni's result bit for bit. Prefetches go
// at least kLongAheadBytes ahead, in whole 4-row groups.
constexpr size_t kLongRowBlocks = 32, kLongAheadBytes = 8192;

template <class F, int T>
void matvec_vnni_long(int8_gemm::Activations x, size_t in, const WeightMatrix& w, const float* bias, float* y, size_t ldy,
                      size_t o0, size_t o1) {
  static_assert(!F::kMins && !F::kHalfScales, "one f16 scale a block");
  constexpr size_t kRows = 4, kSpan = 4, kBlock = int8_gemm::kBlock;
  const size_t rb = w.row_bytes, nb = in / kBlock, block_bytes = rb / nb, group = kRows * rb;
  const size_t ahead = (kLongAheadBytes + group - 1) / group * group;
  const __m512i bias8 = _mm512_set1_epi8(char(F::kBias));
  const __m512i spread = _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3);  // lane 4j + r takes block j's
  for (size_t o = o0; o < o1; o += kRows) {
    const size_t n = o1 - o < kRows ? o1 - o : kRows;
    const uint8_t* row[kRows];
    int8_gemm::group_rows<kRows>(w, o, n, row);
    __m128 acc[T];
    for (int t = 0; t < T; ++t) acc[t] = _mm_setzero_ps();
    // Blocks [b0, b0 + NJ) of the 4 rows; blocks past NJ are zeros whose sums are never added.
    const auto pass = [&](size_t b0, auto nj) {
      constexpr size_t NJ = decltype(nj)::value;
      for (size_t j = 0; j < NJ; ++j)
        for (size_t r = 0; r < kRows; ++r) __builtin_prefetch(row[r] + (b0 + j) * block_bytes + ahead, 0, 0);
      alignas(32) uint16_t scale[kSpan * kRows] = {};
      for (size_t j = 0; j < NJ; ++j)
        for (size_t r = 0; r < kRows; ++r) std::memcpy(&scale[4 * j + r], F::d_at(row[r], b0 + j), 2);
      const __m512 dw = _mm512_cvtph_ps(_mm256_load_si256(reinterpret_cast<const __m256i*>(scale)));
      __m512i u[2 * kSpan];
      for (size_t j = 0; j < kSpan; ++j)
        for (size_t p = 0; p < 2; ++p) u[2 * j + p] = j < NJ ? biased_pair<F>(row[2 * p], row[2 * p + 1], b0 + j) : _mm512_setzero_si512();
      for (int t = 0; t < T; ++t) {
        __m512i s[2 * kSpan];
        for (size_t j = 0; j < kSpan; ++j) {
          const __m512i xv = j < NJ ? _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(x.q + t * in + (b0 + j) * kBlock)))
                                    : _mm512_setzero_si512();
          const __m512i start = _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_dpbusd_epi32(_mm512_setzero_si512(), bias8, xv));
          for (size_t p = 0; p < 2; ++p) s[2 * j + p] = _mm512_dpbusd_epi32(start, u[2 * j + p], xv);
        }
        alignas(16) float dx[kSpan] = {};
        for (size_t j = 0; j < NJ; ++j) dx[j] = x.d[t * nb + b0 + j];
        const __m512 sums = _mm512_cvtepi32_ps(sum_lanes16(s));
        const __m512 factors = _mm512_mul_ps(dw, _mm512_permutexvar_ps(spread, _mm512_castps128_ps512(_mm_load_ps(dx))));
        acc[t] = _mm_fmadd_ps(_mm512_castps512_ps128(sums), _mm512_castps512_ps128(factors), acc[t]);
        if constexpr (NJ > 1) acc[t] = _mm_fmadd_ps(_mm512_extractf32x4_ps(sums, 1), _mm512_extractf32x4_ps(factors, 1), acc[t]);
        if constexpr (NJ > 2) acc[t] = _mm_fmadd_ps(_mm512_extractf32x4_ps(sums, 2), _mm512_extractf32x4_ps(factors, 2), acc[t]);
        if constexpr (NJ > 3) acc[t] = _mm_fmadd_ps(_mm512_extractf32x4_ps(sums, 3), _mm512_extractf32x4_ps(factors, 3), acc[t]);
      }
    };
    size_t b0 = 0;
    for (; b0 + kSpan <= nb; b0 += kSpan) pass(b0, std::integral_constant<size_t, 4>{});
    switch (nb - b0) {
      case 3: pass(b0, std::integral_constant<size_t, 3>{}); break;
      case 2: pass(b0, std::integral_constant<size_t, 2>{}); break;
      case 1: pass(b0, std::integral_constant<size_t, 1>{}); break;
      default: break;
    }
    for (int t = 0; t < T; ++t) {
      alignas(16) float out[kRows];
      _mm_store_ps(out, acc[t]);
      int8_gemm::store_group(out, n, bias ? bias + o : nullptr, y + t * ldy + o);
    }
  }
}

template <class F, int T>
void VnniDot::matvec(int8_gemm::Activations x, size_t in, const WeightMatrix& w, const float* bias, float* y, size_t ldy,
                     size_t o0, size_t o1) {
  if constexpr (!F::kMins && !F::kHalfScales)
    if (in / int8_gemm::kBlock > kLongRowBlocks) return matvec_vnni_long<F, T>(x, in, w, bias, y, ldy, o0, o1);
  matvec_vnni<F, T>(x, in, w, bias, y, ldy, o0, o1);
}

}  // namespace

void matmul_int8_vnni(const MatmulInput& in, const WeightMatrix& w, const float* b, float* y, size_t ldy, size_t o0,
                         size_t o1) {
  int8_gemm::matmul<VnniDot>(in, w, b, y, ldy, o0, o1);
}

}  // namespace mv
