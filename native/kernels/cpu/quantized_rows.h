// A matmul input's rows quantized for the int8 path (MatmulInput's q8 fields) by a kernel set's
// quantize_q8, in buffers kept from call to call: how the forward pass and the kernel probe give
// int8-path weights their input.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "kernels/cpu/kernels.h"

namespace mv {

class QuantizedRows {
 public:
  // Sizes the buffers for x (tokens, cols), cols a multiple of 32, and points in's q8 fields at them.
  void prepare(size_t tokens, size_t cols, MatmulInput* in);
  // Quantizes rows [t0, t1) of x (the row length prepare() took); threads may take disjoint rows.
  void quantize(const CpuKernels& k, const float* x, size_t t0, size_t t1);

 private:
  size_t cols_ = 0;
  std::vector<int8_t> q_;
  std::vector<float> d_;
  std::vector<int32_t> s_;
};

}  // namespace mv
