// The hot CPU loops behind one small table, so the AVX2/FMA and portable versions are chosen at
// run time (dispatch.cpp) and tests can compare them. Everything else in the forward pass is cheap.
#pragma once
#include <cstddef>
#include <cstdint>

namespace mv {

struct CpuKernels {
  const char* name;
  // y[t * ldy + o] = dot(x[t * in ..], w[o * in ..]) + (b ? b[o] : 0) for t < tokens, o in [o0, o1).
  // x: (tokens, in)  w: (out, in) row-major, as a Hugging Face Linear stores it.
  void (*matmul)(const float* x, size_t tokens, size_t in, const float* w, const float* b, float* y,
                 size_t ldy, size_t o0, size_t o1);
  // Attention over rows gathered by slot: row i is base + rows[i] * stride, d floats long.
  // out[i] = scale * dot(q, row i) for i < n.
  void (*gather_dot)(const float* q, const float* base, size_t stride, const int32_t* rows, size_t n, size_t d,
                     float scale, float* out);
  // y[0..d) += sum over i < n of p[i] * row i.
  void (*gather_axpy)(const float* p, const float* base, size_t stride, const int32_t* rows, size_t n, size_t d,
                      float* y);
};

extern const CpuKernels kPortableKernels;
extern const CpuKernels kAvx2Kernels;  // only call when the CPU has AVX2 and FMA

// AVX2/FMA when the CPU has both and MULTIVERSE_KERNELS is not "portable"; otherwise portable.
const CpuKernels& select_kernels(bool force_portable);
bool cpu_has_avx2_fma();
bool cpu_has_f16c();

}  // namespace mv
