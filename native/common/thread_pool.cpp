#include "common/thread_pool.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define MV_PAUSE() _mm_pause()
#else
#define MV_PAUSE() std::this_thread::yield()
#endif

namespace mv {

namespace {
// Chunk i of n items split over k threads.
void chunk(size_t n, int k, int i, size_t* begin, size_t* end) {
  *begin = n * static_cast<size_t>(i) / static_cast<size_t>(k);
  *end = n * static_cast<size_t>(i + 1) / static_cast<size_t>(k);
}

// Pause instructions spun before sleeping: roughly 50-100 microseconds, longer than the gap
// between two loops of one step, much shorter than the JavaScript work between two steps.
constexpr int kSpins = 1 << 11;
}  // namespace

ThreadPool::ThreadPool(int threads) {
  if (threads <= 0) threads = static_cast<int>(std::thread::hardware_concurrency());
  if (threads <= 0) threads = 1;
  for (int i = 1; i < threads; ++i) workers_.emplace_back([this, i] { worker_loop(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  for (auto& t : workers_) t.join();
}

void ThreadPool::parallel_for(size_t n, const std::function<void(size_t, size_t)>& fn) {
  if (n == 0) return;
  const int k = size();
  if (k == 1 || n == 1) {
    fn(0, n);
    return;
  }
  job_ = &fn;
  job_n_ = n;
  pending_.store(k - 1);
  generation_.fetch_add(1);
  // A worker that found no job under the lock is waiting by the time we can take the lock.
  if (sleepers_.load() > 0) {
    { std::lock_guard<std::mutex> lock(mu_); }
    wake_.notify_all();
  }
  size_t b, e;
  chunk(n, k, 0, &b, &e);
  std::exception_ptr mine;
  try {
    if (b < e) fn(b, e);
  } catch (...) {
    mine = std::current_exception();
  }
  for (int spins = 0; pending_.load() != 0 && spins < kSpins; ++spins) MV_PAUSE();
  std::unique_lock<std::mutex> lock(mu_);
  done_.wait(lock, [this] { return pending_.load() == 0; });
  job_ = nullptr;
  std::exception_ptr error = mine ? mine : error_;
  error_ = nullptr;
  if (error) std::rethrow_exception(error);
}

void ThreadPool::await_job(unsigned long seen) {
  for (int spins = 0; spins < kSpins; ++spins) {
    if (generation_.load() != seen || stop_.load()) return;
    MV_PAUSE();
  }
  std::unique_lock<std::mutex> lock(mu_);
  sleepers_.fetch_add(1);
  wake_.wait(lock, [&] { return stop_.load() || generation_.load() != seen; });
  sleepers_.fetch_sub(1);
}

void ThreadPool::worker_loop(int index) {
  unsigned long seen = 0;
  for (;;) {
    await_job(seen);
    if (stop_.load()) return;
    seen = generation_.load();
    const std::function<void(size_t, size_t)>* job = job_;
    const size_t n = job_n_;
    size_t b, e;
    chunk(n, size(), index, &b, &e);
    std::exception_ptr failed;
    try {
      if (b < e) (*job)(b, e);
    } catch (...) {
      failed = std::current_exception();
    }
    if (failed) {
      std::lock_guard<std::mutex> lock(mu_);
      if (!error_) error_ = failed;
    }
    if (pending_.fetch_sub(1) == 1) {
      // The caller may have stopped spinning and be waiting on done_.
      { std::lock_guard<std::mutex> lock(mu_); }
      done_.notify_one();
    }
  }
}

}  // namespace mv
