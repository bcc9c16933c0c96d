// The answer of a build without the CUDA backend (MULTIVERSE_CUDA=OFF): no CUDA here.
#ifndef MULTIVERSE_WITH_CUDA
#include "common/check.h"
#include "engine/cuda_backend.h"

namespace mv {

namespace {
const char* const kNotBuilt = "CUDA_UNAVAILABLE: this build of the addon has no CUDA backend (build with MULTIVERSE_CUDA=ON)";
}

bool cuda_usable(std::string* why) {
  *why = kNotBuilt;
  return false;
}

std::unique_ptr<Backend> make_cuda_backend(const ModelSpec&, KvPool&) { throw EngineError(kNotBuilt); }

}  // namespace mv
#endif
