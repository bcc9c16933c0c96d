#include "kernels/cpu/quant.h"

#include <cmath>
#include <cstring>
#include <vector>

#include "common/check.h"
#include "kernels/cpu/block_decode.h"

namespace mv {

size_t block_elems(Dtype d) {
  switch (d) {
    case Dtype::Q8_0:
    case Dtype::Q4_0: return 32;
    case Dtype::Q4_K:
    case Dtype::Q6_K: return 256;
    default: return 1;
  }
}

size_t block_bytes(Dtype d) {
  switch (d) {
    case Dtype::F32: return 4;
    case Dtype::F16:
    case Dtype::BF16: return 2;
    case Dtype::Q8_0: return 34;
    case Dtype::Q4_0: return 18;
    case Dtype::Q4_K: return 144;
    case Dtype::Q6_K: return 210;
  }
  return 0;
}

size_t row_bytes(Dtype d, size_t cols) {
  const size_t e = block_elems(d);
  return cols % e == 0 ? cols / e * block_bytes(d) : 0;
}

const char* dtype_name(Dtype d) {
  switch (d) {
    case Dtype::F32: return "F32";
    case Dtype::F16: return "F16";
    case Dtype::BF16: return "BF16";
    case Dtype::Q8_0: return "Q8_0";
    case Dtype::Q4_0: return "Q4_0";
    case Dtype::Q4_K: return "Q4_K";
    case Dtype::Q6_K: return "Q6_K";
  }
  return "?";
}

bool is_block_format(Dtype d) { return block_elems(d) > 1; }

float half_to_float(uint16_t h) {
  const uint32_t sign = uint32_t(h & 0x8000) << 16;
  uint32_t exp = (h >> 10) & 0x1f, mant = h & 0x3ff, u;
  if (exp == 0x1f) {
    u = sign | 0x7f800000 | (mant << 13);
  } else if (exp != 0) {
    u = sign | ((exp + 112) << 23) | (mant << 13);
  } else if (mant == 0) {
    u = sign;
  } else {  // subnormal: normalise
    int e = -1;
    do {
      ++e;
      mant <<= 1;
    } while ((mant & 0x400) == 0);
    u = sign | ((112 - e) << 23) | ((mant & 0x3ff) << 13);
  }
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

uint16_t float_to_half(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  const uint16_t sign = uint16_t((u >> 16) & 0x8000);
  const uint32_t abs = u & 0x7fffffff;
  if (abs >= 0x7f800000) return sign | 0x7c00 | (abs > 0x7f800000 ? 0x200 : 0);  // inf, NaN
  if (abs >= 0x477ff000) return sign | 0x7c00;  // rounds past the largest half: inf
  if (abs < 0x38800000) {
    // Subnormal half (or zero): the value in units of 2^-24, rounded to nearest even.
    const uint32_t mant = (abs & 0x7fffff) | 0x800000;
    const int shift = 126 - int(abs >> 23);  // 2^-24 units: mant >> (shift) with shift >= 14
    if (shift > 24) return sign;
    uint32_t q = mant >> shift;
    const uint32_t rest = mant & ((1u << shift) - 1), halfway = 1u << (shift - 1);
    if (rest > halfway || (rest == halfway && (q & 1))) ++q;
    return sign | uint16_t(q);
  }
  // Normal: rebias the exponent and round the 13 dropped mantissa bits to nearest even.
  uint32_t h = ((abs >> 13) - (112u << 10));
  const uint32_t rest = abs & 0x1fff;
  if (rest > 0x1000 || (rest == 0x1000 && (h & 1))) ++h;
  return sign | uint16_t(h);
}

void dequantize_row_reference(Dtype d, const uint8_t* src, size_t cols, float* out) {
  switch (d) {
    case Dtype::F32: std::memcpy(out, src, cols * 4); return;
    case Dtype::F16:
      for (size_t i = 0; i < cols; ++i) out[i] = half_to_float(block_decode::u16(src + 2 * i));
      return;
    case Dtype::BF16:
      for (size_t i = 0; i < cols; ++i) out[i] = bf16_to_float(block_decode::u16(src + 2 * i));
      return;
    default: break;
  }
  block_decode::decode_blocks(d, src, cols, out);
}

void quantize_activations_q8(const float* x, size_t tokens, size_t cols, int8_t* q, float* d, int32_t* s) {
  // Adding and subtracting 1.5 * 2^23 rounds a float of magnitude below 2^22 to an integer, ties to
  // even (the default rounding mode); unlike lrint it vectorises. Plain comparisons for the same
  // reason (std::fmax must honour NaN).
  constexpr float kRound = 12582912.0f;
  for (size_t b = 0; b < tokens * cols / 32; ++b) {
    const float* xb = x + 32 * b;
    float amax = 0;
    for (int j = 0; j < 32; ++j) {
      const float a = std::fabs(xb[j]);
      amax = a > amax ? a : amax;
    }
    const float db = amax / 127.0f, inv = db > 0 ? 1.0f / db : 0.0f;
    d[b] = db;
    // |x| * (1 / d) can land a rounding above 127 but never past 127.5.
    for (int j = 0; j < 32; ++j) q[32 * b + j] = int8_t(int32_t((xb[j] * inv + kRound) - kRound));
    int32_t sum = 0;
    for (int j = 0; j < 32; ++j) sum += q[32 * b + j];
    s[b] = sum;
  }
}

void throw_unquantized_input() {
  throw EngineError("matmul: int8-path weights need their input quantized first (MatmulInput's q8, QuantizedRows)");
}

float* thread_scratch(size_t n) {
  thread_local std::vector<float> scratch;
  if (scratch.size() < n) scratch.resize(n);
  return scratch.data();
}

}  // namespace mv
