// Number arguments of the addon's plain functions, checked: a wrong one throws an error that names it.
#pragma once
#include <napi.h>

#include <cstddef>

namespace mv {

// info[i] as a number; "<what> must be a number" otherwise.
double number_arg(const Napi::CallbackInfo& info, size_t i, const char* what);
// info[i] as a whole number in [min, 1e9); "<what> must be an integer >= <min>" otherwise.
size_t count_arg(const Napi::CallbackInfo& info, size_t i, const char* what, size_t min = 1);

}  // namespace mv
