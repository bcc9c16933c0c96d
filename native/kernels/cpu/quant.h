// Weight formats as stored, and the plain C++ definitions every kernel set is tested against:
// half-precision conversions and the ggml block layouts (ggml-quants.c dequantize_row_* is the
// published definition; these are our own code for the same bytes).
//
//   Q8_0 (34 bytes, 32 weights): f16 d, int8 q[32];                 w[j] = d * q[j]
//   Q4_0 (18 bytes, 32 weights): f16 d, u8 qs[16];                   w[j] = d * ((qs[j] & 15) - 8),
//                                                                    w[j + 16] = d * ((qs[j] >> 4) - 8)
//   Q4_K (144 bytes, 256 weights): f16 d, f16 dmin, u8 scales[12], u8 qs[128]. Eight sub-blocks of 32,
//        each with a 6-bit scale sc and min m packed in `scales`; w = d * sc * q - dmin * m, q the
//        nibble. Sub-blocks 2k and 2k+1 share qs[32k .. 32k + 32): low nibbles, then high nibbles.
//   Q6_K (210 bytes, 256 weights): u8 ql[128], u8 qh[64], int8 scales[16], f16 d. q is 6 bits
//        (4 from ql, 2 from qh) minus 32; w = d * scales[element / 16] * q.
#pragma once
#include <cstddef>
#include <cstdint>

#include "model/model_spec.h"

namespace mv {

// Weights per block (1 for the plain float formats) and bytes per block.
size_t block_elems(Dtype d);
size_t block_bytes(Dtype d);
// Bytes of one row of `cols` weights; 0 when cols is not a whole number of blocks.
size_t row_bytes(Dtype d, size_t cols);
const char* dtype_name(Dtype d);
bool is_block_format(Dtype d);

float half_to_float(uint16_t h);
// Round to nearest even, as F16C's vcvtps2ph with _MM_FROUND_TO_NEAREST_INT does.
uint16_t float_to_half(float f);
// static: each kernel file gets its own copy, compiled with its own flags (no link-time merging of
// an AVX-512 build of it into the portable path).
static inline float bf16_to_float(uint16_t h) {
  const uint32_t u = uint32_t(h) << 16;
  float f;
  __builtin_memcpy(&f, &u, 4);
  return f;
}

// out[0..cols) = the weights of one stored row (src = the row's first byte), exactly.
void dequantize_row_reference(Dtype d, const uint8_t* src, size_t cols, float* out);

// Activations for int8 dot products, as llama.cpp quantizes them to Q8_0: per token, each block of
// 32 values x gets d = max|x| / 127 (f32) and q = round(x / d) in [-127, 127], ties to even.
// x: (tokens, cols), cols a multiple of 32; q: (tokens, cols); d: (tokens, cols / 32); s: (tokens,
// cols / 32), each block's sum of q (Q4_K's min term). Shared by every kernel set, so they all see
// the same integers.
void quantize_activations_q8(const float* x, size_t tokens, size_t cols, int8_t* q, float* d, int32_t* s);

// Throws EngineError: an int8-path matmul was given its input unquantized (MatmulInput without q8).
// Out of line, so the SIMD kernel files check without compiling any std::string code of their own.
[[noreturn]] void throw_unquantized_input();

// This thread's scratch of at least n floats, reused by every call (compiled without SIMD flags, so
// SIMD kernel files need no std::vector code of their own).
float* thread_scratch(size_t n);

}  // namespace mv
