#include "addon/js_args.h"

#include <cstdint>
#include <string>

#include "common/check.h"

namespace mv {

double number_arg(const Napi::CallbackInfo& info, size_t i, const char* what) {
  MV_CHECK(info.Length() > i && info[i].IsNumber(), std::string(what) + " must be a number");
  return info[i].As<Napi::Number>().DoubleValue();
}

size_t count_arg(const Napi::CallbackInfo& info, size_t i, const char* what, size_t min) {
  const double d = number_arg(info, i, what);
  MV_CHECK(d >= double(min) && d < 1e9 && d == double(int64_t(d)), std::string(what) + " must be an integer >= " + std::to_string(min));
  return size_t(d);
}

}  // namespace mv
