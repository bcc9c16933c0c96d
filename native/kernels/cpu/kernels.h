// The hot CPU loops behind one small table, so the AVX2/FMA and portable versions are chosen at
// run time (dispatch.cpp) and tests can compare them. Everything else in the forward pass is cheap.
#pragma once
#include <cstddef>

namespace mv {

struct CpuKernels {
  const char* name;
  // y[t * ldy + o] = dot(x[t * in ..], w[o * in ..]) + (b ? b[o] : 0) for t < tokens, o in [o0, o1).
  // x: (tokens, in)  w: (out, in) row-major, as a Hugging Face Linear stores it.
  void (*matmul)(const float* x, size_t tokens, size_t in, const float* w, const float* b, float* y,
                 size_t ldy, size_t o0, size_t o1);
  float (*dot)(const float* a, const float* b, size_t n);
  // y += a * x
  void (*axpy)(float a, const float* x, float* y, size_t n);
};

extern const CpuKernels kPortableKernels;
extern const CpuKernels kAvx2Kernels;  // only call when the CPU has AVX2 and FMA

// AVX2/FMA when the CPU has both and MULTIVERSE_KERNELS is not "portable"; otherwise portable.
const CpuKernels& select_kernels(bool force_portable);
bool cpu_has_avx2_fma();
bool cpu_has_f16c();

}  // namespace mv
