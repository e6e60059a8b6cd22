// Exact matvec kernels' speed per weight byte, one thread, CPU time: how far each weight type's
// batch-1 kernel (decode) is from streaming memory.
//   bash tools/microbench/run.sh matvec_bytes [COPIES [ROWS COLS [VECTORS]]]
// COPIES matrices of ROWS x COLS (3072 x 768) are cycled (1: in the L2, the kernel's own speed; 24: from L3 or
// DRAM as a decode reads them), multiplied with VECTORS vectors at once (1: decode; up to 6: a batch).
// Each sample passes over at least 16 MiB of weights, so that a sample is milliseconds, not a
// tick of the clock; the best of 40 samples is printed. With BASE=<another matvec_avx512.cpp> (e.g. main's), that
// file's AVX-512 kernels are measured too, interleaved with these in the same repetitions, so a
// change is judged on a busy machine by the ratio.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include "core/aligned.h"
#include "core/dtype.h"
#include "core/matrix.h"
#include "kernels/cpu/matvec.h"
#include "cpu_time.h"
#include "base_kernels.h"


using namespace rrwkv;

namespace {

struct Candidate {
  const char* label;
  const cpu::KernelTable* table;
  double best = 1e30;
};

}  // namespace

int main(int argc, char** argv) {
  const int64_t copies = argc > 1 ? std::atoi(argv[1]) : 24;
  const int64_t rows = argc > 2 ? std::atoi(argv[2]) : 3072, cols = argc > 3 ? std::atoi(argv[3]) : 768;
  const int vectors = argc > 4 ? std::atoi(argv[4]) : 1;
  if (vectors < 1 || vectors > cpu::kMaxVecs) {
    std::fprintf(stderr, "VECTORS must be 1..%d\n", cpu::kMaxVecs);
    return 1;
  }
  std::mt19937 rng(1);
  // 64-byte aligned vectors, as the engine's scratch (core/aligned.h): an unaligned x costs the
  // kernels a load across two cache lines for each of its vectors
  AlignedFloats x(std::vector<int64_t>(static_cast<size_t>(vectors), cols));
  std::vector<std::vector<float>> y(vectors, std::vector<float>(rows));
  for (int v = 0; v < vectors; ++v)
    for (int64_t c = 0; c < cols; ++c) x[v][c] = static_cast<float>(rng() % 1000) / 1000.0f - 0.5f;
  for (DType dt : {DType::F32, DType::F16, DType::Q8_0, DType::Q4_1}) {
    const auto rb = static_cast<size_t>(row_bytes(dt, cols));
    std::vector<uint8_t> bytes(static_cast<size_t>(copies * rows) * rb);
    // small finite values for every type: f16 values and quantized scales below 1, no f32 denormals
    for (size_t i = 0; i < bytes.size(); ++i)
      bytes[i] = dt == DType::F32 && i % 4 == 3 ? static_cast<uint8_t>(0x3c + (rng() & 1))
                                                : static_cast<uint8_t>(rng() & 0x3b);
    std::vector<Candidate> cands = {{"avx2", cpu::kernels_avx2()}, {"avx512", cpu::kernels_avx512()}};
#ifdef RRWKV_MICROBENCH_BASE
    cands.push_back({"avx512 BASE", cpu::kernels_avx512_base()});
#endif
    const float* xs[cpu::kMaxVecs];
    float* ys[cpu::kMaxVecs];
    for (int v = 0; v < vectors; ++v) xs[v] = x[v], ys[v] = y[v].data();
    const int64_t passes = std::max<int64_t>(1, (int64_t{16} << 20) / static_cast<int64_t>(bytes.size()));
    for (int rep = 0; rep < 40; ++rep)
      for (Candidate& c : cands) {
        if (!c.table) continue;
        const double t0 = cpu_now();
        for (int64_t pass = 0; pass < passes; ++pass)
          for (int64_t m = 0; m < copies; ++m)
            c.table->matvec(Matrix::dense(bytes.data() + static_cast<size_t>(m * rows) * rb, dt, rows, cols), xs, vectors,
                            ys, 0, rows);
        c.best = std::min(c.best, (cpu_now() - t0) / static_cast<double>(passes));
      }
    for (const Candidate& c : cands)
      if (c.table)
        std::printf("%-5s %-12s %7.2f GB/s of weights  %6.2f GMAC/s  (%d vector(s), 1 thread, CPU time, best of 40)\n",
                    dtype_name(dt), c.label, static_cast<double>(bytes.size()) / c.best / 1e9,
                    static_cast<double>(copies * rows * cols * vectors) / c.best / 1e9, vectors);
  }
}
