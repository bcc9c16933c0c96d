// Which CPUs the process may run on, and keeping a thread on one of them.
//
// A decode step is two threads streaming weights in loops that meet every few microseconds. Left to
// the scheduler, the step's caller and the pool's worker were now and then put on one core, or
// moved, mid-step. Kept on cores of their own (2 cores, the bench model's GGUFs, the two builds in
// turn, each in its own process, 1500 or 600 one-sequence steps a run): Q8_0 mean step 1.05-1.20x
// faster in 4 of 4 rounds, median 0.98-1.13x; f16 mean 1.06-1.075x, median 1.03-1.05x (2 of 2).
// The slow steps are what went: a step waiting for a thread the scheduler had moved. See
// ThreadPool::caller_cpu for who keeps to which CPU.
#pragma once
#include <vector>

#ifdef __linux__
#include <sched.h>
#endif

namespace mv {

// The CPUs this thread may run on (the process's affinity as inherited), in ascending order; empty
// where the system does not say.
std::vector<int> allowed_cpus();

// Keeps the calling thread on `cpu` until destroyed, then gives it back the CPUs it had. cpu < 0, or
// a system that refuses: does nothing. For a borrowed thread (the step runs on one of Node's
// libuv workers, which serve other work between steps); once a step, so two system calls and
// no allocation.
class ScopedPin {
 public:
  explicit ScopedPin(int cpu);
  ~ScopedPin();
  ScopedPin(const ScopedPin&) = delete;
  ScopedPin& operator=(const ScopedPin&) = delete;

 private:
  bool pinned_ = false;
#ifdef __linux__
  cpu_set_t before_;
#endif
};

// Keeps the calling thread on `cpu` for good (a thread the pool owns). cpu < 0: nothing.
void pin_this_thread(int cpu);

}  // namespace mv
