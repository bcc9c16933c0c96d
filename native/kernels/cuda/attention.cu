// Attention of each new token over its own sequence's slot list (KvPool::flatten order), split
// into chunks of the context like flash-decoding: one block per (chunk, head, token) keeps a
// running max and sum over tiles of slots (online softmax), and a second pass combines the chunks.
// A short context or a wide batch runs as one chunk; a long context at small batch spreads over
// the device instead of one block per head.
#include <algorithm>
#include <cmath>

#include "kernels/cuda/kernels.h"

namespace mv::cuda {
namespace {

constexpr int kThreads = 128, kWarps = kThreads / 32, kTile = 64, kMaxHeadDim = 2 * kThreads;

// Scratch per (token, head, chunk): head_dim unnormalised sums, then the chunk's max and sum.
__global__ void __launch_bounds__(kThreads) chunk_kernel(const float* __restrict__ q, int q_stride,
                                                         const float* __restrict__ k_cache,
                                                         const float* __restrict__ v_cache,
                                                         const int32_t* __restrict__ begin,
                                                         const int32_t* __restrict__ context,
                                                         const int32_t* __restrict__ slot_list, int heads, int group,
                                                         int head_dim, int kv_dim, int chunk_len, float scale,
                                                         float* __restrict__ part) {
  const int c = blockIdx.x, h = blockIdx.y, t = blockIdx.z, tid = threadIdx.x;
  const int warp = tid / 32, lane = tid % 32;
  const int n = context[t], lo = c * chunk_len, hi = min(n, lo + chunk_len);
  const int kv_offset = (h / group) * head_dim;
  const int32_t* list = slot_list + begin[t];
  __shared__ float qs[kMaxHeadDim];
  __shared__ float p[kTile];
  __shared__ int32_t slots[kTile];
  for (int j = tid; j < head_dim; j += kThreads) qs[j] = q[size_t(t) * q_stride + h * head_dim + j];
  float acc0 = 0.0f, acc1 = 0.0f, m = -INFINITY, l = 0.0f;
  for (int s0 = lo; s0 < hi; s0 += kTile) {
    const int count = min(kTile, hi - s0);
    __syncthreads();  // qs written; the previous tile's p and slots fully read
    if (tid < count) slots[tid] = list[s0 + tid];
    __syncthreads();
    for (int i = warp; i < count; i += kWarps) {
      const float* kr = k_cache + size_t(slots[i]) * kv_dim + kv_offset;
      float s = 0.0f;
      for (int j = lane; j < head_dim; j += 32) s += qs[j] * kr[j];
      for (int off = 16; off > 0; off /= 2) s += __shfl_xor_sync(0xffffffffu, s, off);
      if (lane == 0) p[i] = s * scale;
    }
    __syncthreads();
    float tile_max = -INFINITY;
    for (int i = 0; i < count; ++i) tile_max = fmaxf(tile_max, p[i]);
    const float m_new = fmaxf(m, tile_max);
    const float alpha = expf(m - m_new);  // 0 on the first tile (m = -inf)
    __syncthreads();  // every thread has its max before p is overwritten
    if (tid < count) p[tid] = expf(p[tid] - m_new);
    __syncthreads();
    float sum = 0.0f;
    acc0 *= alpha;
    acc1 *= alpha;
    for (int i = 0; i < count; ++i) {
      const float pi = p[i];
      const float* vr = v_cache + size_t(slots[i]) * kv_dim + kv_offset;
      sum += pi;
      if (tid < head_dim) acc0 += pi * vr[tid];
      if (tid + kThreads < head_dim) acc1 += pi * vr[tid + kThreads];
    }
    l = l * alpha + sum;
    m = m_new;
  }
  float* out = part + ((size_t(t) * heads + h) * gridDim.x + c) * (head_dim + 2);
  if (tid < head_dim) out[tid] = acc0;
  if (tid + kThreads < head_dim) out[tid + kThreads] = acc1;
  if (tid == 0) {
    out[head_dim] = m;
    out[head_dim + 1] = l;
  }
}

__global__ void combine_kernel(const float* __restrict__ part, int heads, int head_dim, int chunks,
                               float* __restrict__ out) {
  const int h = blockIdx.x, t = blockIdx.y;
  const float* base = part + (size_t(t) * heads + h) * chunks * (head_dim + 2);
  float mx = -INFINITY;
  for (int c = 0; c < chunks; ++c) {
    const float* pc = base + size_t(c) * (head_dim + 2);
    if (pc[head_dim + 1] > 0.0f) mx = fmaxf(mx, pc[head_dim]);
  }
  float den = 0.0f;
  for (int c = 0; c < chunks; ++c) {
    const float* pc = base + size_t(c) * (head_dim + 2);
    if (pc[head_dim + 1] > 0.0f) den += expf(pc[head_dim] - mx) * pc[head_dim + 1];
  }
  float* o = out + (size_t(t) * heads + h) * head_dim;
  for (int j = threadIdx.x; j < head_dim; j += blockDim.x) {
    float num = 0.0f;
    for (int c = 0; c < chunks; ++c) {
      const float* pc = base + size_t(c) * (head_dim + 2);
      if (pc[head_dim + 1] > 0.0f) num += expf(pc[head_dim] - mx) * pc[j];
    }
    o[j] = num / den;
  }
}

}  // namespace

int attention_chunks(int tokens, int heads, int max_context, int multiprocessors) {
  const int want = (2 * multiprocessors + tokens * heads - 1) / (tokens * heads);
  const int most = (max_context + kTile - 1) / kTile;
  return std::max(1, std::min(want, most));
}

size_t attention_scratch_floats(int tokens, int heads, int head_dim, int chunks) {
  return size_t(tokens) * heads * chunks * (head_dim + 2);
}

void attention(const float* q, int q_stride, const float* k_cache, const float* v_cache, const AttentionBatch& b,
               int heads, int kv_heads, int head_dim, int chunks, float* scratch, float* out, cudaStream_t s) {
  if (b.tokens <= 0) return;
  const int chunk_len = (b.max_context + chunks - 1) / chunks;
  const float scale = 1.0f / std::sqrt(float(head_dim));
  chunk_kernel<<<dim3(chunks, heads, b.tokens), kThreads, 0, s>>>(q, q_stride, k_cache, v_cache, b.begin, b.context,
                                                                  b.slot_list, heads, heads / kv_heads, head_dim,
                                                                  kv_heads * head_dim, chunk_len, scale, scratch);
  combine_kernel<<<dim3(heads, b.tokens), 128, 0, s>>>(scratch, heads, head_dim, chunks, out);
}

}  // namespace mv::cuda
