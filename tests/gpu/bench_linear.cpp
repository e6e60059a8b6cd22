// Speed of prefill projections on the GPU (ops::linear's CUDA body, ops/linear_cuda.cu): the
// projections of one 1.5B-shaped RWKV-7 layer (C = 2048: r, k, v, o of C x C, the FFN's 4C x C and
// C x 4C) over n tokens, for f32, f16 and bf16 weights, through the GEMM paths (f32 GEMM, split
// tensor-core GEMM) and, as the peer measured in the same run, the matvec kernels in groups of 16
// rows (what a batch-invariant call takes). Prints the median time of the layer's projections,
// the projection-only prefill rate of 24 such layers in tokens/s, the tensor work in TFLOP/s, and
// the ratio to the matvec kernels. A GPU is the judge; under the emulation (a tiny shape) the
// figures only show that it runs.
//
//   build/.../tests/gpu/rrwkv_gpu_bench_linear [reps]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include "core/device.h"
#include "core/dtype.h"
#include "core/matrix.h"
#include "gpu/runtime.h"
#include "ops/backend_cuda.h"
#include "ops/context.h"
#include "ops/linear.h"

namespace {

using rrwkv::DType;
using rrwkv::Matrix;
using rrwkv::gpu::DeviceBuffer;

// Small finite weights of `type` (f32, or the 16-bit pattern of a value in [-1/8, 1/8)).
DeviceBuffer weights(DType type, int64_t rows, int64_t cols, uint32_t seed) {
  std::mt19937 rng(seed);
  const size_t n = static_cast<size_t>(rows * cols);
  if (type == DType::F32) {
    std::uniform_real_distribution<float> d(-0.125f, 0.125f);
    std::vector<float> v(n);
    for (float& x : v) x = d(rng);
    return rrwkv::gpu::to_device(v);
  }
  // f16: sign, exponent 8..11 (2^-7 .. 2^-4), any mantissa; bf16: exponent 120..123, likewise
  std::uniform_int_distribution<int> m(0, type == DType::F16 ? 1023 : 127), e(0, 3), s(0, 1);
  std::vector<uint16_t> v(n);
  for (uint16_t& x : v)
    x = type == DType::F16 ? static_cast<uint16_t>(s(rng) << 15 | (8 + e(rng)) << 10 | m(rng))
                           : static_cast<uint16_t>(s(rng) << 15 | (120 + e(rng)) << 7 | m(rng));
  return rrwkv::gpu::to_device(v);
}

struct Shape {
  int64_t rows, cols;
};

}  // namespace

int main(int argc, char** argv) {
  if (rrwkv::cuda_device_count() == 0) {
    std::fprintf(stderr, "rrwkv_gpu_bench_linear: no CUDA device (%s)\n", rrwkv::cuda_status().c_str());
    return 3;
  }
  const bool emulated = rrwkv::gpu_emulated();
  const int reps = argc > 1 ? std::atoi(argv[1]) : emulated ? 1 : 9;
  const int64_t C = emulated ? 64 : 2048, layers = 24;
  const std::vector<Shape> shapes = {{C, C}, {C, C}, {C, C}, {C, C}, {4 * C, C}, {C, 4 * C}};
  double flops_per_token = 0;
  for (const Shape& s : shapes) flops_per_token += 2.0 * static_cast<double>(s.rows * s.cols);
  std::printf("device: %s%s; one layer's projections at C=%lld; tokens/s for %lld layers; median of %d\n",
              rrwkv::cuda_status().c_str(), emulated ? " (emulated: times say nothing)" : "",
              static_cast<long long>(C), static_cast<long long>(layers), reps);
  std::printf("%-5s %6s %-8s %12s %14s %10s %10s\n", "type", "tokens", "path", "layer ms", "tokens/s", "TFLOP/s",
              "vs matvec");
  auto backend = rrwkv::make_cuda_backend(rrwkv::Device::cuda(0), 256);
  rrwkv::ExecContext ctx(*backend);
  for (DType type : {DType::F32, DType::F16, DType::BF16}) {
    std::vector<DeviceBuffer> ws;
    std::vector<Matrix> ms;
    for (size_t i = 0; i < shapes.size(); ++i) ws.push_back(weights(type, shapes[i].rows, shapes[i].cols, 7 + i));
    for (size_t i = 0; i < shapes.size(); ++i)
      ms.push_back(Matrix::dense(ws[i].data(), type, shapes[i].rows, shapes[i].cols));
    for (int64_t n : {128, 512, 2048}) {
      if (emulated && n > 128) break;
      DeviceBuffer x = rrwkv::gpu::to_device(std::vector<float>(static_cast<size_t>(n * 4 * C), 0.5f));
      DeviceBuffer y(static_cast<size_t>(n * 4 * C) * sizeof(float));
      double matvec_s = 0;
      for (bool invariant : {true, false}) {
        ctx.batch_invariant = invariant;
        auto layer = [&] {
          backend->begin_call();  // the scratch of the last one is free again
          for (const Matrix& m : ms)
            rrwkv::ops::linear(ctx, {{&m, x.as<float>(), m.cols, n, y.as<float>(), m.rows, rrwkv::ops::Epilogue::None}});
        };
        layer();
        rrwkv::gpu::synchronize(ctx.stream());
        std::vector<double> t;
        for (int r = 0; r < reps; ++r) {
          const auto t0 = std::chrono::steady_clock::now();
          layer();
          rrwkv::gpu::synchronize(ctx.stream());
          t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
        }
        std::sort(t.begin(), t.end());
        const double s = t[t.size() / 2];
        if (invariant) matvec_s = s;
        std::printf("%-5s %6lld %-8s %12.3f %14.0f %10.1f %10.2f\n", rrwkv::dtype_name(type),
                    static_cast<long long>(n), invariant ? "matvec" : "gemm", s * 1e3,
                    static_cast<double>(n) / (s * layers), flops_per_token * static_cast<double>(n) / s * 1e-12,
                    matvec_s / s);
      }
    }
  }
  return 0;
}
