// ops::linear's CUDA body (ops/linear_cuda.cu) through the front, with a CUDA backend's context,
// against the CPU op: f32 and f16 weights, 1 to 40 rows (the matvec kernels in groups of 16, and
// the GEMM wrapper for f32 from 32 rows on), padded row strides, every epilogue, and with
// batch_invariant each row of a call bit for bit that row alone.
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "gpu/gpu_test.h"
#include "gpu/runtime.h"
#include "ops/backend_cuda.h"
#include "ops/linear.h"

namespace {

using rrwkv::DType;
using rrwkv::Matrix;
using rrwkv::gpu::DeviceBuffer;
using rrwkv::ops::Epilogue;

std::vector<float> random_floats(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

// f32 weights or the same values as f16 (exact in f16: multiples of 2^-8 in [-4, 4)).
std::vector<uint8_t> weight_bytes(DType type, int64_t rows, int64_t cols, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> q(-1024, 1023);
  std::vector<uint8_t> out(static_cast<size_t>(rows * rrwkv::row_bytes(type, cols)));
  for (int64_t i = 0; i < rows * cols; ++i) {
    const float v = static_cast<float>(q(rng)) / 256.0f;
    if (type == DType::F32) {
      std::memcpy(out.data() + 4 * i, &v, 4);
    } else {  // f16 of a value with <= 11 significant bits
      uint32_t b;
      std::memcpy(&b, &v, 4);
      uint16_t h = 0;
      if (v != 0.0f)
        h = static_cast<uint16_t>(((b >> 16) & 0x8000u) | ((((b >> 23) & 0xffu) - 127 + 15) << 10) |
                                  ((b & 0x7fffffu) >> 13));
      std::memcpy(out.data() + 2 * i, &h, 2);
    }
  }
  return out;
}

struct Contexts {
  rrwkv::CpuBackend cpu_backend{1, 1 << 16};
  rrwkv::ExecContext cpu{cpu_backend};
  std::unique_ptr<rrwkv::GpuBackend> gpu_backend = rrwkv::make_cuda_backend(rrwkv::Device::cuda(0), 256);
  rrwkv::ExecContext gpu{*gpu_backend};
};

std::vector<float> run(rrwkv::ExecContext& ctx, const Matrix& w, const std::vector<float>& x, int64_t ldx, int64_t n,
                       int64_t ldy, Epilogue ep, bool on_gpu) {
  std::vector<float> y(static_cast<size_t>(n * ldy), 0.0f);
  if (!on_gpu) {
    rrwkv::ops::linear(ctx, {{&w, x.data(), ldx, n, y.data(), ldy, ep}});
    return y;
  }
  DeviceBuffer dx = rrwkv::gpu::to_device(x), dy = rrwkv::gpu::to_device(y);
  rrwkv::ops::linear(ctx, {{&w, dx.as<float>(), ldx, n, dy.as<float>(), ldy, ep}});
  rrwkv::gpu::synchronize(ctx.stream());
  return rrwkv::gpu::to_host<float>(dy, y.size());
}

TEST(GpuLinearOp, MatchesTheCpuOpForEveryRowCountAndEpilogue) {
  RRWKV_NEED_GPU();
  Contexts c;
  uint32_t seed = 3;
  for (DType type : {DType::F32, DType::F16}) {
    const int64_t rows = 37, cols = 70, ldx = cols + 3, ldy = rows + 2;
    const std::vector<uint8_t> bytes = weight_bytes(type, rows, cols, ++seed);
    const DeviceBuffer dev = rrwkv::gpu::to_device(bytes);
    const Matrix host = Matrix::dense(bytes.data(), type, rows, cols), gpu = Matrix::dense(dev.data(), type, rows, cols);
    for (int64_t n : {1, 7, 16, 17, 40}) {
      for (Epilogue ep : {Epilogue::None, Epilogue::Sigmoid, Epilogue::ReluSquare, Epilogue::Tanh, Epilogue::Silu}) {
        for (bool invariant : {false, true}) {
          c.cpu.batch_invariant = c.gpu.batch_invariant = invariant;
          const std::vector<float> x = random_floats(static_cast<size_t>(n * ldx), ++seed);
          const std::vector<float> want = run(c.cpu, host, x, ldx, n, ldy, ep, false);
          const std::vector<float> got = run(c.gpu, gpu, x, ldx, n, ldy, ep, true);
          for (size_t i = 0; i < got.size(); ++i)
            ASSERT_NEAR(got[i], want[i], 2e-5 * (40.0 + std::fabs(want[i])))
                << rrwkv::dtype_name(type) << " n=" << n << " epilogue " << int(ep) << " invariant " << invariant
                << " at " << i;
        }
      }
    }
  }
}

TEST(GpuLinearOp, WithBatchInvarianceEachRowIsItselfAlone) {
  RRWKV_NEED_GPU();
  Contexts c;
  c.gpu.batch_invariant = true;
  const int64_t rows = 29, cols = 64, n = 40;
  const std::vector<uint8_t> bytes = weight_bytes(DType::F32, rows, cols, 9);
  const DeviceBuffer dev = rrwkv::gpu::to_device(bytes);
  const Matrix w = Matrix::dense(dev.data(), DType::F32, rows, cols);
  const std::vector<float> x = random_floats(static_cast<size_t>(n * cols), 10);
  const std::vector<float> all = run(c.gpu, w, x, cols, n, rows, Epilogue::None, true);
  for (int64_t r : {0, 15, 16, 39}) {
    const std::vector<float> one(x.begin() + r * cols, x.begin() + (r + 1) * cols);
    const std::vector<float> alone = run(c.gpu, w, one, cols, 1, rows, Epilogue::None, true);
    for (int64_t j = 0; j < rows; ++j) ASSERT_EQ(alone[j], all[r * rows + j]) << "row " << r << " output " << j;
  }
}

}  // namespace
