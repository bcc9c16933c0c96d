#include "common/thread_pool.h"

#include <algorithm>
#include <chrono>

#include "common/cpu_affinity.h"

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
// A claim takes half of what is left of a share, and never less than a kChunksPerThread-th of a
// thread's share: few claims (each a CAS on a line another thread may hold) while a share is
// large, chunks small enough at its end that the threads finish a loop together.
constexpr size_t kChunksPerThread = 8;
// Share words count grains in 16 bits; a loop of more items claims them kMaxGrains-th by kMaxGrains-th.
constexpr size_t kMaxGrains = 0xffff;

uint64_t share_word(uint32_t gen, size_t next, size_t end) { return uint64_t(gen) << 32 | uint64_t(next) << 16 | end; }
uint32_t generation_of(uint64_t word) { return uint32_t(word >> 32); }
}  // namespace

ThreadPool::ThreadPool(int threads) {
  if (threads <= 0) threads = static_cast<int>(std::thread::hardware_concurrency());
  if (threads <= 0) threads = 1;
  shares_ = std::make_unique<Share[]>(size_t(threads));
  const std::vector<int> cpus = allowed_cpus();
  const bool pin = threads > 1 && cpus.size() == size_t(threads);
  if (pin) caller_cpu_ = cpus[0];
  for (int i = 1; i < threads; ++i) {
    const int cpu = pin ? cpus[size_t(i)] : -1;
    workers_.emplace_back([this, i, cpu] {
      pin_this_thread(cpu);
      worker_loop(size_t(i));
    });
  }
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  for (auto& t : workers_) t.join();
}

bool ThreadPool::claim(size_t s, uint32_t gen, bool front, size_t* begin, size_t* end) {
  std::atomic<uint64_t>& word = shares_[s].word;
  uint64_t w = word.load(std::memory_order_acquire);
  for (;;) {
    const size_t next = (w >> 16) & 0xffff, last = w & 0xffff;
    if (generation_of(w) != gen || next >= last) return false;
    const size_t chunk = std::min(last - next, std::max(min_chunk_.load(std::memory_order_relaxed), (last - next) / 2));
    const uint64_t claimed = front ? share_word(gen, next + chunk, last) : share_word(gen, next, last - chunk);
    if (word.compare_exchange_weak(w, claimed, std::memory_order_acq_rel)) {
      *begin = front ? next : last - chunk;
      *end = front ? next + chunk : last;
      return true;
    }
  }
}

void ThreadPool::work(uint32_t gen, size_t self) {
  const size_t k = size_t(size());
  for (size_t i = 0; i < k; ++i) {
    const size_t s = (self + i) % k;
    size_t g0, g1;
    while (claim(s, gen, s == self, &g0, &g1)) {
      // The claim succeeded on this generation's share, so job_, job_n_ and grain_ are this job's.
      const size_t begin = g0 * grain_, end = std::min(job_n_, g1 * grain_);
      try {
        (*job_)(begin, end);
      } catch (...) {
        std::lock_guard<std::mutex> lock(mu_);
        if (!error_) error_ = std::current_exception();
      }
      if (done_items_.fetch_add(end - begin) + (end - begin) == job_n_ && caller_sleeping_.load()) {
        { std::lock_guard<std::mutex> lock(mu_); }  // the caller is waiting on done_ or about to
        done_.notify_one();
      }
    }
  }
}

void ThreadPool::parallel_for(size_t n, const std::function<void(size_t, size_t)>& fn) {
  if (n == 0) return;
  const size_t k = size_t(size());
  if (k == 1 || n == 1) {
    fn(0, n);
    return;
  }
  // The previous job's shares are all empty, so no thread can claim from them while these change.
  const uint32_t gen = generation_.load() + 1;
  job_ = &fn;
  job_n_ = n;
  grain_ = (n + kMaxGrains - 1) / kMaxGrains;
  const size_t grains = (n + grain_ - 1) / grain_;
  min_chunk_.store(std::max<size_t>(1, grains / (kChunksPerThread * k)), std::memory_order_relaxed);
  done_items_.store(0);
  for (size_t s = 0; s < k; ++s) shares_[s].word.store(share_word(gen, grains * s / k, grains * (s + 1) / k), std::memory_order_release);
  generation_.store(gen, std::memory_order_release);
  // A worker that found no job under the lock is waiting by the time we can take the lock.
  if (sleepers_.load() > 0) {
    { std::lock_guard<std::mutex> lock(mu_); }
    wake_.notify_all();
  }
  work(gen, 0);
  // Every grain is claimed; wait for the chunks other threads are still running (usually none).
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
    if (generation_.load() != seen || stop_.load()) return;
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
  wake_.wait(lock, [&] { return stop_.load() || generation_.load() != seen; });
  sleepers_.fetch_sub(1);
}

void ThreadPool::worker_loop(size_t self) {
  uint32_t seen = 0;
  for (;;) {
    await_job(seen);
    if (stop_.load()) return;
    seen = generation_.load(std::memory_order_acquire);
    work(seen, self);
  }
}

}  // namespace mv
