// Speed of the GPU recurrences for decode steps (gpu/recurrence.h) against the memory floor: a
// decode step reads and writes every row's state once, so its floor is a device-to-device copy
// of the same bytes, measured in the same run. Prints, per architecture and batch size, the
// median time of a step, the copy's, and their ratio (a GPU is the judge; under the emulation the
// figures only show that it runs).
//
//   build/.../tests/gpu/rrwkv_gpu_bench [reps]      # tools/gpu_check.sh runs it on a GPU
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <vector>

#include "core/device.h"
#include "gpu/recurrence.h"
#include "gpu/runtime.h"

namespace {

using rrwkv::gpu::DeviceBuffer;

// Median seconds of `reps` timings of `launches` calls of fn, each timing ended by a synchronize.
double median_seconds(const std::function<void()>& fn, int launches, int reps, void* stream) {
  fn();
  rrwkv::gpu::synchronize(stream);  // warm up
  std::vector<double> t;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < launches; ++i) fn();
    rrwkv::gpu::synchronize(stream);
    t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / launches);
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  if (rrwkv::cuda_device_count() == 0) {
    std::fprintf(stderr, "rrwkv_gpu_bench: no CUDA device (%s)\n", rrwkv::cuda_status().c_str());
    return 3;
  }
  const int reps = argc > 1 ? std::atoi(argv[1]) : 7;
  const int launches = rrwkv::gpu_emulated() ? 1 : 20;
  const int64_t S = 64, H = 32, C = S * H;  // a 1.5B-shaped layer: 2048 channels, heads of 64
  std::printf("device: %s%s; C=%lld in heads of %lld; median of %d\n", rrwkv::cuda_status().c_str(),
              rrwkv::gpu_emulated() ? " (emulated: times say nothing)" : "", static_cast<long long>(C),
              static_cast<long long>(S), reps);
  std::printf("%-8s %6s %12s %12s %8s\n", "arch", "rows", "step us", "floor us", "ratio");
  rrwkv::gpu::OwnedStream stream;
  void* s = stream.get();
  for (int64_t n : {1, 8, 64, 256}) {
    if (rrwkv::gpu_emulated() && n > 8) break;
    const int64_t floats = H * S * S;  // one row's matrix states
    DeviceBuffer states = rrwkv::gpu::to_device(std::vector<float>(n * floats, 0.0f));
    DeviceBuffer copy(n * floats * sizeof(float));
    std::vector<int64_t> start(n + 1), row(n);
    for (int64_t i = 0; i <= n; ++i) start[i] = i;
    for (int64_t i = 0; i < n; ++i) row[i] = i;
    DeviceBuffer dstart = rrwkv::gpu::to_device(start), drow = rrwkv::gpu::to_device(row);
    // inputs: zeros are as fast as any values
    DeviceBuffer in = rrwkv::gpu::to_device(std::vector<float>(8 * n * C, 0.0f)), y(n * C * sizeof(float));
    const float* x = in.as<float>();
    const rrwkv::gpu::DeviceRows rows{n, dstart.as<int64_t>(), drow.as<int64_t>(), states.as<float>(), floats};
    const double floor = median_seconds(
        [&] { rrwkv::gpu::queue_copy(copy.data(), states.data(), n * floats * sizeof(float), s); }, launches, reps, s);
    rrwkv::gpu::Wkv5Batch b5;
    b5.rows = rows, b5.C = C, b5.head_size = S, b5.field = 0, b5.r = x, b5.k = x + n * C, b5.v = x + 2 * n * C;
    b5.w = x + 3 * n * C, b5.ldw = C, b5.u = x, b5.y = y.as<float>();
    rrwkv::gpu::Wkv7Batch b7;
    b7.rows = rows, b7.C = C, b7.head_size = S, b7.field = 0, b7.r = x, b7.w = x + n * C, b7.k = x + 2 * n * C;
    b7.v = x + 3 * n * C, b7.kappa = x + 4 * n * C, b7.a = x + 5 * n * C, b7.y = y.as<float>();
    const double t6 = median_seconds([&] { rrwkv::gpu::wkv5(b5, s); }, launches, reps, s);
    const double t7 = median_seconds([&] { rrwkv::gpu::wkv7(b7, s); }, launches, reps, s);
    for (auto [name, t] : {std::pair<const char*, double>{"rwkv6", t6}, {"rwkv7", t7}})
      std::printf("%-8s %6lld %12.2f %12.2f %8.2f\n", name, static_cast<long long>(n), t * 1e6, floor * 1e6, t / floor);
  }
  return 0;
}
