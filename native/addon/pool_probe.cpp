#include "addon/pool_probe.h"

#include <atomic>
#include <memory>
#include <stdexcept>
#include <string>

#include "addon/js_args.h"
#include "common/check.h"
#include "common/thread_pool.h"

namespace mv {

Napi::Value ThreadPoolCover(const Napi::CallbackInfo& info) {
  const size_t n = count_arg(info, 0, "n"), threads = count_arg(info, 1, "threads"), loops = count_arg(info, 2, "loops");
  MV_CHECK(n <= 10'000'000 && threads <= 64, "at most 1e7 items on 64 threads");
  const bool throws = info.Length() > 3 && !info[3].IsUndefined();
  const size_t throw_at = throws ? count_arg(info, 3, "throwAt", 0) : 0;
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
