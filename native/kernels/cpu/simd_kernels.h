// The SIMD kernel sets written once over a small vector interface `V` (avx2.cpp and avx512.cpp each
// supply one and compile this file's templates with their own flags). Everything here is a template
// instantiated with a type local to that file, so the two instantiations never merge at link time.
//
// V provides: Reg, kLanes, zero(), set1(f), loadu(const float*), storeu(float*, Reg), fma(a, b, c),
// mul(a, b), add(a, b), sub(a, b), max(a, b), div(a, b), select_negative(x, a, b) (x < 0 ? a : b per lane), hsum(Reg), hsum_lanes(const Reg[kLanes], float[kLanes]) (kLanes sums at once, each equal to hsum's), hmax(Reg), round(Reg) (to nearest integer), ldexp(p, n) (p * 2^n for integral n in
// [-126, 0]), widen<D>(const uint8_t*) for D in {F32, F16, BF16} (kLanes weights at that address), store_half(uint16_t*, Reg), and matmul_int8 (the block formats: the
// int8 path of kernels.h, int8_gemm.h). No std:: templates here: an inline std function compiled with
// AVX-512 flags could be picked by the linker for the portable path too.
#pragma once
#include <cstring>

#include "kernels/cpu/block_decode.h"
#include "kernels/cpu/kernels.h"
#include "kernels/cpu/quant.h"

