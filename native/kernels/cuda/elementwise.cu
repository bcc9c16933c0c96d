// The per-token kernels between the matmuls: embedding gather, RMSNorm, RoPE, KV store, SiLU*mul.
#include "kernels/cuda/convert.cuh"
#include "kernels/cuda/kernels.h"

namespace mv::cuda {
namespace {

template <typename W>
__global__ void embed_kernel(const W* __restrict__ table, const int32_t* __restrict__ tokens, int dim,
                             float* __restrict__ x) {
  const W* src = table + size_t(tokens[blockIdx.x]) * dim;
  float* dst = x + size_t(blockIdx.x) * dim;
  for (int i = threadIdx.x; i < dim; i += blockDim.x) dst[i] = widen(src[i]);
}

constexpr int kNormThreads = 256;

__global__ void __launch_bounds__(kNormThreads) rms_norm_kernel(const float* __restrict__ x,
                                                                const int32_t* __restrict__ rows, int dim,
                                                                const float* __restrict__ weight, float eps,
                                                                float* __restrict__ y) {
  const float* xr = x + size_t(rows ? rows[blockIdx.x] : blockIdx.x) * dim;
  float ss = 0.0f;
  for (int i = threadIdx.x; i < dim; i += blockDim.x) ss += xr[i] * xr[i];
  __shared__ float partial[kNormThreads / 32];
  for (int off = 16; off > 0; off /= 2) ss += __shfl_xor_sync(0xffffffffu, ss, off);
  if (threadIdx.x % 32 == 0) partial[threadIdx.x / 32] = ss;
  __syncthreads();
  float total = 0.0f;
  for (int i = 0; i < kNormThreads / 32; ++i) total += partial[i];
  const float scale = rsqrtf(total / dim + eps);
  float* yr = y + size_t(blockIdx.x) * dim;
  for (int i = threadIdx.x; i < dim; i += blockDim.x) yr[i] = xr[i] * scale * weight[i];
}

// One block per token; the angle in double, as the CPU backend computes it.
__global__ void rope_kernel(float* __restrict__ x, int stride, int heads, int head_dim,
                            const int32_t* __restrict__ positions, const double* __restrict__ inv_freq) {
  const int half = head_dim / 2;
  float* row = x + size_t(blockIdx.x) * stride;
  const double pos = positions[blockIdx.x];
  for (int i = threadIdx.x; i < heads * half; i += blockDim.x) {
    const int h = i / half, j = i % half;
    double s, c;
    sincos(pos * inv_freq[j], &s, &c);
    float* v = row + h * head_dim;
    const float a = v[j], b = v[j + half];
    v[j] = a * float(c) - b * float(s);
    v[j + half] = b * float(c) + a * float(s);
  }
}

__global__ void store_kv_kernel(const float* __restrict__ k_src, const float* __restrict__ v_src, int stride,
                                const int32_t* __restrict__ slots, int kv_dim, float* __restrict__ k_cache,
                                float* __restrict__ v_cache) {
  const size_t src = size_t(blockIdx.x) * stride, dst = size_t(slots[blockIdx.x]) * kv_dim;
  for (int i = threadIdx.x; i < kv_dim; i += blockDim.x) {
    k_cache[dst + i] = k_src[src + i];
    v_cache[dst + i] = v_src[src + i];
  }
}

__global__ void silu_mul_kernel(const float* __restrict__ gate_up, int inter, float* __restrict__ out) {
  const float* g = gate_up + size_t(blockIdx.x) * 2 * inter;
  float* o = out + size_t(blockIdx.x) * inter;
  for (int i = threadIdx.x; i < inter; i += blockDim.x) o[i] = g[i] / (1.0f + __expf(-g[i])) * g[inter + i];
}

}  // namespace

void embed_rows(const DeviceMatrix& e, const int32_t* tokens, int count, float* x, cudaStream_t s) {
  if (count <= 0) return;
  if (e.type == WeightType::F32)
    embed_kernel<<<count, 256, 0, s>>>(static_cast<const float*>(e.data), tokens, e.cols, x);
  else if (e.type == WeightType::F16)
    embed_kernel<<<count, 256, 0, s>>>(static_cast<const __half*>(e.data), tokens, e.cols, x);
  else
    embed_kernel<<<count, 256, 0, s>>>(static_cast<const __nv_bfloat16*>(e.data), tokens, e.cols, x);
}

void rms_norm(const float* x, const int32_t* rows, int count, int dim, const float* weight, float eps, float* y,
              cudaStream_t s) {
  if (count > 0) rms_norm_kernel<<<count, kNormThreads, 0, s>>>(x, rows, dim, weight, eps, y);
}

void rope(float* x, int tokens, int stride, int heads, int head_dim, const int32_t* positions, const double* inv_freq,
          cudaStream_t s) {
  if (tokens > 0) rope_kernel<<<tokens, 256, 0, s>>>(x, stride, heads, head_dim, positions, inv_freq);
}

void store_kv(const float* k_src, const float* v_src, int stride, int tokens, const int32_t* slots, int kv_dim,
              float* k_cache, float* v_cache, cudaStream_t s) {
  if (tokens > 0) store_kv_kernel<<<tokens, 256, 0, s>>>(k_src, v_src, stride, slots, kv_dim, k_cache, v_cache);
}

void silu_mul(const float* gate_up, int tokens, int inter, float* out, cudaStream_t s) {
  if (tokens > 0) silu_mul_kernel<<<tokens, 256, 0, s>>>(gate_up, inter, out);
}

}  // namespace mv::cuda
