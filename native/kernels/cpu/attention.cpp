#include "kernels/cpu/attention.h"

#include <cstring>

namespace mv {

void attend(const CpuKernels& k, const float* q, size_t nq, const void* k_base, const void* v_base, KvDtype kv,
            size_t stride, const int32_t* rows, size_t n, size_t d, float scale, float* scores, float* out) {
  k.gather_dot(q, nq, k_base, kv, stride, rows, n, d, scale, scores);
  for (size_t j = 0; j < nq; ++j) k.softmax(scores + j * n, n);
  std::memset(out, 0, sizeof(float) * nq * d);
  k.gather_axpy(scores, nq, v_base, kv, stride, rows, n, d, out);
}

}  // namespace mv