namespace mv {
namespace simd {

template <Dtype D>
constexpr size_t elem_bytes() {
  return D == Dtype::F32 ? 4 : 2;
}

// kLanes elements starting at p of which only n (< kLanes) exist: the rest read as zero.
template <class V, Dtype D>
typename V::Reg widen_tail(const uint8_t* p, size_t n) {
  alignas(64) uint8_t buf[V::kLanes * 4] = {};
  std::memcpy(buf, p, n * elem_bytes<D>());
  return V::template widen<D>(buf);
}

// When a step's tokens fit one tile (decode), each weight row is read once: every weight load then
// prefetches the same place kWeightPrefetchRows rows further on. Rows are short next to what the hardware
// prefetcher needs to learn a stream (and it stops at 4 KB pages), so without this decode waited on
// memory at every row start. Prefill reads each row again for every token tile, from cache, and is
// not helped: it passes stream = false.
constexpr size_t kWeightPrefetchRows = 4;
inline void prefetch_ahead(const uint8_t* p, size_t rb, bool stream) {
  if (stream) __builtin_prefetch(p + kWeightPrefetchRows * rb, 0, 0);
}

template <class V, Dtype D, int R, int T>
void tile_plain(const float* x, size_t in, const uint8_t* w, size_t rb, bool stream, typename V::Reg acc[R][T]) {
  using Reg = typename V::Reg;
  constexpr size_t L = V::kLanes, E = elem_bytes<D>();
  // A 64-byte line of each row per pass (K registers), prefetched once: with 16-bit weights a
  // register holds half a line (a quarter with AVX2), and a prefetch per register doubled the
  // prefetches while each pass kept fewer bytes in flight. Same order of FMAs as one register a pass.
  constexpr size_t K = L * E >= 64 ? 1 : 64 / (L * E);
  const auto pass = [&](size_t i) {
    Reg wv[R];
    for (int r = 0; r < R; ++r) wv[r] = V::template widen<D>(w + r * rb + i * E);
    // f32 weights: GCC folds each load into the FMAs of every token (T loads of each weight per
    // pass); with fewer than 4 tokens that made a 3-token tile slower than a 4-token one. Each weight
    // is loaded into a register once.
    if constexpr (D == Dtype::F32)
      for (int r = 0; r < R; ++r) __asm__("" : "+v"(wv[r]));
    for (int t = 0; t < T; ++t) {
      const Reg xv = V::loadu(x + t * in + i);
      for (int r = 0; r < R; ++r) acc[r][t] = V::fma(wv[r], xv, acc[r][t]);
    }
  };
  size_t i = 0;
  for (; i + K * L <= in; i += K * L) {
    for (int r = 0; r < R; ++r) prefetch_ahead(w + r * rb + i * E, rb, stream);
    for (size_t k = 0; k < K; ++k) pass(i + k * L);
  }
  for (; i + L <= in; i += L) {
    for (int r = 0; r < R; ++r) prefetch_ahead(w + r * rb + i * E, rb, stream);
    pass(i);
  }
  if (i < in) {  // the leftover columns, zero-padded to a full register
    const size_t n = in - i;
    Reg wv[R];
    for (int r = 0; r < R; ++r) wv[r] = widen_tail<V, D>(w + r * rb + i * E, n);
    for (int t = 0; t < T; ++t) {
      const Reg xv = widen_tail<V, Dtype::F32>(reinterpret_cast<const uint8_t*>(x + t * in + i), n);
      for (int r = 0; r < R; ++r) acc[r][t] = V::fma(wv[r], xv, acc[r][t]);
    }
  }
}

// One f32 row against one token (decode at one sequence, no software prefetch: see matmul):
// tile_plain's order of FMAs into one accumulator, kUnroll registers a loop. A loop per register kept
// fewer of the row's loads in flight: decode at one sequence 1.02-1.07x (f32, three runs of 10-12
// alternating passes, 8-10 of them faster). f16 rows stay with tile_plain: unrolled they ran 0.95x
// (their one chain of FMAs, two per line, is what bounds them). 8 accumulators were faster still
// (f32 1.03x over this loop, f16 1.065x over one) but change the order of the sums, and a token's
// sums must not depend on whether other tokens share its step (a tile of several keeps one
// accumulator per row and token: test/kernels.test.ts).
template <class V>
typename V::Reg f32_row_one_token(const float* x, size_t in, const uint8_t* w) {
  constexpr size_t L = V::kLanes, kUnroll = 8;
  const float* wf = reinterpret_cast<const float*>(w);
  typename V::Reg acc = V::zero();
  size_t i = 0;
  for (; i + kUnroll * L <= in; i += kUnroll * L)
    for (size_t u = 0; u < kUnroll; ++u) acc = V::fma(V::loadu(wf + i + u * L), V::loadu(x + i + u * L), acc);
  for (; i + L <= in; i += L) acc = V::fma(V::loadu(wf + i), V::loadu(x + i), acc);
  if (i < in) {
    const size_t n = in - i;
    acc = V::fma(widen_tail<V, Dtype::F32>(w + i * 4, n), widen_tail<V, Dtype::F32>(reinterpret_cast<const uint8_t*>(x + i), n), acc);
  }
  return acc;
}

// n rounded up to whole registers' worth of lanes.
template <class V>
constexpr int lanes_rounded(int n) {
  return (n + int(V::kLanes) - 1) / int(V::kLanes) * int(V::kLanes);
}

// sums[i] = hsum(regs[i]) bit for bit for N registers, reduced kLanes at a time (hsum_lanes); sums
// has room for lanes_rounded(N).
template <class V, int N>
void hsum_many(const typename V::Reg* regs, float* sums) {
  constexpr int L = int(V::kLanes), M = lanes_rounded<V>(N);
  typename V::Reg padded[M];
  for (int i = 0; i < M; ++i) padded[i] = i < N ? regs[i] : V::zero();
  for (int g = 0; g < M; g += L) V::hsum_lanes(padded + g, sums + g);
}

// R weight rows x T tokens: each weight load feeds T FMAs and each activation load R, so a decode
// step of one to four tokens streams W once. x: (T, in); rows r at w + r * rb; y[t * ldy + r].
template <class V, Dtype D, int R, int T>
void tile(const float* x, size_t in, const uint8_t* w, size_t rb, bool stream, const float* b, float* y, size_t ldy) {
  typename V::Reg acc[R][T];
  for (auto& r : acc)
    for (auto& a : r) a = V::zero();
  if constexpr (D == Dtype::F32 && R == 1 && T == 1)
    acc[0][0] = f32_row_one_token<V>(x, in, w);
  else
    tile_plain<V, D, R, T>(x, in, w, rb, stream, acc);
  // A row of 128 inputs takes 8 FMAs per register, and reducing each register alone cost as much
  // as the FMAs (perf: 41% of the 4x4 tile); hsum_many reduces them kLanes at a time, same bits.
  constexpr int N = R * T;
  if constexpr (N <= 2) {
    for (int t = 0; t < T; ++t)
      for (int r = 0; r < R; ++r) y[t * ldy + r] = V::hsum(acc[r][t]) + (b ? b[r] : 0.0f);
  } else {
    alignas(64) float sums[lanes_rounded<V>(N)];
    hsum_many<V, N>(&acc[0][0], sums);
    for (int t = 0; t < T; ++t)
      for (int r = 0; r < R; ++r) y[t * ldy + r] = sums[r * T + t] + (b ? b[r] : 0.0f);
  }
}

template <class V, Dtype D, int R>
void token_tiles(const float* x, size_t tokens, size_t in, const uint8_t* w, size_t rb, bool stream, const float* b,
                 float* y, size_t ldy) {
  size_t t = 0;
  for (; t + 4 <= tokens; t += 4) tile<V, D, R, 4>(x + t * in, in, w, rb, stream, b, y + t * ldy, ldy);
  const float* xt = x + t * in;
  float* yt = y + t * ldy;
  switch (tokens - t) {
    case 3: tile<V, D, R, 3>(xt, in, w, rb, stream, b, yt, ldy); break;
    case 2: tile<V, D, R, 2>(xt, in, w, rb, stream, b, yt, ldy); break;
    case 1: tile<V, D, R, 1>(xt, in, w, rb, stream, b, yt, ldy); break;
    default: break;
  }
}

template <class V, Dtype D>
void row_tiles(size_t rows, const float* x, size_t tokens, size_t in, const uint8_t* w, size_t rb, bool stream,
               const float* b, float* y, size_t ldy) {
  switch (rows) {
    case 4: token_tiles<V, D, 4>(x, tokens, in, w, rb, stream, b, y, ldy); break;
    case 3: token_tiles<V, D, 3>(x, tokens, in, w, rb, stream, b, y, ldy); break;
    case 2: token_tiles<V, D, 2>(x, tokens, in, w, rb, stream, b, y, ldy); break;
    case 1: token_tiles<V, D, 1>(x, tokens, in, w, rb, stream, b, y, ldy); break;
    default: break;
  }
}

template <class V>
void dequantize_rows(const WeightMatrix& w, size_t r0, size_t n, float* out) {
  constexpr size_t L = V::kLanes;
  for (size_t r = 0; r < n; ++r) {
    const uint8_t* src = w.data + (r0 + r) * w.row_bytes;
    float* dst = out + r * w.cols;
    if (w.dtype == Dtype::F32) {
      std::memcpy(dst, src, w.cols * 4);
      continue;
    }
    if (is_block_format(w.dtype)) {
      block_decode::decode_blocks(w.dtype, src, w.cols, dst);
      continue;
    }
    size_t i = 0;
    for (; i + L <= w.cols; i += L)
      V::storeu(dst + i, w.dtype == Dtype::F16 ? V::template widen<Dtype::F16>(src + 2 * i)
                                               : V::template widen<Dtype::BF16>(src + 2 * i));
    for (; i < w.cols; ++i) {
      uint16_t h;
      std::memcpy(&h, src + 2 * i, 2);
      dst[i] = w.dtype == Dtype::F16 ? half_to_float(h) : bf16_to_float(h);
    }
  }
}

template <class V>
void matmul(const MatmulInput& input, const WeightMatrix& w, const float* b, float* y, size_t ldy, size_t o0, size_t o1) {
  // Token blocks small enough that their activations stay in L2 while the weight rows stream past.
  constexpr size_t kTokenBlock = 64, kRows = 4;
  if (int8_path(w.dtype)) return V::matmul_int8(input, w, b, y, ldy, o0, o1);
  const float* x = input.x;
  const size_t tokens = input.tokens;
  const size_t in = w.cols;
  // One token tile: each weight row is read once, so its loads prefetch ahead (prefetch_ahead). Not
  // for f32 rows of a one-token step: that single sequential stream ran faster on the hardware
  // prefetcher alone (two threads streaming 582 MB, the kernel alone: 50.5-51.8 -> 55-57.6 GB/s in
  // alternating passes), while f16 rows, with twice the weights per line, gained from it.
  const bool stream = tokens <= 4 && !(tokens == 1 && w.dtype == Dtype::F32);
  // One token: one row per tile, so the weights are read as one long stream rather than four short
  // ones side by side. One core then streamed 32 GB/s of f16 weights instead of 23, and decode at
  // one sequence gained 8% (f16) and 12% (f32). With more tokens each weight load must feed more
  // FMAs: one row for two tokens was 30% slower than four.
  const size_t tile_rows = tokens == 1 ? 1 : kRows;
  for (size_t tb = 0; tb < tokens; tb += kTokenBlock) {
    const size_t nt = tokens - tb < kTokenBlock ? tokens - tb : kTokenBlock;
    const float* xb = x + tb * in;
    for (size_t o = o0; o < o1; o += tile_rows) {
      const size_t r = o1 - o < tile_rows ? o1 - o : tile_rows;
      const float* bias = b ? b + o : nullptr;
      float* yb = y + tb * ldy + o;
      const uint8_t* rows = w.data + o * w.row_bytes;
      switch (w.dtype) {
        case Dtype::F16: row_tiles<V, Dtype::F16>(r, xb, nt, in, rows, w.row_bytes, stream, bias, yb, ldy); break;
        case Dtype::BF16: row_tiles<V, Dtype::BF16>(r, xb, nt, in, rows, w.row_bytes, stream, bias, yb, ldy); break;
        default: row_tiles<V, Dtype::F32>(r, xb, nt, in, rows, w.row_bytes, stream, bias, yb, ldy);
      }
    }
  }
}

// One K row against up to 8 query heads at a time, their partial dots in registers (leftover rows).
template <class V, Dtype K>
void dot_one_row(const float* q, size_t nq, const uint8_t* row, size_t n, size_t d, float scale, float* scores) {
  using Reg = typename V::Reg;
  constexpr size_t L = V::kLanes, E = elem_bytes<K>(), kHeads = 8;
  for (size_t j0 = 0; j0 < nq; j0 += kHeads) {
    const size_t nh = nq - j0 < kHeads ? nq - j0 : kHeads;
    Reg acc[kHeads];
    for (size_t j = 0; j < nh; ++j) acc[j] = V::zero();
    for (size_t e = 0; e < d; e += L) {
      const bool full = e + L <= d;
      const Reg kv = full ? V::template widen<K>(row + e * E) : widen_tail<V, K>(row + e * E, d - e);
      for (size_t j = 0; j < nh; ++j) {
        const float* qj = q + (j0 + j) * d + e;
        const Reg qv = full ? V::loadu(qj) : widen_tail<V, Dtype::F32>(reinterpret_cast<const uint8_t*>(qj), d - e);
        acc[j] = V::fma(qv, kv, acc[j]);
      }
    }
    for (size_t j = 0; j < nh; ++j) scores[(j0 + j) * n] = V::hsum(acc[j]) * scale;
  }
}

// Rows gathered by slot defeat the hardware prefetcher (it cannot guess the next slot, and stops at
// 4 KB pages), so the attention loops prefetch every cache line of the row this far ahead.
constexpr size_t kPrefetchRows = 16;

inline void prefetch_row(const uint8_t* row, size_t bytes) {
  for (size_t o = 0; o < bytes; o += 64) __builtin_prefetch(row + o, 0, 3);
  __builtin_prefetch(row + bytes - 1, 0, 3);  // a row that does not start on a line ends on one more
}

// NH query heads (a compile-time count, so every accumulator stays in a register) against the 4 K
// rows of one block, over the head dim: s[j * n + r] = scale * dot(q_j, row r). C > 0: d is C whole
// registers, known at compile time, so the loop unrolls and no tail path sends the accumulators
// through memory before their reduction; C = 0: any d.
template <class V, Dtype K, size_t NH, size_t C>
void dot_block(const float* q, size_t d, const uint8_t* const row[4], float scale, float* s, size_t n) {
  using Reg = typename V::Reg;
  constexpr size_t L = V::kLanes, E = elem_bytes<K>(), R = 4;
  if constexpr (C > 0) d = C * L;
  Reg acc[NH][R];
  for (auto& a : acc)
    for (auto& x : a) x = V::zero();
  const auto step = [&](const Reg (&kv)[R], size_t e, bool full) {
    for (size_t j = 0; j < NH; ++j) {
      const float* qj = q + j * d + e;
      const Reg qv = full ? V::loadu(qj) : widen_tail<V, Dtype::F32>(reinterpret_cast<const uint8_t*>(qj), d - e);
      for (size_t r = 0; r < R; ++r) acc[j][r] = V::fma(qv, kv[r], acc[j][r]);
    }
  };
  size_t e = 0;
  for (; e + L <= d; e += L) {
    Reg kv[R];
    for (size_t r = 0; r < R; ++r) kv[r] = V::template widen<K>(row[r] + e * E);
    step(kv, e, true);
  }
  if constexpr (C == 0) {
    if (e < d) {  // leftover dims, zero-padded to a register
      Reg kv[R];
      for (size_t r = 0; r < R; ++r) kv[r] = widen_tail<V, K>(row[r] + e * E, d - e);
      step(kv, e, false);
    }
  }
  // All NH * R sums reduced together: a 3-head block (GQA 3) took three 4-register reductions, whose
  // shuffles and spills were a third of its samples; `bench:attention` (KV in cache): CPU time per
  // step 1.36 -> 1.19 ms (5 of 5 passes).
  alignas(64) float sums[lanes_rounded<V>(int(NH * R))];
  hsum_many<V, int(NH * R)>(&acc[0][0], sums);
  for (size_t j = 0; j < NH; ++j)
    for (size_t r = 0; r < R; ++r) s[j * n + r] = sums[j * R + r] * scale;
}

// Blocks of 4 K rows against up to kHeads query heads at a time: all the block's dots are reduced
// together (hsum_many), a fraction of the cost of one horizontal sum each. The block's rows stay in L1 while
// every head block passes over them; rows kPrefetchRows ahead are on their way meanwhile. C as in dot_block.
// Flattened: with a dozen instantiations GCC stopped inlining dot_block and hsum_many, and each block
// then spilled its accumulators to the stack and paid a call.
template <class V, Dtype K, size_t C>
__attribute__((flatten)) void gather_dot_blocks(const float* q, size_t nq, const uint8_t* b, size_t stride,
                                                const int32_t* rows, size_t n, size_t d, float scale, float* scores) {
  constexpr size_t E = elem_bytes<K>(), R = 4, kHeads = V::kLanes >= 16 ? 4 : 2;
  const size_t head_rem = nq % kHeads;
  size_t i = 0;
  for (; i + R <= n; i += R) {
    for (size_t r = i + kPrefetchRows; r < i + kPrefetchRows + R && r < n; ++r)
      prefetch_row(b + size_t(rows[r]) * stride * E, d * E);
    const uint8_t* row[R];
    for (size_t r = 0; r < R; ++r) row[r] = b + size_t(rows[i + r]) * stride * E;
    size_t j = 0;
    for (; j + kHeads <= nq; j += kHeads) dot_block<V, K, kHeads, C>(q + j * d, d, row, scale, scores + j * n + i, n);
    const float* qj = q + j * d;
    float* sj = scores + j * n + i;
    if constexpr (kHeads == 4) {
      if (head_rem == 3) dot_block<V, K, 3, C>(qj, d, row, scale, sj, n);
      if (head_rem == 2) dot_block<V, K, 2, C>(qj, d, row, scale, sj, n);
    }
    if (head_rem == 1) dot_block<V, K, 1, C>(qj, d, row, scale, sj, n);
  }
  for (; i < n; ++i) dot_one_row<V, K>(q, nq, b + size_t(rows[i]) * stride * E, n, d, scale, scores + i);
}

// Head dims of 1, 2, 4, 8 or 16 whole registers take the unrolled blocks (64 and 128, the usual ones,
// are 4 and 8 AVX-512 registers, 8 and 16 AVX2 ones). 3 heads of 64 dims against 4096 f16 rows
// (AVX-512, the same bits): 7.4 -> 4.0 ns a row with K in cache, 8.5-11.9 -> 5.2 ns from memory.
template <class V, Dtype K>
void gather_dot_t(const float* q, size_t nq, const void* base, size_t stride, const int32_t* rows, size_t n, size_t d,
                  float scale, float* scores) {
  constexpr size_t L = V::kLanes;
  const uint8_t* b = static_cast<const uint8_t*>(base);
  switch (d % L == 0 ? d / L : 0) {
    case 1: return gather_dot_blocks<V, K, 1>(q, nq, b, stride, rows, n, d, scale, scores);
    case 2: return gather_dot_blocks<V, K, 2>(q, nq, b, stride, rows, n, d, scale, scores);
    case 4: return gather_dot_blocks<V, K, 4>(q, nq, b, stride, rows, n, d, scale, scores);
    case 8: return gather_dot_blocks<V, K, 8>(q, nq, b, stride, rows, n, d, scale, scores);
    case 16: return gather_dot_blocks<V, K, 16>(q, nq, b, stride, rows, n, d, scale, scores);
    default: return gather_dot_blocks<V, K, 0>(q, nq, b, stride, rows, n, d, scale, scores);
  }
}

// Registers gather_axpy keeps outputs in: half the register file, the rest holds V chunks and weights.
template <class V>
constexpr size_t axpy_regs() {
  return V::kLanes >= 16 ? 16 : 8;
}

// NH heads (NH <= axpy_regs / C, a compile-time count so that no FMA is spent on a missing head),
// each output row C registers long (d = C * kLanes), held in registers across all n rows: each V
// row is widened once per pass and y is read and written once.
template <class V, Dtype K, size_t C, size_t NH>
void axpy_in_registers(const float* p, const uint8_t* b, size_t stride, const int32_t* rows, size_t n, float* y) {
  using Reg = typename V::Reg;
  constexpr size_t L = V::kLanes, E = elem_bytes<K>(), d = C * L;
  Reg acc[NH][C];
  for (size_t j = 0; j < NH; ++j)
    for (size_t c = 0; c < C; ++c) acc[j][c] = V::loadu(y + j * d + c * L);
  for (size_t i = 0; i < n; ++i) {
    if (i + kPrefetchRows < n) prefetch_row(b + size_t(rows[i + kPrefetchRows]) * stride * E, d * E);
    const uint8_t* row = b + size_t(rows[i]) * stride * E;
    Reg w[NH];
    for (size_t j = 0; j < NH; ++j) w[j] = V::set1(p[j * n + i]);
    for (size_t c = 0; c < C; ++c) {
      const Reg v = V::template widen<K>(row + c * L * E);
      for (size_t j = 0; j < NH; ++j) acc[j][c] = V::fma(w[j], v, acc[j][c]);
    }
  }
  for (size_t j = 0; j < NH; ++j)
    for (size_t c = 0; c < C; ++c) V::storeu(y + j * d + c * L, acc[j][c]);
}

// axpy_in_registers for nh (1..NH) heads.
template <class V, Dtype K, size_t C, size_t NH>
void axpy_heads(size_t nh, const float* p, const uint8_t* b, size_t stride, const int32_t* rows, size_t n, float* y) {
  if (nh == NH) return axpy_in_registers<V, K, C, NH>(p, b, stride, rows, n, y);
  if constexpr (NH > 1) axpy_heads<V, K, C, NH - 1>(nh, p, b, stride, rows, n, y);
}

// Returns false (nothing done) unless d is 1 to 8 whole registers.
template <class V, Dtype K>
bool axpy_by_register_count(const float* p, size_t nq, const uint8_t* b, size_t stride, const int32_t* rows, size_t n,
                            size_t d, float* y) {
  constexpr size_t L = V::kLanes, R = axpy_regs<V>();
  const size_t C = d / L;
  if (d % L != 0 || C < 1 || C > 8) return false;
  const size_t heads = R / C;
  for (size_t j0 = 0; j0 < nq; j0 += heads) {
    const size_t nh = nq - j0 < heads ? nq - j0 : heads;
    const float* pj = p + j0 * n;
    float* yj = y + j0 * d;
    switch (C) {
      case 1: axpy_heads<V, K, 1, R / 1>(nh, pj, b, stride, rows, n, yj); break;
      case 2: axpy_heads<V, K, 2, R / 2>(nh, pj, b, stride, rows, n, yj); break;
      case 3: axpy_heads<V, K, 3, R / 3>(nh, pj, b, stride, rows, n, yj); break;
      case 4: axpy_heads<V, K, 4, R / 4>(nh, pj, b, stride, rows, n, yj); break;
      case 5: axpy_heads<V, K, 5, R / 5>(nh, pj, b, stride, rows, n, yj); break;
      case 6: axpy_heads<V, K, 6, R / 6>(nh, pj, b, stride, rows, n, yj); break;
      case 7: axpy_heads<V, K, 7, R / 7>(nh, pj, b, stride, rows, n, yj); break;
      default: axpy_heads<V, K, 8, R / 8>(nh, pj, b, stride, rows, n, yj); break;
    }
  }
  return true;
}

template <class V, Dtype K>
void gather_axpy_t(const float* p, size_t nq, const void* base, size_t stride, const int32_t* rows, size_t n, size_t d,
                   float* y) {
  using Reg = typename V::Reg;
  constexpr size_t L = V::kLanes, E = elem_bytes<K>();
  const uint8_t* b = static_cast<const uint8_t*>(base);
  if (axpy_by_register_count<V, K>(p, nq, b, stride, rows, n, d, y)) return;
  // Other head sizes: y is read and written per row.
  const size_t full = d - d % L;
  for (size_t i = 0; i < n; ++i) {
    if (i + kPrefetchRows < n) prefetch_row(b + size_t(rows[i + kPrefetchRows]) * stride * E, d * E);
    const uint8_t* row = b + size_t(rows[i]) * stride * E;
    for (size_t e = 0; e < full; e += L) {
      const Reg v = V::template widen<K>(row + e * E);
      for (size_t j = 0; j < nq; ++j) {
        float* yj = y + j * d + e;
        V::storeu(yj, V::fma(V::set1(p[j * n + i]), v, V::loadu(yj)));
      }
    }
    if (full < d) {  // leftover dims: scalar
      alignas(64) float tail[V::kLanes];
      V::storeu(tail, widen_tail<V, K>(row + full * E, d - full));
      for (size_t j = 0; j < nq; ++j)
        for (size_t e = full; e < d; ++e) y[j * d + e] += p[j * n + i] * tail[e - full];
    }
  }
}

template <class V>
void gather_dot(const float* q, size_t nq, const void* base, KvDtype kv, size_t stride, const int32_t* rows, size_t n,
                size_t d, float scale, float* scores) {
  if (kv == KvDtype::F16) gather_dot_t<V, Dtype::F16>(q, nq, base, stride, rows, n, d, scale, scores);
  else gather_dot_t<V, Dtype::F32>(q, nq, base, stride, rows, n, d, scale, scores);
}

template <class V>
void gather_axpy(const float* p, size_t nq, const void* base, KvDtype kv, size_t stride, const int32_t* rows, size_t n,
                 size_t d, float* y) {
  if (kv == KvDtype::F16) gather_axpy_t<V, Dtype::F16>(p, nq, base, stride, rows, n, d, y);
  else gather_axpy_t<V, Dtype::F32>(p, nq, base, stride, rows, n, d, y);
}

// exp(x) for x in [-87, 0] (the softmax's arguments after subtracting the max; lower x are taken as
// -87): x = n ln2 + r with |r| <= ln2 / 2, exp(r) by a degree-7 polynomial (Cephes' expf
// coefficients, r^2 times a quintic plus 1 + r), times 2^n. ln2 is split in two so n ln2 is exact.
template <class V>
typename V::Reg exp_nonpositive(typename V::Reg x) {
  using Reg = typename V::Reg;
  x = V::max(V::set1(-87.0f), x);  // in this order a NaN stays NaN
  const Reg n = V::round(V::mul(x, V::set1(1.44269504088896341f)));
  Reg r = V::fma(n, V::set1(-0.693359375f), x);
  r = V::fma(n, V::set1(2.12194440e-4f), r);
  Reg p = V::set1(1.9875691500e-4f);
  p = V::fma(p, r, V::set1(1.3981999507e-3f));
  p = V::fma(p, r, V::set1(8.3334519073e-3f));
  p = V::fma(p, r, V::set1(4.1665795894e-2f));
  p = V::fma(p, r, V::set1(1.6666665459e-1f));
  p = V::fma(p, r, V::set1(5.0000001201e-1f));
  p = V::fma(p, V::mul(r, r), V::add(r, V::set1(1.0f)));
  return V::ldexp(p, n);
}

// The leftover k (< kLanes) scores go through a padded buffer: -inf pads give no max and exp 0.
template <class V>
void softmax(float* s, size_t n) {
  using Reg = typename V::Reg;
  constexpr size_t L = V::kLanes;
  const size_t full = n - n % L, k = n - full;
  alignas(64) float tail[L];
  for (size_t i = 0; i < L; ++i) tail[i] = i < k ? s[full + i] : -__builtin_inff();
  Reg mx = V::loadu(tail);
  for (size_t i = 0; i < full; i += L) mx = V::max(mx, V::loadu(s + i));
  const Reg m = V::set1(V::hmax(mx));
  Reg sum = V::zero();
  for (size_t i = 0; i < full; i += L) {
    const Reg e = exp_nonpositive<V>(V::sub(V::loadu(s + i), m));
    V::storeu(s + i, e);
    sum = V::add(sum, e);
  }
  // Pads: exp(-inf) would be exp(-87) after the clamp, so they are zeroed before the sum.
  const Reg et = exp_nonpositive<V>(V::sub(V::loadu(tail), m));
  V::storeu(tail, et);
  for (size_t i = k; i < L; ++i) tail[i] = 0.0f;
  sum = V::add(sum, V::loadu(tail));
  const float inv = 1.0f / V::hsum(sum);
  const Reg vinv = V::set1(inv);
  for (size_t i = 0; i < full; i += L) V::storeu(s + i, V::mul(V::loadu(s + i), vinv));
  for (size_t i = 0; i < k; ++i) s[full + i] = tail[i] * inv;
}

// gate[i] = silu(gate[i]) * up[i] with silu(g) = g / (1 + exp(-g)). exp(-|g|) stays in
// exp_nonpositive's range: silu(g) = g / (1 + e) for g >= 0 and g e / (1 + e) below 0, e = exp(-|g|).
// The leftover (< kLanes) values go through a zero-padded buffer, so every value takes the same path.
template <class V>
void silu_mul(float* gate, const float* up, size_t n) {
  using Reg = typename V::Reg;
  constexpr size_t L = V::kLanes;
  const Reg zero = V::zero(), one = V::set1(1.0f);
  const auto one_vector = [&](const Reg g, const Reg u) {
    const Reg e = exp_nonpositive<V>(V::sub(zero, V::max(g, V::sub(zero, g))));
    return V::mul(V::div(V::select_negative(g, V::mul(g, e), g), V::add(one, e)), u);
  };
  size_t i = 0;
  for (; i + L <= n; i += L) V::storeu(gate + i, one_vector(V::loadu(gate + i), V::loadu(up + i)));
  if (i == n) return;
  alignas(64) float g[L] = {}, u[L] = {};
  std::memcpy(g, gate + i, (n - i) * 4);
  std::memcpy(u, up + i, (n - i) * 4);
  V::storeu(g, one_vector(V::loadu(g), V::loadu(u)));
  std::memcpy(gate + i, g, (n - i) * 4);
}

template <class V>
void store_kv(const float* src, void* dst, KvDtype kv, size_t n) {
  if (kv == KvDtype::F32) {
    std::memcpy(dst, src, n * 4);
    return;
  }
  uint16_t* out = static_cast<uint16_t*>(dst);
  size_t i = 0;
  for (; i + V::kLanes <= n; i += V::kLanes) V::store_half(out + i, V::loadu(src + i));
  for (; i < n; ++i) out[i] = float_to_half(src[i]);
}

// quantize_activations_q8 (quant.h) in registers, to the same bytes: the block's largest magnitude
// (a max is exact in any order; |x| first, as vmaxps keeps its second operand where the first is
// NaN, so a NaN is skipped as the portable comparison skips it), the same scalar d and 1 / d, then
// x * (1 / d) rounded to nearest even. The portable loop ran serially before each decode matmul,
// 3% of a Q8_0 step with the other thread waiting.
template <class V>
void quantize_q8(const float* x, size_t tokens, size_t cols, int8_t* q, float* d, int32_t* s) {
  using Reg = typename V::Reg;
  constexpr size_t L = V::kLanes, kBlock = 32, R = kBlock / L;
  const Reg zero = V::zero();
  for (size_t b = 0; b < tokens * cols / kBlock; ++b) {
    Reg v[R], m = zero;
    for (size_t k = 0; k < R; ++k) {
      v[k] = V::loadu(x + kBlock * b + k * L);
      m = V::max(V::max(v[k], V::sub(zero, v[k])), m);
    }
    const float db = V::hmax(m) / 127.0f, inv = db > 0 ? 1.0f / db : 0.0f;
    d[b] = db;
    alignas(64) float r[kBlock];
    for (size_t k = 0; k < R; ++k) V::storeu(r + k * L, V::round(V::mul(v[k], V::set1(inv))));
    int8_t* qb = q + kBlock * b;
    int32_t sum = 0;
    for (size_t j = 0; j < kBlock; ++j) {
      qb[j] = int8_t(int32_t(r[j]));
      sum += qb[j];
    }
    s[b] = sum;
  }
}

template <class V>
constexpr CpuKernels kernel_set(const char* name) {
  return {name, matmul<V>, dequantize_rows<V>, gather_dot<V>, gather_axpy<V>, softmax<V>, store_kv<V>, silu_mul<V>, quantize_q8<V>};
}

}  // namespace simd
}  // namespace mv
