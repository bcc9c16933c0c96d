#include "common/cpu_affinity.h"

#ifdef __linux__
#include <pthread.h>
#endif

namespace mv {
namespace {

#ifdef __linux__
bool set_cpus(const cpu_set_t& set) { return pthread_setaffinity_np(pthread_self(), sizeof set, &set) == 0; }

bool set_one_cpu(int cpu) {
  if (cpu < 0 || cpu >= CPU_SETSIZE) return false;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  return set_cpus(set);
}
#endif

}  // namespace

std::vector<int> allowed_cpus() {
  std::vector<int> cpus;
#ifdef __linux__
  cpu_set_t set;
  CPU_ZERO(&set);
  if (pthread_getaffinity_np(pthread_self(), sizeof set, &set) != 0) return cpus;
  for (int c = 0; c < CPU_SETSIZE; ++c)
    if (CPU_ISSET(c, &set)) cpus.push_back(c);
#endif
  return cpus;
}

ScopedPin::ScopedPin(int cpu) {
#ifdef __linux__
  if (cpu < 0 || pthread_getaffinity_np(pthread_self(), sizeof before_, &before_) != 0) return;
  pinned_ = set_one_cpu(cpu);
#else
  (void)cpu;
#endif
}

ScopedPin::~ScopedPin() {
#ifdef __linux__
  if (pinned_) set_cpus(before_);
#endif
}

void pin_this_thread(int cpu) {
#ifdef __linux__
  set_one_cpu(cpu);
#else
  (void)cpu;
#endif
}

}  // namespace mv
