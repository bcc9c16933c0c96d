// Finds NaN and ±Inf in a tensor's raw bytes at load, so a broken checkpoint is reported naming the
// file and tensor instead of poisoning every logit later. A value is non-finite exactly when its
// exponent bits are all ones, in f32, f16 and bf16 alike, so 16-bit data is checked without widening.
#pragma once
#include <cstddef>
#include <cstdint>

#include "model/model_spec.h"

namespace mv {

// Index of the first non-finite element of `count` elements of `dtype` at `data` (any alignment),
// or -1 when every element is finite.
int64_t first_non_finite(const uint8_t* data, size_t count, Dtype dtype);

}  // namespace mv
