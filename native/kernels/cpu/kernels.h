// The hot CPU loops behind one small table, so the AVX-512, AVX2/FMA and portable sets are chosen at
// run time (dispatch.cpp) and tests can compare them. Everything else in the forward pass is cheap.
#pragma once
#include <cstddef>
#include <cstdint>

#include "model/model_spec.h"

namespace mv {

// A weight matrix as stored: `rows` rows of `cols` weights in `dtype`, row r at data + r * row_bytes
// (row-major [out, in], as a Hugging Face Linear or a GGUF tensor stores it).
struct WeightMatrix {
  const uint8_t* data = nullptr;
  Dtype dtype = Dtype::F32;
  size_t rows = 0;
  size_t cols = 0;
  size_t row_bytes = 0;
};

// Q8_0, Q4_0, Q4_K and Q6_K weights (int8_path) take the int8 path for any number of tokens: the activations
// are quantized to Q8_0 blocks of 32 once per matmul (quantize_activations_q8, MatmulInput) and each
// block's integer dot product is scaled by the two block scales, as llama.cpp does (its Q4_K kernels
// use 256-value activation blocks; ours keep Q8_0's 32, which line up with Q4_K's sub-blocks). So a
// token's result does not depend on how many tokens share its step (a prompt's logits equal the same
// tokens decoded one at a time). Every kernel set computes the same integers and the same float
// steps, over the weights' 32-weight blocks i in order (a Q4_K sub-block is one):
//   acc = fma(float(sum of q xq over block i), d_w[i] * d_x[i], acc)
//   Q4_K only: acc = fma(float(sum of xq over block i), m_w[i] * d_x[i], acc)
//   y = acc + b
// with q the stored integer (Q8_0: the int8; Q4_0: nibble - 8; Q4_K: the nibble; Q6_K: the 6-bit
// value - 32), d_w the block's scale (Q4_K: d * sc, exact in f32) and m_w = -dmin * m (Q4_K's min,
// exact in f32). Q6_K has an int8 scale per 16 weights: its block sum is s_lo * (sum over the first
// 16) + s_hi * (sum over the last 16), still one exact integer, and d_w = d.
inline bool int8_path(Dtype d) { return d == Dtype::Q8_0 || d == Dtype::Q4_0 || d == Dtype::Q4_K || d == Dtype::Q6_K; }

// The rows a matmul multiplies: x (tokens, cols) in f32 and, where int8-path weights will read them, the same
// rows already quantized by the caller (QuantizedRows, with the set's quantize_q8), once for every
// thread's share of the output rows. An int8-path matmul without them throws EngineError.
struct MatmulInput {
  const float* x = nullptr;
  size_t tokens = 0;
  const int8_t* q8 = nullptr;        // (tokens, cols)
  const float* q8_scale = nullptr;   // (tokens, cols / 32)
  const int32_t* q8_sum = nullptr;   // (tokens, cols / 32)
};

struct CpuKernels {
  const char* name;
  // y[t * ldy + o] = dot(x[t * in ..], row o of w) + (b ? b[o] : 0) for t < tokens, o in [o0, o1).
  // x: (tokens, in = w.cols) of `in`. f16/bf16 rows are widened in registers; the block formats are
  // multiplied as int8 by int8 (above).
  void (*matmul)(const MatmulInput& in, const WeightMatrix& w, const float* b, float* y, size_t ldy, size_t o0,
                 size_t o1);
  // out[r * w.cols ..] = rows [r0, r0 + n) of w as f32 (embedding lookups, tests).
  void (*dequantize_rows)(const WeightMatrix& w, size_t r0, size_t n, float* out);
  // Attention for the nq query heads that share one KV head, over rows gathered by slot: row i is
  // base + rows[i] * stride elements (kv-dtype), d long. q: (nq, d).
  // scores[j * n + i] = scale * dot(q_j, row i): each row is read once for all nq heads.
  void (*gather_dot)(const float* q, size_t nq, const void* base, KvDtype kv, size_t stride, const int32_t* rows,
                     size_t n, size_t d, float scale, float* scores);
  // y[j * d ..][0..d) += sum over i < n of p[j * n + i] * row i, for j < nq.
  void (*gather_axpy)(const float* p, size_t nq, const void* base, KvDtype kv, size_t stride, const int32_t* rows,
                      size_t n, size_t d, float* y);
  // s[0..n) = exp(s - max s) / sum, in place, n >= 1. The SIMD sets use a polynomial exp (max relative
  // error in docs/kernels.md); arguments below -87 give exp(-87), negligible next to the max's 1.
  void (*softmax)(float* s, size_t n);
  // dst[0..n) = src in the KV dtype (f16: rounded to nearest even).
  void (*store_kv)(const float* src, void* dst, KvDtype kv, size_t n);
  // gate[0..n) = silu(gate) * up, silu(g) = g / (1 + exp(-g)) (the SwiGLU MLP's product). The SIMD sets
  // use the softmax's polynomial exp.
  void (*silu_mul)(float* gate, const float* up, size_t n);
  // quantize_activations_q8 (quant.h), the same bytes from every set: the caller's quantization of
  // MatmulInput's rows for the int8 path.
  void (*quantize_q8)(const float* x, size_t tokens, size_t cols, int8_t* q, float* d, int32_t* s);
};

extern const CpuKernels kPortableKernels;
extern const CpuKernels kAvx2Kernels;    // only call when the CPU has AVX2, FMA and F16C
extern const CpuKernels kAvx512Kernels;  // only call when the CPU has AVX-512 F/BW/VL

// The int8 path with AVX-512 VNNI (avx512_vnni.cpp); only call when cpu_has_avx512_vnni().
void matmul_int8_vnni(const MatmulInput& in, const WeightMatrix& w, const float* b, float* y, size_t ldy, size_t o0,
                         size_t o1);

enum class KernelChoice { Auto, Portable, Avx2, Avx512 };

// Auto: the widest set the CPU runs. A forced set the CPU lacks throws EngineError.
const CpuKernels& select_kernels(KernelChoice choice);
bool cpu_has_avx2_fma();
bool cpu_has_f16c();
bool cpu_has_avx512();
bool cpu_has_avx512_vnni();

}  // namespace mv
