// Reads the engine spec object (src/native/binding.ts NativeEngineSpec) into C++ with type checks.
#pragma once
#include <napi.h>

#include "engine/engine.h"
#include "engine/forward.h"
#include "model/model_spec.h"

namespace mv {

struct EngineOptions {
  ModelSpec model;
  int kv_slots = 0;
  KvDtype kv_dtype = KvDtype::F16;
  CpuOptions cpu;
  Device device = Device::Cpu;
};

EngineOptions engine_options_from_js(const Napi::Object& spec);

// One tensor ref ({name, file, offset, byteLength, dtype, shape}); throws EngineError when malformed.
TensorRef tensor_from_js(const Napi::Value& value);

}  // namespace mv
