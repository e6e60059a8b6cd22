// The fast path's bf16 kernel on AVX-512 (FMA emulation, fast_bf16_avx512.cpp) on weights packed
// once, one thread, CPU time: GMAC/s at 1, 8 and 64 activation rows, and GB/s of packed weights
// read at 1 row (a single sequence's decode).
//   BASE=<another fast_bf16_avx512.cpp> bash tools/microbench/run.sh fast_bf16 [COPIES]
// BASE (e.g. main's) is measured too, interleaved in the same repetitions. COPIES matrices of
// 3072 x 768 f16 are cycled (1: in cache; 12: from L3 or DRAM).
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include "core/dtype.h"
#include "core/matrix.h"
#include "kernels/cpu/fast_kernels.h"
#include "cpu_time.h"
#include "base_kernels.h"


using namespace rrwkv;

namespace {

struct Candidate {
  const char* label;
  const cpu::FastKernels* k;
  std::vector<std::vector<uint8_t>> packs;  // per copy, 64-byte aligned at offset
  double best[3] = {1e30, 1e30, 1e30};
};

uint8_t* aligned(std::vector<uint8_t>& v) {
  return v.data() + (64 - reinterpret_cast<uintptr_t>(v.data()) % 64) % 64;
}

}  // namespace

int main(int argc, char** argv) {
  const int64_t copies = argc > 1 ? std::atoi(argv[1]) : 1, rows = 3072, cols = 768, task = 64;
  const int ns[3] = {1, 8, 64};
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<uint16_t> w(static_cast<size_t>(copies * rows * cols));
  for (auto& h : w)  // f16 of magnitude 2^-5 .. 1, either sign
    h = static_cast<uint16_t>((rng() & 0x8000u) | ((10u + rng() % 5u) << 10) | (rng() & 0x3ffu));
  std::vector<float> x(64 * cols), y(64 * rows);
  for (auto& v : x) v = u(rng);
  std::vector<Candidate> cands = {{"avx512", cpu::fast_kernels_named(cpu::FastFamily::Bf16, "avx512"), {}}};
#ifdef RRWKV_MICROBENCH_BASE_FAST_BF16
  cands.push_back({"avx512 BASE", cpu::fast_bf16_avx512_base(), {}});
#endif
  for (Candidate& c : cands) {
    if (!c.k) continue;
    for (int64_t m = 0; m < copies; ++m) {
      const Matrix wm = Matrix::dense(w.data() + m * rows * cols, DType::F16, rows, cols);
      c.packs.emplace_back(static_cast<size_t>(c.k->pack_bytes(DType::F16, cols, rows)) + 64);
      c.k->pack(wm, 0, rows, aligned(c.packs.back()));
    }
  }
  for (int rep = 0; rep < 7; ++rep)
    for (Candidate& c : cands) {
      if (!c.k) continue;
      const int64_t st = c.k->act_row_bytes(DType::F16, cols);
      std::vector<uint8_t> xp(static_cast<size_t>(64 * st) + 64), scratch(1 << 20);
      for (int i = 0; i < 64; ++i) c.k->prepare(DType::F16, x.data() + i * cols, cols, aligned(xp) + i * st);
      for (int b = 0; b < 3; ++b) {
        const double t0 = cpu_now();
        for (int64_t m = 0; m < copies; ++m) {
          const Matrix wm = Matrix::dense(w.data() + m * rows * cols, DType::F16, rows, cols);
          const uint8_t* pk = aligned(c.packs[static_cast<size_t>(m)]);
          for (int64_t r0 = 0; r0 < rows; r0 += task)
            c.k->gemm_packed(wm, pk + c.k->pack_bytes(DType::F16, cols, r0), r0, std::min(rows, r0 + task), aligned(xp),
                             st, ns[b], y.data(), rows, aligned(scratch));
        }
        c.best[b] = std::min(c.best[b], cpu_now() - t0);
      }
    }
  for (const Candidate& c : cands) {
    if (!c.k) continue;
    const double packed = static_cast<double>(c.k->pack_bytes(DType::F16, cols, rows) * copies);
    std::printf("f16 %-12s packed %5.2f bytes/weight; 1 row: %6.2f GB/s of packed weights;", c.label,
                packed / static_cast<double>(rows * cols * copies), packed / c.best[0] / 1e9);
    for (int b = 0; b < 3; ++b)
      std::printf("  n=%d %6.1f GMAC/s", ns[b], static_cast<double>(rows * cols * copies) * ns[b] / c.best[b] / 1e9);
    std::printf("  (1 thread, CPU time, best of 7)\n");
  }
}
