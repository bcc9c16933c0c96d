#include "kernels/cpu/kernels.h"

namespace mv {

bool cpu_has_avx2_fma() {
#if defined(__x86_64__) || defined(__i386__)
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
  return false;
#endif
}

bool cpu_has_f16c() {
#if defined(__x86_64__) || defined(__i386__)
  return __builtin_cpu_supports("f16c");
#else
  return false;
#endif
}

const CpuKernels& select_kernels(bool force_portable) {
  if (!force_portable && cpu_has_avx2_fma()) return kAvx2Kernels;
  return kPortableKernels;
}

}  // namespace mv
