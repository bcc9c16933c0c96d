#include "kernels/cpu/quant.h"

#include <cstring>
#include <vector>

namespace mv {
namespace {

uint16_t u16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}

void q8_0(const uint8_t* b, float* y) {
  const float d = half_to_float(u16(b));
  for (int j = 0; j < 32; ++j) y[j] = d * float(int8_t(b[2 + j]));
}

void q4_0(const uint8_t* b, float* y) {
  const float d = half_to_float(u16(b));
  for (int j = 0; j < 16; ++j) {
    y[j] = d * float(int(b[2 + j] & 15) - 8);
    y[j + 16] = d * float(int(b[2 + j] >> 4) - 8);
  }
}

// Scale and min of Q4_K sub-block j: sub-blocks 0-3 keep theirs in the low 6 bits of bytes j and
// j + 4; sub-blocks 4-7 take 4 low bits from byte j + 4 and their top 2 bits from the spare high
// bits of bytes j - 4 (scale) and j (min).
void q4_k_scale_min(int j, const uint8_t* s, int* sc, int* m) {
  if (j < 4) {
    *sc = s[j] & 63;
    *m = s[j + 4] & 63;
  } else {
    *sc = (s[j + 4] & 15) | ((s[j - 4] >> 6) << 4);
    *m = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
  }
}

void q4_k(const uint8_t* b, float* y) {
  const float d = half_to_float(u16(b)), dmin = half_to_float(u16(b + 2));
  const uint8_t* scales = b + 4;
  const uint8_t* qs = b + 16;
  for (int k = 0; k < 4; ++k) {
    int sc0, m0, sc1, m1;
    q4_k_scale_min(2 * k, scales, &sc0, &m0);
    q4_k_scale_min(2 * k + 1, scales, &sc1, &m1);
    const float d0 = d * float(sc0), min0 = dmin * float(m0), d1 = d * float(sc1), min1 = dmin * float(m1);
    for (int l = 0; l < 32; ++l) {
      y[64 * k + l] = d0 * float(qs[32 * k + l] & 15) - min0;
      y[64 * k + 32 + l] = d1 * float(qs[32 * k + l] >> 4) - min1;
    }
  }
}

void q6_k(const uint8_t* b, float* y) {
  const uint8_t* ql = b;
  const uint8_t* qh = b + 128;
  const int8_t* sc = reinterpret_cast<const int8_t*>(b + 192);
  const float d = half_to_float(u16(b + 208));
  // Two halves of 128; in each, byte l of ql/qh feeds elements l, l + 32, l + 64 and l + 96.
  for (int h = 0; h < 2; ++h) {
    const uint8_t* L = ql + 64 * h;
    const uint8_t* H = qh + 32 * h;
    const int8_t* S = sc + 8 * h;
    float* Y = y + 128 * h;
    for (int l = 0; l < 32; ++l) {
      const int s = l / 16;
      const int q1 = int((L[l] & 15) | (((H[l] >> 0) & 3) << 4)) - 32;
      const int q2 = int((L[l + 32] & 15) | (((H[l] >> 2) & 3) << 4)) - 32;
      const int q3 = int((L[l] >> 4) | (((H[l] >> 4) & 3) << 4)) - 32;
      const int q4 = int((L[l + 32] >> 4) | (((H[l] >> 6) & 3) << 4)) - 32;
      Y[l] = d * float(S[s] * q1);
      Y[l + 32] = d * float(S[s + 2] * q2);
      Y[l + 64] = d * float(S[s + 4] * q3);
      Y[l + 96] = d * float(S[s + 6] * q4);
    }
  }
}

}  // namespace

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
      for (size_t i = 0; i < cols; ++i) out[i] = half_to_float(u16(src + 2 * i));
      return;
    case Dtype::BF16:
      for (size_t i = 0; i < cols; ++i) out[i] = bf16_to_float(u16(src + 2 * i));
      return;
    default: break;
  }
  const size_t e = block_elems(d), bb = block_bytes(d);
  for (size_t blk = 0; blk < cols / e; ++blk) {
    const uint8_t* b = src + blk * bb;
    float* y = out + blk * e;
    switch (d) {
      case Dtype::Q8_0: q8_0(b, y); break;
      case Dtype::Q4_0: q4_0(b, y); break;
      case Dtype::Q4_K: q4_k(b, y); break;
      case Dtype::Q6_K: q6_k(b, y); break;
      default: break;
    }
  }
}

float* thread_scratch(size_t n) {
  thread_local std::vector<float> scratch;
  if (scratch.size() < n) scratch.resize(n);
  return scratch.data();
}

}  // namespace mv
