#include "addon/engine_wrap.h"

#include <string>

#include "addon/spec_from_js.h"
#include "addon/step_worker.h"
#include "common/check.h"

namespace mv {

Napi::Function EngineWrap::Define(Napi::Env env) {
  return DefineClass(env, "Engine",
                     {
                         InstanceAccessor<&EngineWrap::Backend>("backend"),
                         InstanceMethod<&EngineWrap::CreateSequence>("createSequence"),
                         InstanceMethod<&EngineWrap::Fork>("fork"),
                         InstanceMethod<&EngineWrap::Merge>("merge"),
                         InstanceMethod<&EngineWrap::Release>("release"),
                         InstanceMethod<&EngineWrap::SequenceLength>("sequenceLength"),
                         InstanceMethod<&EngineWrap::SequencePositions>("sequencePositions"),
                         InstanceMethod<&EngineWrap::CheckIntegrity>("checkIntegrity"),
                         InstanceMethod<&EngineWrap::KvStats>("kvStats"),
                         InstanceMethod<&EngineWrap::Step>("step"),
                         InstanceMethod<&EngineWrap::Dispose>("dispose"),
                     });
}

EngineWrap::EngineWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<EngineWrap>(info) {
  MV_CHECK(info.Length() == 1 && info[0].IsObject(), "new Engine(spec): spec object required");
  EngineOptions o = engine_options_from_js(info[0].As<Napi::Object>());
  engine_ = std::make_shared<Engine>(std::move(o.model), o.kv_slots, o.kv_dtype, o.cpu, o.device);
}

Engine& EngineWrap::live() {
  MV_CHECK(engine_ != nullptr, "engine disposed");
  return *engine_;
}

int EngineWrap::seq_arg(const Napi::CallbackInfo& info, size_t i) {
  MV_CHECK(info.Length() > i && info[i].IsNumber(), "sequence id (a number) expected as argument " + std::to_string(i + 1));
  return info[i].As<Napi::Number>().Int32Value();
}

Napi::Value EngineWrap::Backend(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), live().backend_name());
}

Napi::Value EngineWrap::CreateSequence(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), live().kv().create_sequence());
}

Napi::Value EngineWrap::Fork(const Napi::CallbackInfo& info) {
  Engine& e = live();
  const int seq = seq_arg(info, 0);
  MV_CHECK(info.Length() > 1 && info[1].IsNumber(), "fork(seq, n): n must be a number");
  const int n = info[1].As<Napi::Number>().Int32Value();
  const std::vector<int> kids = e.kv().fork(seq, n);
  Napi::Array out = Napi::Array::New(info.Env(), kids.size());
  for (uint32_t i = 0; i < kids.size(); ++i) out.Set(i, Napi::Number::New(info.Env(), kids[i]));
  return out;
}

Napi::Value EngineWrap::Merge(const Napi::CallbackInfo& info) {
  Engine& e = live();
  const int prefix = seq_arg(info, 0);
  MV_CHECK(info.Length() > 1 && info[1].IsArray(), "merge(prefix, children): children must be an array");
  const Napi::Array arr = info[1].As<Napi::Array>();
  std::vector<int> kids;
  for (uint32_t i = 0; i < arr.Length(); ++i) {
    Napi::Value v = arr.Get(i);
    MV_CHECK(v.IsNumber(), "merge: child ids must be numbers");
    kids.push_back(v.As<Napi::Number>().Int32Value());
  }
  return Napi::Number::New(info.Env(), e.kv().merge(prefix, kids));
}

Napi::Value EngineWrap::Release(const Napi::CallbackInfo& info) {
  live().kv().release(seq_arg(info, 0));
  return info.Env().Undefined();
}

Napi::Value EngineWrap::SequenceLength(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), double(live().kv().sequence_length(seq_arg(info, 0))));
}

Napi::Value EngineWrap::SequencePositions(const Napi::CallbackInfo& info) {
  Engine& e = live();
  std::vector<int32_t> slots;
  e.kv().flatten(seq_arg(info, 0), &slots);
  Napi::Int32Array out = Napi::Int32Array::New(info.Env(), slots.size());
  for (size_t i = 0; i < slots.size(); ++i) out[i] = e.kv().position(slots[i]);
  return out;
}

Napi::Value EngineWrap::CheckIntegrity(const Napi::CallbackInfo& info) {
  live().kv().check_integrity();
  return info.Env().Undefined();
}

Napi::Value EngineWrap::KvStats(const Napi::CallbackInfo& info) {
  KvPool& kv = live().kv();
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("totalSlots", double(kv.shape().slots));
  o.Set("freeSlots", double(kv.free_slots()));
  o.Set("sequences", double(kv.live_sequences()));
  o.Set("segments", double(kv.live_segments()));
  return o;
}

namespace {

std::vector<int32_t> int32_array(const Napi::Object& item, const char* key) {
  Napi::Value v = item.Get(key);
  MV_CHECK(v.IsTypedArray() && v.As<Napi::TypedArray>().TypedArrayType() == napi_int32_array,
           std::string("step: '") + key + "' must be an Int32Array");
  Napi::Int32Array a = v.As<Napi::Int32Array>();
  return std::vector<int32_t>(a.Data(), a.Data() + a.ElementLength());
}

StepRequest step_request(const Napi::Value& value) {
  MV_CHECK(value.IsObject(), "step: each item must be an object");
  const Napi::Object item = value.As<Napi::Object>();
  StepRequest r;
  Napi::Value seq = item.Get("seq");
  MV_CHECK(seq.IsNumber(), "step: 'seq' must be a number");
  r.seq = seq.As<Napi::Number>().Int32Value();
  r.tokens = int32_array(item, "tokens");
  r.positions = int32_array(item, "positions");
  Napi::Value mode = item.Get("logits");
  const std::string m = mode.IsString() ? mode.As<Napi::String>().Utf8Value() : "";
  if (m == "none") r.logits = LogitsMode::None;
  else if (m == "last") r.logits = LogitsMode::Last;
  else if (m == "all") r.logits = LogitsMode::All;
  else throw EngineError("step: 'logits' must be 'none', 'last' or 'all'");
  return r;
}

}  // namespace

Napi::Value EngineWrap::Step(const Napi::CallbackInfo& info) {
  Engine& e = live();
  Napi::Env env = info.Env();
  // Validation errors reject the promise rather than throw, so callers handle one failure path.
  try {
    MV_CHECK(info.Length() == 1 && info[0].IsArray(), "step(items): items must be an array");
    const Napi::Array arr = info[0].As<Napi::Array>();
    std::vector<StepRequest> items;
    for (uint32_t i = 0; i < arr.Length(); ++i) items.push_back(step_request(arr.Get(i)));
    std::vector<StepInput> batch = e.prepare(items);
    auto* worker = new StepWorker(env, engine_, logits_recycler_, std::move(batch));
    Napi::Promise p = worker->promise();
    worker->Queue();
    return p;
  } catch (const std::exception& ex) {
    auto d = Napi::Promise::Deferred::New(env);
    d.Reject(Napi::Error::New(env, ex.what()).Value());
    return d.Promise();
  }
}

Napi::Value EngineWrap::Dispose(const Napi::CallbackInfo& info) {
  engine_.reset();
  return info.Env().Undefined();
}

}  // namespace mv
