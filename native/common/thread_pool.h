// A fixed pool of worker threads for data-parallel loops inside one engine step.
// The calling thread works too, so a pool of N threads uses N cores with N-1 workers.
//
// A step runs dozens of short loops back to back (a small model's matmul takes microseconds), so
// workers spin briefly on the job counter before sleeping: handing over a loop then costs about a
// cache-line transfer instead of a futex wake-up. Between steps they fall asleep again.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace mv {

class ThreadPool {
 public:
  explicit ThreadPool(int threads);  // threads <= 0: hardware concurrency
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return static_cast<int>(workers_.size()) + 1; }

  // Calls fn(begin, end) over [0, n) split into contiguous chunks, one per thread, and returns
  // when all are done. An exception thrown by fn on any thread is rethrown here (the first one),
  // never left to terminate a worker. Not re-entrant: one parallel_for at a time.
  void parallel_for(size_t n, const std::function<void(size_t, size_t)>& fn);

 private:
  void worker_loop(int index);
  // Waits until generation_ differs from seen or stop_ is set: spins first, then sleeps.
  void await_job(unsigned long seen);

  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable wake_, done_;
  // Written by parallel_for before it bumps generation_, read by workers after they see the bump.
  const std::function<void(size_t, size_t)>* job_ = nullptr;
  size_t job_n_ = 0;
  std::atomic<unsigned long> generation_{0};
  std::atomic<int> pending_{0};
  std::atomic<int> sleepers_{0};
  std::atomic<bool> stop_{false};
  std::exception_ptr error_;  // first exception of the current job, under mu_
};

}  // namespace mv
