// Launchers of the CUDA kernels the CUDA backend (engine/cuda_backend.cu) strings into one forward
// pass. Every launcher enqueues on the given stream and returns at once; activations are f32,
// weight matrices stay in the checkpoint's dtype (f32, f16 or bf16) and are widened in registers.
#pragma once
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

namespace mv::cuda {

enum class WeightType { F32, F16, BF16 };

// A row-major (rows = outputs, cols = inputs) matrix in device memory, as the checkpoint stores it.
struct DeviceMatrix {
  const void* data = nullptr;
  WeightType type = WeightType::F32;
  int rows = 0;
  int cols = 0;
};

// Rows up to which a step's matmuls stream each weight once through the GEMV kernel (decode of up
// to 16 sequences stays bound by weight traffic, where a 64-row tensor-core tile would leave most
// of the device idle on a 1536-wide layer); more rows go through the tensor-core GEMM (16-bit
// weights) or repeat the GEMV per group of rows (f32).
constexpr int kGemvMaxTokens = 16;

// Bytes of `scratch16` that matmul needs for `tokens` rows of `cols` inputs.
size_t matmul_scratch_bytes(int tokens, int cols);

// y[t, o] = sum_k x[t, k] * W[o, k] + bias[o] (bias may be null); with accumulate, y += instead.
void matmul(const float* x, int tokens, const DeviceMatrix& w, const float* bias, float* y, bool accumulate,
            void* scratch16, cudaStream_t stream);

// x[t, :] = embed[tokens[t], :] widened to f32.
void embed_rows(const DeviceMatrix& embed, const int32_t* tokens, int count, float* x, cudaStream_t stream);

// y[r, :] = x[rows ? rows[r] : r, :] * rsqrt(mean(x^2) + eps) * weight.
void rms_norm(const float* x, const int32_t* rows, int count, int dim, const float* weight, float eps, float* y,
              cudaStream_t stream);

// Rotate-half RoPE in place over the first `heads` heads of each token's row (row stride
// `stride` floats), at the token's own position id; inv_freq has head_dim / 2 entries.
void rope(float* x, int tokens, int stride, int heads, int head_dim, const int32_t* positions,
          const double* inv_freq, cudaStream_t stream);

// K and V of token t (kv_dim floats each, at k_src / v_src + t * stride) into slot slots[t].
void store_kv(const float* k_src, const float* v_src, int stride, int tokens, const int32_t* slots, int kv_dim,
              float* k_cache, float* v_cache, cudaStream_t stream);

// out[t, i] = silu(gate_up[t, i]) * gate_up[t, inter + i].
void silu_mul(const float* gate_up, int tokens, int inter, float* out, cudaStream_t stream);

// Where each query token reads its context: slot_list[begin[t] .. begin[t] + context[t]).
struct AttentionBatch {
  int tokens = 0;
  const int32_t* begin = nullptr;    // (tokens)
  const int32_t* context = nullptr;  // (tokens)
  const int32_t* slot_list = nullptr;
  int max_context = 0;
};

// Number of context chunks attention splits each query into (flash-decoding): enough blocks to
// fill the device at small batch, one chunk when the batch alone fills it.
int attention_chunks(int tokens, int heads, int max_context, int multiprocessors);
size_t attention_scratch_floats(int tokens, int heads, int head_dim, int chunks);

// out[t, h*d ..] = softmax(q . K[slots] * scale) V[slots] over the token's context, in chunks,
// then one combine pass. q rows have stride q_stride; K/V cache rows are kv_dim floats per slot.
void attention(const float* q, int q_stride, const float* k_cache, const float* v_cache, const AttentionBatch& b,
               int heads, int kv_heads, int head_dim, int chunks, float* scratch, float* out, cudaStream_t stream);

}  // namespace mv::cuda
