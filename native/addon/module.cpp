// Entry point of multiverse_native.node: the Engine class, a CPU feature probe, the weight scan,
// kernel probes, the CUDA status and the per-token sampler.
#include <napi.h>

#include <thread>

#include "addon/engine_wrap.h"
#include "addon/finite_worker.h"
#include "engine/cuda_backend.h"
#include "addon/kernel_probe.h"
#include "addon/pool_probe.h"
#include "addon/sampling_binding.h"
#include "kernels/cpu/kernels.h"

namespace {

Napi::Value CpuFeatures(const Napi::CallbackInfo& info) {
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("avx2Fma", mv::cpu_has_avx2_fma());
  o.Set("f16c", mv::cpu_has_f16c());
  o.Set("avx512", mv::cpu_has_avx512());
  o.Set("threads", double(std::thread::hardware_concurrency()));
  return o;
}

Napi::Value CudaStatus(const Napi::CallbackInfo& info) {
  std::string why;
  const bool usable = mv::cuda_usable(&why);
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("usable", usable);
  o.Set("reason", why);
  return o;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("Engine", mv::EngineWrap::Define(env));
  exports.Set("cpuFeatures", Napi::Function::New(env, CpuFeatures));
  exports.Set("findNonFinite", Napi::Function::New(env, mv::FindNonFinite));
  exports.Set("cudaStatus", Napi::Function::New(env, CudaStatus));
  exports.Set("kernelSets", Napi::Function::New(env, mv::KernelSets));
  exports.Set("dequantizeRows", Napi::Function::New(env, mv::DequantizeRows));
  exports.Set("matmul", Napi::Function::New(env, mv::Matmul));
  exports.Set("attention", Napi::Function::New(env, mv::Attention));
  exports.Set("siluMul", Napi::Function::New(env, mv::SiluMul));
  exports.Set("memoryBandwidth", Napi::Function::New(env, mv::MemoryBandwidth));
  exports.Set("threadPoolCover", Napi::Function::New(env, mv::ThreadPoolCover));
  exports.Set("sampleToken", Napi::Function::New(env, mv::SampleToken));
  exports.Set("scoreToken", Napi::Function::New(env, mv::ScoreToken));
  return exports;
}

}  // namespace

NODE_API_MODULE(multiverse_native, Init)
