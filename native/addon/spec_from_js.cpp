#include "addon/spec_from_js.h"

#include <string>

#include "common/check.h"
#include "kernels/cpu/quant.h"

namespace mv {
namespace {

double number(const Napi::Object& o, const char* key) {
  Napi::Value v = o.Get(key);
  MV_CHECK(v.IsNumber(), std::string("engine spec: '") + key + "' must be a number");
  return v.As<Napi::Number>().DoubleValue();
}

int positive_int(const Napi::Object& o, const char* key, bool allow_zero = false) {
  const double d = number(o, key);
  MV_CHECK(d == static_cast<double>(static_cast<int64_t>(d)) && d >= (allow_zero ? 0 : 1) && d < 2147483647.0,
           std::string("engine spec: '") + key + "' must be a positive integer");
  return static_cast<int>(d);
}

std::string string(const Napi::Object& o, const char* key) {
  Napi::Value v = o.Get(key);
  MV_CHECK(v.IsString(), std::string("engine spec: '") + key + "' must be a string");
  return v.As<Napi::String>().Utf8Value();
}

bool boolean(const Napi::Object& o, const char* key) {
  Napi::Value v = o.Get(key);
  MV_CHECK(v.IsBoolean(), std::string("engine spec: '") + key + "' must be a boolean");
  return v.As<Napi::Boolean>().Value();
}

}  // namespace

TensorRef tensor_from_js(const Napi::Value& value) {
  MV_CHECK(value.IsObject(), "engine spec: each tensor must be an object");
  const Napi::Object o = value.As<Napi::Object>();
  TensorRef t;
  t.name = string(o, "name");
  t.file = string(o, "file");
  const double offset = number(o, "offset"), length = number(o, "byteLength");
  MV_CHECK(offset >= 0 && length >= 0, "engine spec: tensor " + t.name + " has a negative offset or length");
  t.offset = static_cast<uint64_t>(offset);
  t.byte_length = static_cast<uint64_t>(length);
  const std::string dtype = string(o, "dtype");
  bool known = false;
  for (Dtype d : {Dtype::F32, Dtype::F16, Dtype::BF16, Dtype::Q8_0, Dtype::Q4_0, Dtype::Q4_K, Dtype::Q6_K}) {
    if (dtype == dtype_name(d)) {
      t.dtype = d;
      known = true;
    }
  }
  MV_CHECK(known, "engine spec: tensor " + t.name + " has unsupported dtype " + dtype);
  Napi::Value shape = o.Get("shape");
  MV_CHECK(shape.IsArray(), "engine spec: tensor " + t.name + " shape must be an array");
  const Napi::Array dims = shape.As<Napi::Array>();
  for (uint32_t i = 0; i < dims.Length(); ++i) {
    Napi::Value d = dims.Get(i);
    MV_CHECK(d.IsNumber() && d.As<Napi::Number>().DoubleValue() >= 0,
             "engine spec: tensor " + t.name + " has a bad dimension");
    t.shape.push_back(d.As<Napi::Number>().Int64Value());
  }
  return t;
}

EngineOptions engine_options_from_js(const Napi::Object& spec) {
  EngineOptions out;
  ModelSpec& m = out.model;
  const std::string arch = string(spec, "architecture");
  MV_CHECK(arch == "qwen2" || arch == "llama", "engine spec: unsupported architecture " + arch);
  m.hidden = positive_int(spec, "hiddenSize");
  m.intermediate = positive_int(spec, "intermediateSize");
  m.layers = positive_int(spec, "numLayers");
  m.heads = positive_int(spec, "numHeads");
  m.kv_heads = positive_int(spec, "numKvHeads");
  m.head_dim = positive_int(spec, "headDim");
  m.vocab = positive_int(spec, "vocabSize");
  m.rope_theta = static_cast<float>(number(spec, "ropeTheta"));
  if (!spec.Get("ropeStyle").IsUndefined()) {
    const std::string style = string(spec, "ropeStyle");
    MV_CHECK(style == "neox" || style == "interleaved", "engine spec: ropeStyle must be 'neox' or 'interleaved'");
    m.rope_interleaved = style == "interleaved";
  }
  m.rms_eps = static_cast<float>(number(spec, "rmsNormEps"));
  m.tie_embeddings = boolean(spec, "tieWordEmbeddings");
  m.attention_bias = boolean(spec, "attentionBias");
  MV_CHECK(m.heads % m.kv_heads == 0, "engine spec: numHeads must be a multiple of numKvHeads");
  MV_CHECK(m.head_dim % 2 == 0, "engine spec: headDim must be even for RoPE");
  out.kv_slots = positive_int(spec, "kvSlots");
  out.cpu.threads = positive_int(spec, "threads", true);
  const std::string kernels = string(spec, "kernels");
  if (kernels == "auto") out.cpu.kernels = KernelChoice::Auto;
  else if (kernels == "portable") out.cpu.kernels = KernelChoice::Portable;
  else if (kernels == "avx2") out.cpu.kernels = KernelChoice::Avx2;
  else if (kernels == "avx512") out.cpu.kernels = KernelChoice::Avx512;
  else throw EngineError("engine spec: kernels must be 'auto', 'portable', 'avx2' or 'avx512'");
  if (!spec.Get("kvDtype").IsUndefined()) {
    const std::string kv = string(spec, "kvDtype");
    MV_CHECK(kv == "f16" || kv == "f32", "engine spec: kvDtype must be 'f16' or 'f32'");
    out.kv_dtype = kv == "f16" ? KvDtype::F16 : KvDtype::F32;
  }
  if (!spec.Get("parallelMinWork").IsUndefined()) {
    out.cpu.parallel_min_work = static_cast<size_t>(positive_int(spec, "parallelMinWork", true));
  }
  if (!spec.Get("device").IsUndefined()) {
    const std::string device = string(spec, "device");
    MV_CHECK(device == "cpu" || device == "cuda" || device == "auto", "engine spec: device must be 'cpu', 'cuda' or 'auto'");
    out.device = device == "cuda" ? Device::Cuda : device == "auto" ? Device::Auto : Device::Cpu;
  }
  Napi::Value tensors = spec.Get("tensors");
  MV_CHECK(tensors.IsArray(), "engine spec: 'tensors' must be an array");
  const Napi::Array arr = tensors.As<Napi::Array>();
  for (uint32_t i = 0; i < arr.Length(); ++i) m.tensors.push_back(tensor_from_js(arr.Get(i)));
  return out;
}

}  // namespace mv
