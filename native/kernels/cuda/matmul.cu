// Matmuls against checkpoint-dtype weights. Decode rows (<= kGemvMaxTokens) are bound by weight
// traffic: one warp streams one weight row with 16-byte loads and dots it with every token's
// activations at once, so each weight byte is read once per step whatever the row count. Larger
// steps (prefill, many sequences) are bound by arithmetic: a WMMA tensor-core GEMM over 16-bit
// weights, activations rounded to the weight's type, accumulating in f32.
#include <mma.h>

#include <algorithm>

#include "kernels/cuda/convert.cuh"
#include "kernels/cuda/kernels.h"

namespace mv::cuda {
namespace {

constexpr int kGemvWarps = 4;  // one output row per warp

// R tokens (compile time, so the accumulators stay in registers). `vec`: cols is a multiple of the
// 16-byte vector, so every row starts 16-byte aligned.
template <typename W, int R>
__global__ void __launch_bounds__(kGemvWarps * 32) gemv_kernel(const float* __restrict__ x, const W* __restrict__ w,
                                                                const float* __restrict__ bias, float* __restrict__ y,
                                                                int cols, int rows, bool accumulate, bool vec) {
  const int lane = threadIdx.x % 32;
  const int row = blockIdx.x * kGemvWarps + threadIdx.x / 32;
  if (row >= rows) return;
  const W* wr = w + size_t(row) * cols;
  float acc[R];
#pragma unroll
  for (int t = 0; t < R; ++t) acc[t] = 0.0f;
  if (vec) {
    constexpr int V = 16 / sizeof(W);
#pragma unroll 4
    for (int k = lane * V; k < cols; k += 32 * V) {
      const uint4 raw = __ldg(reinterpret_cast<const uint4*>(wr + k));
      const W* wv = reinterpret_cast<const W*>(&raw);
#pragma unroll
      for (int t = 0; t < R; ++t) {
        const float* xr = x + size_t(t) * cols + k;
#pragma unroll
        for (int j = 0; j < V; j += 4) {
          const float4 xv = __ldg(reinterpret_cast<const float4*>(xr + j));
          acc[t] += widen(wv[j]) * xv.x + widen(wv[j + 1]) * xv.y + widen(wv[j + 2]) * xv.z + widen(wv[j + 3]) * xv.w;
        }
      }
    }
  } else {
    for (int k = lane; k < cols; k += 32) {
      const float wk = widen(wr[k]);
#pragma unroll
      for (int t = 0; t < R; ++t) acc[t] += wk * x[size_t(t) * cols + k];
    }
  }
#pragma unroll
  for (int t = 0; t < R; ++t) {
    float v = acc[t];
    for (int off = 16; off > 0; off /= 2) v += __shfl_xor_sync(0xffffffffu, v, off);
    if (lane == 0) {
      if (bias) v += bias[row];
      float* out = y + size_t(t) * rows + row;
      *out = accumulate ? *out + v : v;
    }
  }
}

template <typename W>
void launch_gemv(const float* x, int tokens, const W* w, const float* bias, float* y, int cols, int rows,
                 bool accumulate, cudaStream_t s) {
  const bool vec = cols % (16 / sizeof(W)) == 0;
  const dim3 grid((rows + kGemvWarps - 1) / kGemvWarps), block(kGemvWarps * 32);
  switch (tokens) {
#define MV_GEMV_CASE(R) \
  case R: gemv_kernel<W, R><<<grid, block, 0, s>>>(x, w, bias, y, cols, rows, accumulate, vec); break;
    MV_GEMV_CASE(1) MV_GEMV_CASE(2) MV_GEMV_CASE(3) MV_GEMV_CASE(4)
    MV_GEMV_CASE(5) MV_GEMV_CASE(6) MV_GEMV_CASE(7) MV_GEMV_CASE(8)
    MV_GEMV_CASE(9) MV_GEMV_CASE(10) MV_GEMV_CASE(11) MV_GEMV_CASE(12)
    MV_GEMV_CASE(13) MV_GEMV_CASE(14) MV_GEMV_CASE(15) MV_GEMV_CASE(16)
#undef MV_GEMV_CASE
  }
}

template <typename W>
__global__ void narrow_kernel(const float* __restrict__ x, W* __restrict__ out, size_t n) {
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < n; i += size_t(gridDim.x) * blockDim.x)
    out[i] = narrow<W>(x[i]);
}

// Tensor-core GEMM tile: 64 tokens x 64 outputs per block of 4 warps (each 32 x 32 as 2 x 2
// fragments of 16 x 16), stepping 32 inputs at a time through shared memory.
constexpr int kTileM = 64, kTileN = 64, kTileK = 32, kPadK = kTileK + 8, kPadN = kTileN + 4;

// Copies a 64 x 32 tile of a row-major (count, cols) 16-bit matrix into shared memory, zero past
// the edges. `vec`: cols is a multiple of 8, so 16-byte loads stay inside a row and aligned.
template <typename W>
__device__ __forceinline__ void load_tile(W (*dst)[kPadK], const W* __restrict__ src, int first, int count, int k0,
                                          int cols, bool vec) {
  for (int i = threadIdx.x; i < kTileM * kTileK / 8; i += blockDim.x) {
    const int r = i / (kTileK / 8), c = (i % (kTileK / 8)) * 8;
    const int gr = first + r, gc = k0 + c;
    W* d = &dst[r][c];
    if (vec && gr < count && gc + 8 <= cols) {
      *reinterpret_cast<uint4*>(d) = __ldg(reinterpret_cast<const uint4*>(src + size_t(gr) * cols + gc));
    } else {
      for (int j = 0; j < 8; ++j)
        d[j] = (gr < count && gc + j < cols) ? src[size_t(gr) * cols + gc + j] : narrow<W>(0.0f);
    }
  }
}

template <typename W>
__global__ void __launch_bounds__(128) wmma_gemm_kernel(const W* __restrict__ a, const W* __restrict__ w,
                                                         const float* __restrict__ bias, float* __restrict__ y,
                                                         int tokens, int cols, int rows, bool accumulate) {
  using namespace nvcuda;
  __shared__ __align__(32) W as[kTileM][kPadK];
  __shared__ __align__(32) W bs[kTileN][kPadK];
  __shared__ __align__(32) float cs[kTileM][kPadN];
  const int warp = threadIdx.x / 32, wm = warp / 2, wn = warp % 2;
  const int m0 = blockIdx.y * kTileM, n0 = blockIdx.x * kTileN;
  const bool vec = cols % 8 == 0;
  wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc[2][2];
#pragma unroll
  for (int i = 0; i < 2; ++i)
#pragma unroll
    for (int j = 0; j < 2; ++j) wmma::fill_fragment(acc[i][j], 0.0f);
  for (int k0 = 0; k0 < cols; k0 += kTileK) {
    load_tile(as, a, m0, tokens, k0, cols, vec);
    load_tile(bs, w, n0, rows, k0, cols, vec);
    __syncthreads();
#pragma unroll
    for (int kk = 0; kk < kTileK; kk += 16) {
      wmma::fragment<wmma::matrix_a, 16, 16, 16, W, wmma::row_major> fa[2];
      wmma::fragment<wmma::matrix_b, 16, 16, 16, W, wmma::col_major> fb[2];
#pragma unroll
      for (int i = 0; i < 2; ++i) wmma::load_matrix_sync(fa[i], &as[wm * 32 + i * 16][kk], kPadK);
      // B(k, n) = W[n, k]: the weight tile read column-major.
#pragma unroll
      for (int j = 0; j < 2; ++j) wmma::load_matrix_sync(fb[j], &bs[wn * 32 + j * 16][kk], kPadK);
#pragma unroll
      for (int i = 0; i < 2; ++i)
#pragma unroll
        for (int j = 0; j < 2; ++j) wmma::mma_sync(acc[i][j], fa[i], fb[j], acc[i][j]);
    }
    __syncthreads();
  }
#pragma unroll
  for (int i = 0; i < 2; ++i)
#pragma unroll
    for (int j = 0; j < 2; ++j)
      wmma::store_matrix_sync(&cs[wm * 32 + i * 16][wn * 32 + j * 16], acc[i][j], kPadN, wmma::mem_row_major);
  __syncthreads();
  for (int i = threadIdx.x; i < kTileM * kTileN; i += blockDim.x) {
    const int r = i / kTileN, c = i % kTileN, gr = m0 + r, gc = n0 + c;
    if (gr >= tokens || gc >= rows) continue;
    float v = cs[r][c] + (bias ? bias[gc] : 0.0f);
    float* out = y + size_t(gr) * rows + gc;
    *out = accumulate ? *out + v : v;
  }
}

template <typename W>
void launch_tensor_core(const float* x, int tokens, const W* w, const float* bias, float* y, int cols, int rows,
                        bool accumulate, void* scratch16, cudaStream_t s) {
  W* a = static_cast<W*>(scratch16);
  const size_t n = size_t(tokens) * cols;
  narrow_kernel<W><<<int(std::min<size_t>((n + 255) / 256, 4096)), 256, 0, s>>>(x, a, n);
  const dim3 grid((rows + kTileN - 1) / kTileN, (tokens + kTileM - 1) / kTileM);
  wmma_gemm_kernel<W><<<grid, 128, 0, s>>>(a, w, bias, y, tokens, cols, rows, accumulate);
}

}  // namespace

