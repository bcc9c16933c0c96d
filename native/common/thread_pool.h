// A fixed pool of worker threads for data-parallel loops inside one engine step.
// The calling thread works too, so a pool of N threads uses N cores with N-1 workers.
//
// A step runs dozens of short loops back to back (a small model's matmul takes microseconds), and
// a small model's steps follow each other with only the JavaScript between them, so workers spin on
// the job word for a bounded time (kLinger) before sleeping: handing over a loop, or the next
// step's lanes, then costs about a cache-line transfer instead of a futex wake-up (tens of
// microseconds on a VM). Once no job came for kLinger they sleep, so an idle engine burns nothing.
//
// Each thread owns a contiguous share of a loop and claims it front to back in chunks (halving as
// it drains); a thread done with its own share steals chunks from the back of the others'. Owning
// a share keeps each thread's reads one stream through memory (a matmul's rows in order, the
// kernels' prefetches landing in rows the same thread reads next): one counter that both threads
// claimed from interleaved them, and decode streamed 10-20% less of the memory's bandwidth.
// Stealing keeps what that counter gave: on a machine shared with other processes a thread is
// often descheduled for a time slice (milliseconds), and the caller then takes over its share
// instead of waiting for it; the caller waits only for chunks already being worked on.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
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

  // The CPU a caller should keep to while it drives this pool's loops (a ScopedPin), or -1. When the
  // pool has exactly one thread per CPU the process may use (the engine's default), worker i stays
  // on the i-th of those CPUs and the caller belongs on the first (cpu_affinity.h says why);
  // otherwise nothing is pinned.
  int caller_cpu() const { return caller_cpu_; }

  // Calls fn(begin, end) over contiguous chunks that cover [0, n) exactly once, on any of the
  // threads, and returns when all are done. An exception thrown by fn on any thread is rethrown
  // here (the first one), never left to terminate a worker. Not re-entrant: one parallel_for at a
  // time.
  void parallel_for(size_t n, const std::function<void(size_t, size_t)>& fn);

 private:
  // One thread's share of the current loop, in grains (grain_ items each): a generation (high 32
  // bits), the next unclaimed grain and the share's end (16 bits each). One word, so a thread that
  // wakes late for an old job can never claim grains of a newer one. Each on its own cache line.
  struct alignas(64) Share {
    std::atomic<uint64_t> word{0};
  };

  void worker_loop(size_t self);
  // Waits until the generation differs from seen or stop_ is set: spins up to kLinger, then sleeps.
  void await_job(uint32_t seen);
  // Runs chunks of generation gen, its own share's first, then the others', until none are left.
  void work(uint32_t gen, size_t self);
  // Claims a chunk of share s of generation gen, from its front (the owner) or its back (a thief):
  // [*begin, *end) in grains; false once the share is empty or gen is over.
  bool claim(size_t s, uint32_t gen, bool front, size_t* begin, size_t* end);

  std::vector<std::thread> workers_;
  int caller_cpu_ = -1;
  std::unique_ptr<Share[]> shares_;  // size() of them; the caller's is shares_[0]
  std::mutex mu_;
  std::condition_variable wake_, done_;
  // Written by parallel_for before it opens the shares of a new generation, used by threads that
  // claimed a chunk of it (the caller cannot finish, and so cannot rewrite them, while a claimed
  // chunk runs).
  const std::function<void(size_t, size_t)>* job_ = nullptr;
  size_t job_n_ = 0, grain_ = 1;
  std::atomic<size_t> min_chunk_{1};  // read before a claim succeeds, so atomic
  std::atomic<uint32_t> generation_{0};  // the latest job's; workers wait for it to change
  std::atomic<size_t> done_items_{0};
  std::atomic<bool> caller_sleeping_{false};
  std::atomic<int> sleepers_{0};
  std::atomic<bool> stop_{false};
  std::exception_ptr error_;  // first exception of the current job, under mu_
};

}  // namespace mv
