// A small persistent thread pool: the calling thread plus n-1 workers run "parallel regions"
// (a set of tasks claimed dynamically) that end when every task has run. Workers spin briefly
// between regions (a decode step runs ~50 regions back to back), then sleep on a condition
// variable. A region never waits for a worker that is not running (more threads than cores):
// whoever is running claims the remaining tasks. One pool serves one caller at a time (the
// Engine that owns it serialises its calls; a Session is an engine of one row).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

namespace rrwkv {

class ThreadPool {
 public:
  // n_threads >= 1; 1 runs everything on the caller. Throws std::system_error (or bad_alloc)
  // if the threads cannot be started, after stopping the ones that did.
  explicit ThreadPool(int n_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return n_threads_; }

  // Calls fn(task, thread) for every task in [0, n_tasks) and returns when all have run.
  // thread is in [0, size()): 0 is the caller. fn must not throw.
  template <class F>
  void run(int64_t n_tasks, F&& fn) {
    if (n_tasks <= 0) return;
    if (n_threads_ == 1 || n_tasks == 1) {
      for (int64_t i = 0; i < n_tasks; ++i) fn(i, 0);
      return;
    }
    using Fn = std::remove_reference_t<F>;
    run_impl(n_tasks, [](void* ctx, int64_t task, int thread) { (*static_cast<Fn*>(ctx))(task, thread); },
             const_cast<void*>(static_cast<const void*>(&fn)));
  }

  // Number of CPUs this process may run on (sched_getaffinity), at least 1.
  static int available_cpus();

 private:
  using Call = void (*)(void*, int64_t, int);
  void run_impl(int64_t n_tasks, Call call, void* ctx);
  void worker_loop(int thread);
  void stop_workers() noexcept;
  void claim_tasks(int thread);

  // claim_ packs (region tag, task count, next task) so that a claim is valid only for the
  // region it was read from: a late worker can never run a task of a finished region.
  static constexpr int kTaskBits = 20;
  static constexpr uint64_t kTaskMask = (uint64_t{1} << kTaskBits) - 1;
  static constexpr int64_t kMaxTasksPerRegion = int64_t{1} << kTaskBits;

  const int n_threads_;
  std::vector<std::thread> workers_;
  // the current region (written by the caller before it publishes claim_)
  Call call_ = nullptr;
  void* ctx_ = nullptr;
  uint64_t region_ = 0;
  alignas(64) std::atomic<uint64_t> claim_{0};
  alignas(64) std::atomic<int64_t> done_{0};  // tasks of the current region that have run
  alignas(64) std::atomic<uint64_t> generation_{0};  // bumped per region: wakes the workers
  std::atomic<int> sleeping_{0};
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::condition_variable cv_;
};

}  // namespace rrwkv
