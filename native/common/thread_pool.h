// A fixed pool of worker threads for data-parallel loops inside one engine step.
// The calling thread works too, so a pool of N threads uses N cores with N-1 workers.
//
// A step runs dozens of short loops back to back (a small model's matmul takes microseconds), and
// a small model's steps follow each other with only the JavaScript between them, so workers spin on
// the job word for a bounded time (kLinger) before sleeping: handing over a loop, or the next
// step's lanes, then costs about a cache-line transfer instead of a futex wake-up (tens of
// microseconds on a VM). Once no job came for kLinger they sleep, so an idle engine burns nothing.
//
// The items of a loop are claimed in chunks (shrinking as it drains) from one counter, not split into one fixed
// share per thread: on a machine shared with other processes a thread is often descheduled for a
// time slice (milliseconds), and with fixed shares every loop waited for it, so two threads were
// slower than one. Now whoever runs takes the next chunk, and the caller waits only for chunks
// already being worked on, never for a worker that has not started.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
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

  // Calls fn(begin, end) over contiguous chunks that cover [0, n) exactly once, on any of the
  // threads, and returns when all are done. An exception thrown by fn on any thread is rethrown
  // here (the first one), never left to terminate a worker. Not re-entrant: one parallel_for at a
  // time.
  void parallel_for(size_t n, const std::function<void(size_t, size_t)>& fn);

 private:
  void worker_loop();
  // Waits until the job word's generation differs from seen or stop_ is set: spins up to kLinger,
  // then sleeps.
  void await_job(uint32_t seen);
  // Claims and runs chunks of generation gen until none are left.
  void work(uint32_t gen);

  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable wake_, done_;
  // Written by parallel_for between closing the old job and opening the new one in job_word_, used
  // by threads that claimed a chunk of the new one (the caller cannot finish, and so cannot rewrite
  // them, while a claimed chunk runs).
  const std::function<void(size_t, size_t)>* job_ = nullptr;
  std::atomic<size_t> job_n_{0}, chunk_{1};
  // High 32 bits: a generation; low 32 bits: the next unclaimed item. One word, so a thread that
  // wakes late for an old job can never claim items of a newer one. Each job takes two generations:
  // an odd one with nothing to claim while its fields are written, then the even one that opens it.
  std::atomic<uint64_t> job_word_{0};
  std::atomic<size_t> done_items_{0};
  std::atomic<bool> caller_sleeping_{false};
  std::atomic<int> sleepers_{0};
  std::atomic<bool> stop_{false};
  std::exception_ptr error_;  // first exception of the current job, under mu_
};

}  // namespace mv
