// The buffer a step's logits rows go into. The step writes every float of it, so growing it leaves
// the new floats uninitialised: a plain std::vector<float> zero-filled them first (128 KB for one
// row of a 32000-token vocabulary, 45 us of a 2.5 ms Q8_0 decode step whenever no buffer came back
// from JavaScript to be reused).
#pragma once
#include <memory>
#include <new>
#include <type_traits>
#include <utility>
#include <vector>

namespace mv {

// std::allocator, except that construct() with no arguments default-initialises (leaves a float as
// it is) instead of value-initialising (zeroing) it.
template <class T>
struct UninitializedAllocator : std::allocator<T> {
  template <class U>
  struct rebind {
    using other = UninitializedAllocator<U>;
  };
  UninitializedAllocator() = default;
  template <class U>
  UninitializedAllocator(const UninitializedAllocator<U>&) noexcept {}
  template <class U>
  void construct(U* p) noexcept(std::is_nothrow_default_constructible<U>::value) {
    ::new (static_cast<void*>(p)) U;
  }
  template <class U, class... Args>
  void construct(U* p, Args&&... args) {
    ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
  }
};

using LogitsRows = std::vector<float, UninitializedAllocator<float>>;

}  // namespace mv
