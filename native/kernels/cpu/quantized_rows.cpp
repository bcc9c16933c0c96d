#include "kernels/cpu/quantized_rows.h"

namespace mv {

void QuantizedRows::prepare(size_t tokens, size_t cols, MatmulInput* in) {
  cols_ = cols;
  q_.resize(tokens * cols);
  d_.resize(tokens * cols / 32);
  s_.resize(tokens * cols / 32);
  in->q8 = q_.data();
  in->q8_scale = d_.data();
  in->q8_sum = s_.data();
}

void QuantizedRows::quantize(const CpuKernels& k, const float* x, size_t t0, size_t t1) {
  const size_t b0 = t0 * cols_ / 32;
  k.quantize_q8(x + t0 * cols_, t1 - t0, cols_, q_.data() + t0 * cols_, d_.data() + b0, s_.data() + b0);
}

}  // namespace mv
