// Widening of weights to f32 and rounding of activations to a 16-bit weight type, in registers.
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>

namespace mv::cuda {

__device__ __forceinline__ float widen(float v) { return v; }
__device__ __forceinline__ float widen(__half v) { return __half2float(v); }
__device__ __forceinline__ float widen(__nv_bfloat16 v) { return __bfloat162float(v); }

template <typename W>
__device__ __forceinline__ W narrow(float v);
template <>
__device__ __forceinline__ __half narrow<__half>(float v) { return __float2half_rn(v); }
template <>
__device__ __forceinline__ __nv_bfloat16 narrow<__nv_bfloat16>(float v) { return __float2bfloat16_rn(v); }

}  // namespace mv::cuda
