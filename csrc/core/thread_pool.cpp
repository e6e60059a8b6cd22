#include "core/thread_pool.h"

#include <sched.h>

#include <algorithm>
#include <chrono>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define RRWKV_PAUSE() _mm_pause()
#elif defined(__aarch64__)
#define RRWKV_PAUSE() asm volatile("yield")
#else
#define RRWKV_PAUSE() ((void)0)
#endif

namespace rrwkv {
namespace {

// How long an idle worker spins before it sleeps: long enough to bridge the gap between two
// decode steps driven from Python, short enough not to burn a core for nothing.
constexpr auto kSpinTime = std::chrono::microseconds(300);

}  // namespace

int ThreadPool::available_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    int n = CPU_COUNT(&set);
    if (n > 0) return n;
  }
  unsigned n = std::thread::hardware_concurrency();
  return n > 0 ? static_cast<int>(n) : 1;
}

ThreadPool::ThreadPool(int n_threads) : n_threads_(n_threads < 1 ? 1 : n_threads) {
  try {
    workers_.reserve(n_threads_ - 1);
    for (int i = 1; i < n_threads_; ++i) workers_.emplace_back([this, i] { worker_loop(i); });
  } catch (...) {
    // A thread that could not start (EAGAIN: out of threads or address space) or a failed
    // allocation: the workers already running wait on cv_, which dies with this object, and a
    // joinable std::thread must not be destroyed. Stop and join them, then report the failure.
    stop_workers();
    throw;
  }
}

ThreadPool::~ThreadPool() { stop_workers(); }

void ThreadPool::stop_workers() noexcept {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_.store(true);
    generation_.fetch_add(1);
  }
  cv_.notify_all();
  for (auto& t : workers_) t.join();
  workers_.clear();
}

// Guided scheduling: a claim takes 1/(2n) of the tasks left, so each thread first streams a long
// contiguous run of rows (what the hardware prefetchers like) and the end still balances finely.
void ThreadPool::claim_tasks(int thread) {
  uint64_t c = claim_.load(std::memory_order_acquire);
  for (;;) {
    const uint64_t next = c & kTaskMask, count = (c >> kTaskBits) & kTaskMask;
    if (next >= count) return;  // this region has no task left (or is over)
    const uint64_t take = std::max<uint64_t>(1, (count - next) / (2 * static_cast<uint64_t>(n_threads_)));
    if (!claim_.compare_exchange_weak(c, c + take, std::memory_order_acq_rel, std::memory_order_acquire)) continue;
    // The claimed tasks keep their region open, so call_ and ctx_ are this region's.
    for (uint64_t t = next; t < next + take; ++t) call_(ctx_, static_cast<int64_t>(t), thread);
    done_.fetch_add(static_cast<int64_t>(take), std::memory_order_release);
    c = claim_.load(std::memory_order_acquire);
  }
}

void ThreadPool::run_impl(int64_t n_tasks, Call call, void* ctx) {
  for (int64_t base = 0; base < n_tasks; base += kMaxTasksPerRegion) {
    const int64_t count = std::min(kMaxTasksPerRegion - 1, n_tasks - base);
    struct Shifted {
      Call call;
      void* ctx;
      int64_t base;
    } shifted{call, ctx, base};
    call_ = base == 0 ? call : [](void* p, int64_t task, int thread) {
      auto* s = static_cast<Shifted*>(p);
      s->call(s->ctx, s->base + task, thread);
    };
    ctx_ = base == 0 ? ctx : &shifted;
    done_.store(0, std::memory_order_relaxed);
    region_ = (region_ + 1) & ((uint64_t{1} << (64 - 2 * kTaskBits)) - 1);
    claim_.store((region_ << (2 * kTaskBits)) | (static_cast<uint64_t>(count) << kTaskBits),
                 std::memory_order_release);
    generation_.fetch_add(1);  // seq_cst: pairs with sleeping_ in worker_loop
    if (sleeping_.load() > 0) {
      std::lock_guard<std::mutex> lock(mu_);  // a worker between its check and its wait holds mu_
      cv_.notify_all();
    }
    claim_tasks(0);
    for (uint32_t spins = 0; done_.load(std::memory_order_acquire) != count; ++spins) {
      if (spins < (1u << 12)) RRWKV_PAUSE();
      else std::this_thread::yield();  // a worker holds the last task but was descheduled
    }
  }
}

void ThreadPool::worker_loop(int thread) {
  uint64_t seen = 0;  // the generation at construction: a region may start before this thread runs
  for (;;) {
    // Wait for the next region: spin for kSpinTime, then sleep.
    uint64_t gen = generation_.load(std::memory_order_acquire);
    if (gen == seen) {
      const auto start = std::chrono::steady_clock::now();
      for (uint32_t i = 1;; ++i) {
        RRWKV_PAUSE();
        gen = generation_.load(std::memory_order_acquire);
        if (gen != seen) break;
        if ((i & 255) == 0 && std::chrono::steady_clock::now() - start > kSpinTime) {
          std::unique_lock<std::mutex> lock(mu_);
          sleeping_.fetch_add(1);  // seq_cst: pairs with generation_ in run_impl
          cv_.wait(lock, [&] { return generation_.load() != seen; });
          sleeping_.fetch_sub(1);
          gen = generation_.load(std::memory_order_acquire);
          break;
        }
      }
    }
    seen = gen;
    if (stop_.load()) return;
    claim_tasks(thread);
  }
}

}  // namespace rrwkv
