// A decode step's matrix streaming alone, against the read-bandwidth probe the decode floor uses:
// how far the exact matvec kernels and the thread pool are from the floor, with none of the
// per-token work beside them.
//   bash tools/microbench/run.sh decode_stream [THREADS [ISA]]
// With BASE=<another matvec_avx512.cpp> (e.g. main's), its kernels stream the same matrices in
// the same rounds, interleaved, and the ratio of the two times is printed: on a shared machine
// the floor itself moves from run to run, the ratio much less.
// Every matrix of a 169M RWKV-4 (12 layers of 768 x 768 and 768 x 3072 projections, the 50277 x
// 768 head) in each weight type, laid out one after another in memory with 2 MiB pages, is
// multiplied with one vector per "token", one parallel region per matrix in 128 KiB tasks as
// ops/linear_cpu.cpp splits them. Wall-clock medians of 7 rounds of 5 tokens, each round followed
// by the probe (kernels/cpu/bandwidth.cpp) on a buffer of the same size, so the ratio is read
// under the same conditions: "x floor" is token time / (bytes / probe bandwidth).
#include <sys/mman.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "core/thread_pool.h"
#include "kernels/cpu/bandwidth.h"
#include "kernels/cpu/matvec.h"
#include "base_kernels.h"


using namespace rrwkv;

namespace {

double wall_now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

constexpr int64_t kTaskBytes = 131072;  // as ops/linear_cpu.cpp's kMatvecTaskBytes

void measure(DType dt, ThreadPool& pool) {
  const int64_t C = 768;
  std::vector<std::pair<int64_t, int64_t>> shapes;  // rows, cols
  for (int layer = 0; layer < 12; ++layer) {
    for (int i = 0; i < 4; ++i) shapes.push_back({C, C});  // attention k, v, r, output
    shapes.push_back({4 * C, C});                          // ffn key
    shapes.push_back({C, 4 * C});                          // ffn value
    shapes.push_back({C, C});                              // ffn receptance
  }
  shapes.push_back({50277, C});  // head
  std::vector<int64_t> offsets;
  int64_t total = 0;
  for (auto [rows, cols] : shapes) {
    offsets.push_back(total);
    total += (rows * row_bytes(dt, cols) + 4095) / 4096 * 4096;
  }
  auto* mem = static_cast<uint8_t*>(::mmap(nullptr, static_cast<size_t>(total), PROT_READ | PROT_WRITE,
                                           MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  if (mem == MAP_FAILED) {
    std::perror("mmap");
    std::exit(1);
  }
  (void)::madvise(mem, static_cast<size_t>(total), MADV_HUGEPAGE);
  // zero floats; for the quantized types zero scales over varied values (the kernels' work does
  // not depend on the values)
  const bool quantized = dt == DType::Q8_0 || dt == DType::Q4_1;
  for (int64_t i = 0; i < total; ++i) mem[i] = quantized ? static_cast<uint8_t>(i * 7) : 0;
  std::vector<Matrix> ms;
  for (size_t i = 0; i < shapes.size(); ++i)
    ms.push_back(Matrix::dense(mem + offsets[i], dt, shapes[i].first, shapes[i].second));
  std::vector<float> x(4 * C, 0.5f), y(50277);
  std::vector<const cpu::KernelTable*> tables = {&cpu::kernels()};
#ifdef RRWKV_MICROBENCH_BASE
  tables.push_back(cpu::kernels_avx512_base());
#endif
  auto token = [&](const cpu::KernelTable& k) {
    for (const Matrix& w : ms) {
      const int64_t per = std::max<int64_t>(1, kTaskBytes / w.ld), tasks = (w.rows + per - 1) / per;
      pool.run(tasks, [&](int64_t t, int) {
        const float* xs[1] = {x.data()};
        float* ys[1] = {y.data()};
        k.matvec(w, xs, 1, ys, t * per, std::min(w.rows, (t + 1) * per));
      });
    }
  };
  for (const cpu::KernelTable* k : tables)
    for (int i = 0; i < 3; ++i) token(*k);
  std::vector<std::vector<double>> times(tables.size());
  std::vector<double> rates;
  for (int round = 0; round < 7; ++round) {
    for (size_t j = 0; j < tables.size(); ++j) {
      const size_t i = round % 2 ? tables.size() - 1 - j : j;  // alternating who goes first (caches)
      const double t0 = wall_now();
      for (int n = 0; n < 5; ++n) token(*tables[i]);
      times[i].push_back((wall_now() - t0) / 5);
    }
    rates.push_back(cpu::measure_read_bandwidth(total, pool.size(), 3));
  }
  const double probe = median(rates);
  for (size_t i = 0; i < tables.size(); ++i) {
    const double t = median(times[i]);
    std::printf("%-5s %-7s%s %d thread(s): %6.1f MB  %7.2f ms/token  %5.1f GB/s  probe %5.1f GB/s  x floor %.3f",
                dtype_name(dt), tables[i]->name, i > 0 ? " BASE" : "", pool.size(), static_cast<double>(total) / 1e6,
                t * 1e3, static_cast<double>(total) / t / 1e9, probe / 1e9, t * probe / static_cast<double>(total));
    if (i > 0) {
      std::vector<double> ratios;  // this build / BASE, round by round
      for (size_t r = 0; r < times[0].size(); ++r) ratios.push_back(times[0][r] / times[i][r]);
      std::printf("  (this build's time / BASE's: median %.3f)", median(ratios));
    }
    std::printf("\n");
  }
  ::munmap(mem, static_cast<size_t>(total));
}

}  // namespace

int main(int argc, char** argv) {
  const int threads = argc > 1 ? std::atoi(argv[1]) : 2;
  if (argc > 2) cpu::set_isa(argv[2]);
  ThreadPool pool(threads);
  for (DType dt : {DType::F32, DType::F16, DType::Q8_0, DType::Q4_1}) measure(dt, pool);
}
