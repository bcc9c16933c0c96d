// The CUDA backend: the same Backend::step over the same flat slot lists as the CPU, with the
// weights uploaded once in their checkpoint dtype and the K/V storage on the device (indexed by
// slot; the KvPool keeps only the metadata, so fork/merge/release stay metadata operations).
// Built only with MULTIVERSE_CUDA=ON; otherwise cuda_absent.cpp answers that there is no CUDA.
#pragma once
#include <memory>
#include <string>

#include "engine/backend.h"
#include "kv/kv_pool.h"
#include "model/model_spec.h"

namespace mv {

// Whether this process can run the CUDA backend. When not, `why` says why, in words, starting
// with "CUDA_UNAVAILABLE: " (built without CUDA, no driver, no device, a device too old).
bool cuda_usable(std::string* why);

// Throws EngineError (a bad tensor, out of device memory, no device) and leaves nothing allocated.
std::unique_ptr<Backend> make_cuda_backend(const ModelSpec& spec, KvPool& kv);

}  // namespace mv
