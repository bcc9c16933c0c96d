// Addon functions that reach single kernels with no engine: tests compare every kernel set with a
// TypeScript reference on random blocks, and the bench measures memory bandwidth.
#pragma once
#include <napi.h>

namespace mv {

// kernelSets(): the kernel set names this CPU runs, portable first.
Napi::Value KernelSets(const Napi::CallbackInfo& info);
// dequantizeRows(kernels, dtype, bytes, rows, cols): Float32Array (rows * cols).
Napi::Value DequantizeRows(const Napi::CallbackInfo& info);
// matmul(kernels, dtype, bytes, rows, cols, x, tokens): Float32Array (tokens * rows), y = x W^T.
Napi::Value Matmul(const Napi::CallbackInfo& info);
// attention(kernels, kvDtype, q, nq, d, keys, values, stride, rows, scale): Float32Array (nq * d), the
// attention of nq query heads over the K and V rows gathered by slot (kernels/cpu/attention.h).
Napi::Value Attention(const Napi::CallbackInfo& info);
// siluMul(kernels, gate, up): silu(gate) * up by one kernel set (Float32Arrays of one length).
Napi::Value SiluMul(const Napi::CallbackInfo& info);
// memoryBandwidth(megabytes, threads?): {copy, triad} in bytes per second, best of a few passes on
// `threads` threads (default: all cores).
Napi::Value MemoryBandwidth(const Napi::CallbackInfo& info);

}  // namespace mv
