// One query token's attention for the query heads that share one KV head: the unit of work the
// forward pass hands to a thread, and what the kernel probe runs for the tests.
#pragma once
#include <cstddef>
#include <cstdint>

#include "kernels/cpu/kernels.h"

namespace mv {

// out (nq, d) = softmax(scale * q K^T) V over the n rows gathered by slot: row i of K (and V) is
// k_base + rows[i] * stride elements of the KV dtype. q: (nq, d); scores: scratch of nq * n floats.
// Rows may come in any order and repeat; n >= 1.
void attend(const CpuKernels& k, const float* q, size_t nq, const void* k_base, const void* v_base, KvDtype kv,
            size_t stride, const int32_t* rows, size_t n, size_t d, float scale, float* scores, float* out);

}  // namespace mv
