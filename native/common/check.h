// Precondition checks that throw instead of crashing: every error reaching the addon boundary
// becomes a JS exception (NODE_ADDON_API_CPP_EXCEPTIONS_ALL), never an abort.
#pragma once
#include <stdexcept>
#include <string>

namespace mv {

struct EngineError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

#define MV_CHECK(cond, msg)                                 \
  do {                                                      \
    if (!(cond)) throw ::mv::EngineError(std::string(msg)); \
  } while (0)

}  // namespace mv
