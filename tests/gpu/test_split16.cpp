// Activations in 16-bit parts (gpu/split16.h) against the f32 rows they came from, decoded on the
// host by the CPU's own f16 / bf16 decoders: bf16's three parts sum to each value exactly (to 2^-134 below
// 2^-100, where bf16 is subnormal); f16's
// two parts, shifted back, to within 2^-23 of the row's largest |x| (2^-21 where that is an
// f32 subnormal: the shift stops at 2^126), for rows from 1e-30 to 1e30,
// rows with values around f16's overflow (65504, 65520, 1e5) and below its normals, rows of one
// large value among tiny ones, and zero rows; no part is ever inf or NaN. Also the padded plane
// stride and a row stride above k.
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "core/errors.h"
#include "gpu/gpu_test.h"
#include "gpu/runtime.h"
#include "gpu/split16.h"
#include "kernels/cpu/half.h"

namespace {

using rrwkv::DType;
namespace gpu = rrwkv::gpu;

// Rows of k values (stride ldx) with the magnitudes above; the padding holds NaN (never read).
std::vector<float> awkward_rows(int64_t n, int64_t k, int64_t ldx, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, 1.0f);
  const float scales[] = {1.0f, 1e-30f, 1e30f, 65504.0f, 65520.0f, 1e5f, 3e-5f, 1e-8f, 0.0f, 1e-40f};
  std::vector<float> x(static_cast<size_t>(n * ldx), NAN);
  for (int64_t r = 0; r < n; ++r)
    for (int64_t c = 0; c < k; ++c) {
      const float s = scales[r % 10];
      float v = d(rng) * s;
      if (r % 11 == 10) v = c == 3 ? 6e4f : d(rng) * 1e-6f;  // one large value among tiny ones
      x[static_cast<size_t>(r * ldx + c)] = v;
    }
  return x;
}

TEST(GpuSplit16, PartsSumToTheActivations) {
  RRWKV_NEED_GPU();
  const int64_t n = 23, k = 45, ldx = 50;  // k not a multiple of 8: padded planes
  const std::vector<float> x = awkward_rows(n, k, ldx, 7);
  const gpu::DeviceBuffer dx = gpu::to_device(x);
  for (DType type : {DType::F16, DType::BF16}) {
    const int parts = gpu::split_parts(type);
    const int64_t stride = gpu::split_stride(k);
    ASSERT_EQ(stride, 48);
    gpu::DeviceBuffer planes(static_cast<size_t>(parts * n * stride) * 2), inv(static_cast<size_t>(n) * 4);
    gpu::split16(type, dx.as<float>(), ldx, n, k, planes.as<std::uint16_t>(), inv.as<float>(), nullptr);
    gpu::synchronize(nullptr);
    const auto bits = gpu::to_host<std::uint16_t>(planes, static_cast<size_t>(parts * n * stride));
    const auto inv_scale = gpu::to_host<float>(inv, static_cast<size_t>(n));
    for (int64_t r = 0; r < n; ++r) {
      double largest = 0.0;
      for (int64_t c = 0; c < k; ++c) largest = std::max(largest, std::fabs(double(x[r * ldx + c])));
      for (int64_t c = 0; c < k; ++c) {
        double sum = 0.0;
        for (int p = 0; p < parts; ++p) {
          const uint16_t b = bits[static_cast<size_t>(p * n * stride + r * stride + c)];
          const float v = type == DType::F16 ? rrwkv::cpu::f16_to_f32(b) : rrwkv::cpu::bf16_to_f32(b);
          ASSERT_TRUE(std::isfinite(v)) << rrwkv::dtype_name(type) << " row " << r << " col " << c << " part " << p;
          sum += v;
        }
        const double got = sum * inv_scale[r], want = x[r * ldx + c];
        if (type == DType::BF16 && std::fabs(want) >= 0x1p-100)
          ASSERT_EQ(got, want) << "bf16 row " << r << " col " << c;
        else if (type == DType::BF16)  // bf16's subnormals: steps of 2^-133
          ASSERT_LE(std::fabs(got - want), 0x1p-134) << "bf16 row " << r << " col " << c;
        else
          ASSERT_LE(std::fabs(got - want), (largest >= 0x1p-126 ? 0x1p-23 : 0x1p-21) * largest) << "f16 row " << r << " col " << c << ": " << got
                                                               << " for " << want;
      }
    }
  }
}

TEST(GpuSplit16, OnlyF16AndBf16AndSaneSizes) {
  RRWKV_NEED_GPU();
  EXPECT_THROW(gpu::split_parts(DType::F32), rrwkv::InvalidArgument);
  EXPECT_THROW(gpu::split_parts(DType::Q8_0), rrwkv::InvalidArgument);
  EXPECT_THROW(gpu::split16(DType::F16, nullptr, 3, 2, 4, nullptr, nullptr, nullptr), rrwkv::InvalidArgument);
  EXPECT_NO_THROW(gpu::split16(DType::BF16, nullptr, 4, 0, 4, nullptr, nullptr, nullptr));  // no rows: nothing
}

}  // namespace
