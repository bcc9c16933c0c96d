#include "common/check.h"
#include "kernels/cpu/kernels.h"

namespace mv {

#if defined(__x86_64__) || defined(__i386__)
bool cpu_has_avx2_fma() { return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"); }
bool cpu_has_f16c() { return __builtin_cpu_supports("f16c"); }
bool cpu_has_avx512() {
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512vl") && cpu_has_f16c();
}
bool cpu_has_avx512_vnni() { return cpu_has_avx512() && __builtin_cpu_supports("avx512vnni"); }
#else
bool cpu_has_avx2_fma() { return false; }
bool cpu_has_f16c() { return false; }
bool cpu_has_avx512() { return false; }
bool cpu_has_avx512_vnni() { return false; }
#endif

const CpuKernels& select_kernels(KernelChoice choice) {
  const bool avx2 = cpu_has_avx2_fma() && cpu_has_f16c();
  switch (choice) {
    case KernelChoice::Portable: return kPortableKernels;
    case KernelChoice::Avx2:
      MV_CHECK(avx2, "kernels 'avx2' forced but this CPU lacks AVX2/FMA/F16C");
      return kAvx2Kernels;
    case KernelChoice::Avx512:
      MV_CHECK(cpu_has_avx512(), "kernels 'avx512' forced but this CPU lacks AVX-512 F/BW/VL");
      return kAvx512Kernels;
    case KernelChoice::Auto: break;
  }
  if (cpu_has_avx512()) return kAvx512Kernels;
  if (avx2) return kAvx2Kernels;
  return kPortableKernels;
}

}  // namespace mv
