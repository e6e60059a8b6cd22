// This thread's CPU time in seconds: the micro-benchmarks time one thread by it, so time spent
// waiting for a core on a busy machine does not count.
#pragma once

#include <ctime>

inline double cpu_now() {
  timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}
