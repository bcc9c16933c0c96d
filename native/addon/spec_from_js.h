// Reads the engine spec object (src/native/binding.ts NativeEngineSpec) into C++ with type checks.
#pragma once
#include <napi.h>

#include "engine/forward.h"
#include "model/model_spec.h"

namespace mv {

struct EngineOptions {
  ModelSpec model;
  int kv_slots = 0;
  KvDtype kv_dtype = KvDtype::F16;
  CpuOptions cpu;
};

EngineOptions engine_options_from_js(const Napi::Object& spec);

}  // namespace mv
