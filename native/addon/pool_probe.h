// An addon function that reaches the engine's thread pool with no engine, so a test can check its
// contract directly: every item of a loop run exactly once, over loops big and small, and an
// exception in any chunk rethrown to the caller with the pool still usable.
#pragma once
#include <napi.h>

namespace mv {

// threadPoolCover(n, threads, loops, throwAt?): on a new pool of `threads` threads, runs `loops`
// parallel_for loops over [0, n) back to back, each adding one to a counter per item it is given;
// with throwAt, first one loop whose chunk holding item throwAt throws. Returns {counts:
// Uint32Array(n), error: the thrown message or null}.
Napi::Value ThreadPoolCover(const Napi::CallbackInfo& info);

}  // namespace mv
