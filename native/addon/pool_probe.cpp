#include "addon/pool_probe.h"

#include <atomic>
#include <memory>
#include <stdexcept>
#include <string>

#include "common/check.h"
#include "common/thread_pool.h"

namespace mv {

namespace {
size_t int_arg(const Napi::CallbackInfo& info, size_t i, const char* what, double lo) {
  MV_CHECK(info.Length() > i && info[i].IsNumber(), std::string(what) + " must be a number");
  const double d = info[i].As<Napi::Number>().DoubleValue();
  MV_CHECK(d >= lo && d == double(int64_t(d)) && d <= 1e7, std::string(what) + " must be an integer in " + std::to_string(int(lo)) + "..1e7");
  return size_t(d);
}
}  // namespace

Napi::Value ThreadPoolCover(const Napi::CallbackInfo& info) {
  const size_t n = int_arg(info, 0, "n", 1), threads = int_arg(info, 1, "threads", 1), loops = int_arg(info, 2, "loops", 1);
  MV_CHECK(threads <= 64, "threads must be at most 64");
  const bool throws = info.Length() > 3 && !info[3].IsUndefined();
  const size_t throw_at = throws ? int_arg(info, 3, "throwAt", 0) : 0;
  auto counts = std::make_unique<std::atomic<uint32_t>[]>(n);
  for (size_t i = 0; i < n; ++i) counts[i].store(0);
  ThreadPool pool{int(threads)};
  Napi::Value error = info.Env().Null();
  if (throws) {
    try {
      pool.parallel_for(n, [&](size_t begin, size_t end) {
        if (begin <= throw_at && throw_at < end) throw std::runtime_error("item " + std::to_string(throw_at) + " failed");
      });
    } catch (const std::exception& e) {
      error = Napi::String::New(info.Env(), e.what());
    }
  }
  for (size_t l = 0; l < loops; ++l)
    pool.parallel_for(n, [&](size_t begin, size_t end) {
      for (size_t i = begin; i < end; ++i) counts[i].fetch_add(1, std::memory_order_relaxed);
    });
  Napi::Uint32Array out = Napi::Uint32Array::New(info.Env(), n);
  for (size_t i = 0; i < n; ++i) out[i] = counts[i].load();
  Napi::Object result = Napi::Object::New(info.Env());
  result.Set("counts", out);
  result.Set("error", error);
  return result;
}

}  // namespace mv
