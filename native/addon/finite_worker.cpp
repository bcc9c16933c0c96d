#include "addon/finite_worker.h"

#include <cmath>
#include <exception>
#include <limits>
#include <map>
#include <memory>
#include <string>

#include "addon/spec_from_js.h"
#include "common/check.h"
#include "model/finite_check.h"
#include "model/mapped_file.h"

namespace mv {
namespace {

size_t element_bytes(Dtype dtype) { return dtype == Dtype::F32 ? 4 : 2; }

// NaN or the infinity of the element's sign: the sign bit is the top bit in every format.
double non_finite_value(const uint8_t* element, Dtype dtype) {
  const size_t bytes = element_bytes(dtype);
  const bool negative = element[bytes - 1] & 0x80;  // little-endian
  uint32_t bits = 0;
  for (size_t b = 0; b < bytes; ++b) bits |= uint32_t{element[b]} << (8 * b);
  const uint32_t mantissa = dtype == Dtype::F32 ? bits & 0x7fffff : dtype == Dtype::F16 ? bits & 0x3ff : bits & 0x7f;
  if (mantissa != 0) return std::numeric_limits<double>::quiet_NaN();
  return negative ? -INFINITY : INFINITY;
}

}  // namespace

FiniteWorker::FiniteWorker(Napi::Env env, std::vector<TensorRef> tensors)
    : Napi::AsyncWorker(env), tensors_(std::move(tensors)), deferred_(Napi::Promise::Deferred::New(env)) {}

void FiniteWorker::Execute() {
  try {
    // Mapped and read in whole (populate), as the engine maps them: a file the scan is first to
    // read then comes into the page cache in 2 MB folios, which the engine's mapping shares. Reading
    // only the scanned tensors, with pread, left a GGUF file of quantized matrices (whose f32 norms
    // are scanned) mostly in 4 KB pages.
    std::map<std::string, std::unique_ptr<MappedFile>> files;
    for (size_t t = 0; t < tensors_.size(); ++t) {
      const TensorRef& ref = tensors_[t];
      auto& file = files[ref.file];
      if (!file) {
        file = std::make_unique<MappedFile>(ref.file);
        file->populate();
      }
      MV_CHECK(ref.offset <= file->size() && ref.byte_length <= file->size() - ref.offset,
               ref.file + ": tensor " + ref.name + " extends past the end of the file");
      const uint8_t* data = file->data() + ref.offset;
      const int64_t bad = first_non_finite(data, ref.byte_length / element_bytes(ref.dtype), ref.dtype);
      if (bad >= 0) {
        bad_tensor_ = static_cast<int64_t>(t);
        bad_element_ = bad;
        bad_value_ = non_finite_value(data + bad * element_bytes(ref.dtype), ref.dtype);
        return;
      }
    }
  } catch (const std::exception& e) {
    SetError(e.what());
  }
}

void FiniteWorker::OnOK() {
  Napi::Env env = Env();
  if (bad_tensor_ < 0) return deferred_.Resolve(env.Null());
  Napi::Object hit = Napi::Object::New(env);
  hit.Set("tensor", double(bad_tensor_));
  hit.Set("element", double(bad_element_));
  hit.Set("value", bad_value_);
  deferred_.Resolve(hit);
}

void FiniteWorker::OnError(const Napi::Error& e) { deferred_.Reject(e.Value()); }

Napi::Value FindNonFinite(const Napi::CallbackInfo& info) {
  MV_CHECK(info.Length() == 1 && info[0].IsArray(), "findNonFinite(tensors): an array of tensor refs expected");
  const Napi::Array arr = info[0].As<Napi::Array>();
  std::vector<TensorRef> tensors;
  for (uint32_t i = 0; i < arr.Length(); ++i) tensors.push_back(tensor_from_js(arr.Get(i)));
  auto* worker = new FiniteWorker(info.Env(), std::move(tensors));
  Napi::Promise promise = worker->promise();
  worker->Queue();
  return promise;
}

}  // namespace mv
