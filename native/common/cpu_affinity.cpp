#include "common/cpu_affinity.h"

#ifdef __linux__
#include <pthread.h>
#include <sched.h>
#endif

namespace mv {
namespace {

bool set_cpus(const std::vector<int>& cpus) {
#ifndef __linux__
  (void)cpus;
  return false;
#else
  cpu_set_t set;
  CPU_ZERO(&set);
  for (int c : cpus)
    if (c >= 0 && c < CPU_SETSIZE) CPU_SET(c, &set);
  return pthread_setaffinity_np(pthread_self(), sizeof set, &set) == 0;
#endif
}

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
  if (cpu < 0) return;
  before_ = allowed_cpus();
  pinned_ = !before_.empty() && set_cpus({cpu});
}

ScopedPin::~ScopedPin() {
  if (pinned_) set_cpus(before_);
}

void pin_this_thread(int cpu) {
  if (cpu >= 0) set_cpus({cpu});
}

}  // namespace mv
