#include "common/thread_pool.h"

#include <algorithm>
#include <chrono>
#include <limits>

#include "common/check.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define MV_PAUSE() _mm_pause()
#else
#define MV_PAUSE() std::this_thread::yield()
#endif

namespace mv {

namespace {
// Pause instructions the caller spins on chunks still running before it sleeps: roughly 40-100
// microseconds (a pause is 20-50 ns), far longer than the gap between two threads' last chunks.
constexpr int kSpins = 1 << 11;
// How long a worker spins for the next job before sleeping. Between two steps of a small model it
// waits for the JavaScript of one step (the promise settling, sampling, scheduling, the next
// step's arguments) and the addon's hand-off to its worker thread: 60-100 microseconds measured on
// the 2-core dev VM, and more when another process takes a core for a moment.
constexpr std::chrono::microseconds kLinger(300);
// Pauses between two reads of the clock while lingering (a read costs about as much as a pause).
constexpr int kPausesPerClockRead = 16;
// How often a lingering worker offers its core to other threads. On a machine as busy as it has
// cores, a spinner could otherwise hold a core our own JavaScript or step thread is waiting for
// until the scheduler's next tick (milliseconds). A yield costs about 2 microseconds on the VM.
constexpr std::chrono::microseconds kYieldEvery(20);
// Chunks shrink as the loop drains (guided): each claim takes the unclaimed items over twice the
// thread count, and never fewer than a kChunksPerThread-th share of the loop per thread. Big chunks
// first keep claims (one atomic add on a shared line) rare; small ones last mean the threads finish
// together, where equal chunks of an eighth left the caller waiting on the other thread's last one.
// Decode of the 150M bench model runs ~60 loops a step: 4-7% faster at one sequence (alternating
// builds, Q8_0 and f16, 2 threads).
constexpr size_t kChunksPerThread = 8;

uint32_t generation_of(uint64_t word) { return uint32_t(word >> 32); }
}  // namespace

ThreadPool::ThreadPool(int threads) {
  if (threads <= 0) threads = static_cast<int>(std::thread::hardware_concurrency());
  if (threads <= 0) threads = 1;
  for (int i = 1; i < threads; ++i) workers_.emplace_back([this] { worker_loop(); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  for (auto& t : workers_) t.join();
}

void ThreadPool::work(uint32_t gen) {
  for (;;) {
    uint64_t word = job_word_.load(std::memory_order_acquire);
    size_t begin, n, chunk;
    do {
      begin = size_t(uint32_t(word));
      n = job_n_.load(std::memory_order_relaxed);
      chunk = chunk_.load(std::memory_order_relaxed);
      if (generation_of(word) != gen || begin >= n) return;
      chunk = std::max(chunk, (n - begin) / (2 * (workers_.size() + 1)));
    } while (!job_word_.compare_exchange_weak(word, word + chunk, std::memory_order_acq_rel));
    // The claim succeeded on this generation's word, so n and chunk were this job's.
    const size_t end = begin + chunk < n ? begin + chunk : n;
    try {
      (*job_)(begin, end);
    } catch (...) {
      std::lock_guard<std::mutex> lock(mu_);
      if (!error_) error_ = std::current_exception();
    }
    if (done_items_.fetch_add(end - begin) + (end - begin) == n && caller_sleeping_.load()) {
      { std::lock_guard<std::mutex> lock(mu_); }  // the caller is waiting on done_ or about to
      done_.notify_one();
    }
  }
}

void ThreadPool::parallel_for(size_t n, const std::function<void(size_t, size_t)>& fn) {
  if (n == 0) return;
  const int k = size();
  if (k == 1 || n == 1) {
    fn(0, n);
    return;
  }
  MV_CHECK(n <= (size_t(1) << 31), "parallel_for: too many items");  // claims stay inside the low 32 bits
  // Close: a late thread of the previous job can no longer claim, and nobody claims this one yet.
  const uint32_t closed = generation_of(job_word_.load()) + 1, gen = closed + 1;
  job_word_.store(uint64_t(closed) << 32 | std::numeric_limits<uint32_t>::max());
  job_ = &fn;
  job_n_.store(n, std::memory_order_relaxed);
  chunk_.store((n + kChunksPerThread * k - 1) / (kChunksPerThread * k), std::memory_order_relaxed);
  done_items_.store(0);
  job_word_.store(uint64_t(gen) << 32, std::memory_order_release);
  // A worker that found no job under the lock is waiting by the time we can take the lock.
  if (sleepers_.load() > 0) {
    { std::lock_guard<std::mutex> lock(mu_); }
    wake_.notify_all();
  }
  work(gen);
  // Every item is claimed; wait for the chunks other threads are still running (usually none).
  for (int spins = 0; done_items_.load(std::memory_order_acquire) != n && spins < kSpins; ++spins) MV_PAUSE();
  if (done_items_.load(std::memory_order_acquire) != n) {
    std::unique_lock<std::mutex> lock(mu_);
    caller_sleeping_.store(true);
    done_.wait(lock, [&] { return done_items_.load() == n; });
    caller_sleeping_.store(false);
  }
  job_ = nullptr;
  std::exception_ptr error;
  {
    std::lock_guard<std::mutex> lock(mu_);
    error = error_;
    error_ = nullptr;
  }
  if (error) std::rethrow_exception(error);
}

void ThreadPool::await_job(uint32_t seen) {
  const auto start = std::chrono::steady_clock::now();
  auto next_yield = start + kYieldEvery;
  for (int spins = 1;; ++spins) {
    if (generation_of(job_word_.load()) != seen || stop_.load()) return;
    if (spins % kPausesPerClockRead == 0) {
      const auto now = std::chrono::steady_clock::now();
      if (now >= start + kLinger) break;
      if (now >= next_yield) {
        std::this_thread::yield();
        next_yield = now + kYieldEvery;
      }
    }
    MV_PAUSE();
  }
  std::unique_lock<std::mutex> lock(mu_);
  sleepers_.fetch_add(1);
  wake_.wait(lock, [&] { return stop_.load() || generation_of(job_word_.load()) != seen; });
  sleepers_.fetch_sub(1);
}

void ThreadPool::worker_loop() {
  uint32_t seen = 0;
  for (;;) {
    await_job(seen);
    if (stop_.load()) return;
    seen = generation_of(job_word_.load(std::memory_order_acquire));
    work(seen);
  }
}

}  // namespace mv
