#include "kernels/cpu/bandwidth.h"

#include <sys/mman.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <vector>

#include "core/errors.h"
#include "core/thread_pool.h"
#include "kernels/cpu/matvec.h"

namespace rrwkv::cpu {

double measure_read_bandwidth(int64_t bytes, int threads, int repeats) {
  if (bytes < (1 << 20) || repeats < 1) throw InvalidArgument("measure_read_bandwidth needs >= 1 MiB and >= 1 repeat");
  ThreadPool pool(threads > 0 ? threads : ThreadPool::available_cpus());
  const int64_t n = bytes / static_cast<int64_t>(sizeof(float));
  // 2 MiB pages like the model mapping (mapped_file.cpp), so the floor is not slowed by page walks.
  void* mem = ::mmap(nullptr, static_cast<size_t>(n) * sizeof(float), PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) throw InvalidArgument("cannot allocate " + std::to_string(bytes) + " bytes");
  struct Unmap {
    void* p;
    size_t n;
    ~Unmap() { ::munmap(p, n); }
  } unmap{mem, static_cast<size_t>(n) * sizeof(float)};
#ifdef MADV_HUGEPAGE
  (void)::madvise(mem, static_cast<size_t>(n) * sizeof(float), MADV_HUGEPAGE);
#endif
  float* const buf = static_cast<float*>(mem);
  std::fill(buf, buf + n, 1.0f);  // touched: every page is resident
  constexpr int64_t kChunk = (1 << 20) / sizeof(float);
  const int64_t n_tasks = (n + kChunk - 1) / kChunk;
  std::vector<double> rates;
  std::atomic<float> sink{0.0f};
  for (int r = 0; r < repeats + 1; ++r) {  // the first pass warms up
    const auto t0 = std::chrono::steady_clock::now();
    pool.run(n_tasks, [&](int64_t task, int) {
      const int64_t i0 = task * kChunk;
      const float s = kernels().sum(buf + i0, std::min(kChunk, n - i0));
      if (s == -1.0f) sink.store(s);  // keeps the reads alive
    });
    const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (r > 0) rates.push_back(static_cast<double>(n) * sizeof(float) / dt);
  }
  std::sort(rates.begin(), rates.end());
  return rates[rates.size() / 2];
}

}  // namespace rrwkv::cpu