size_t matmul_scratch_bytes(int tokens, int cols) { return size_t(tokens) * cols * 2; }

void matmul(const float* x, int tokens, const DeviceMatrix& w, const float* bias, float* y, bool accumulate,
            void* scratch16, cudaStream_t s) {
  if (tokens <= 0) return;
  if (w.type == WeightType::F32) {
    // f32 weights (small test models): the GEMV once per group of rows keeps f32 arithmetic exact.
    for (int t0 = 0; t0 < tokens; t0 += kGemvMaxTokens) {
      const int r = std::min(kGemvMaxTokens, tokens - t0);
      launch_gemv(x + size_t(t0) * w.cols, r, static_cast<const float*>(w.data), bias, y + size_t(t0) * w.rows,
                  w.cols, w.rows, accumulate, s);
    }
  } else if (w.type == WeightType::F16) {
    if (tokens <= kGemvMaxTokens)
      launch_gemv(x, tokens, static_cast<const __half*>(w.data), bias, y, w.cols, w.rows, accumulate, s);
    else
      launch_tensor_core(x, tokens, static_cast<const __half*>(w.data), bias, y, w.cols, w.rows, accumulate,
                         scratch16, s);
  } else {
    if (tokens <= kGemvMaxTokens)
      launch_gemv(x, tokens, static_cast<const __nv_bfloat16*>(w.data), bias, y, w.cols, w.rows, accumulate, s);
    else
      launch_tensor_core(x, tokens, static_cast<const __nv_bfloat16*>(w.data), bias, y, w.cols, w.rows, accumulate,
                         scratch16, s);
  }
}

}  // namespace mv::cuda
