// csrc/gpu/vendor.h on the device: 32-lane shuffles in every lane (HIP-CPU's own warp is 64 wide),
// dynamic shared memory with a barrier, atomics, the f16 / bf16 conversions against the CPU's,
// empty launches, and runtime failures as DeviceError.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "core/device.h"
#include "core/errors.h"
#include "gpu/gpu_test.h"
#include "gpu/runtime.h"
#include "gpu/vendor_kernels.h"
#include "kernels/cpu/half.h"

namespace {

using rrwkv::gpu::DeviceBuffer;
using rrwkv::gpu::to_device;
using rrwkv::gpu::to_host;
namespace t = rrwkv::gpu::test;

// What lane l of a 32-lane warp receives, for each case of t::shuffles.
float expected(const std::vector<float>& x, unsigned thread, int which) {
  const unsigned base = thread / 32 * 32, l = thread % 32;
  const unsigned xors[] = {1, 2, 4, 8, 16}, downs[] = {1, 5, 16, 31}, lanes[] = {0, 7, 31};
  if (which < 5) return x[base + (l ^ xors[which])];
  if (which < 9) return l + downs[which - 5] < 32 ? x[thread + downs[which - 5]] : x[thread];
  return x[base + lanes[which - 9]];
}

TEST(GpuDevice, TheDeviceIsADeviceToTheRuntime) {
  RRWKV_NEED_GPU();
  EXPECT_TRUE(rrwkv::cuda_compiled());
  EXPECT_EQ(rrwkv::Device::parse("cuda"), rrwkv::Device::cuda(0));
  EXPECT_EQ(rrwkv::Device::parse("cuda:0").str(), "cuda:0");
  if (rrwkv::gpu_emulated()) {  // the emulation says what it is, and is one device
    EXPECT_EQ(rrwkv::cuda_device_count(), 1);
    EXPECT_NE(rrwkv::cuda_status().find("emulation"), std::string::npos) << rrwkv::cuda_status();
  } else {
    EXPECT_NE(rrwkv::cuda_status().find("device(s)"), std::string::npos) << rrwkv::cuda_status();
  }
}

TEST(GpuVendor, ShufflesExchangeLanesOfEach32LaneWarp) {
  RRWKV_NEED_GPU();
  for (auto [bx, by] : std::vector<std::pair<unsigned, unsigned>>{{32, 1}, {64, 1}, {96, 1}, {128, 2}, {32, 3}}) {
    const unsigned n = bx * by;
    std::vector<float> x(n);
    for (unsigned i = 0; i < n; ++i) x[i] = 1000.0f + static_cast<float>(i);
    DeviceBuffer dx = to_device(x), dout(n * t::kShuffleCases * sizeof(float));
    t::shuffles(dx.as<float>(), dout.as<float>(), bx, by);
    const std::vector<float> out = to_host<float>(dout, n * t::kShuffleCases);
    for (unsigned i = 0; i < n; ++i)
      for (int c = 0; c < t::kShuffleCases; ++c)
        ASSERT_EQ(out[i * t::kShuffleCases + c], expected(x, i, c))
            << "block (" << bx << ", " << by << "), thread " << i << ", case " << c;
  }
}

TEST(GpuVendor, DynamicSharedMemoryAndBarrier) {
  RRWKV_NEED_GPU();
  for (unsigned n : {32u, 200u, 1024u}) {
    std::vector<float> x(n);
    for (unsigned i = 0; i < n; ++i) x[i] = static_cast<float>(i) * 0.5f;
    DeviceBuffer dx = to_device(x), dy(n * sizeof(float));
    t::reverse_in_shared(dx.as<float>(), dy.as<float>(), n);
    const std::vector<float> y = to_host<float>(dy, n);
    for (unsigned i = 0; i < n; ++i) ASSERT_EQ(y[i], x[n - 1 - i]) << "n=" << n << " i=" << i;
  }
}

TEST(GpuVendor, AtomicsCountEveryThread) {
  RRWKV_NEED_GPU();
  const int64_t n = 10001;
  std::vector<uint32_t> x(n), want(8, 0);
  for (int64_t i = 0; i < n; ++i) ++want[(x[i] = static_cast<uint32_t>(i * 7919 % 1000)) % 8];
  DeviceBuffer dx = to_device(x), counts = to_device(std::vector<uint32_t>(8, 0)), total = to_device(std::vector<float>{0});
  t::histogram(dx.as<uint32_t>(), n, counts.as<uint32_t>(), total.as<float>());
  EXPECT_EQ(to_host<uint32_t>(counts, 8), want);
  EXPECT_EQ(to_host<float>(total, 1)[0], 0.5f * n);  // exact: every partial sum is a multiple of 0.5 below 2^24
}

TEST(GpuVendor, HalfAndBf16ConversionsMatchTheCpuOnEveryValue) {
  RRWKV_NEED_GPU();
  std::vector<uint16_t> bits(65536);
  for (int i = 0; i < 65536; ++i) bits[i] = static_cast<uint16_t>(i);
  DeviceBuffer dbits = to_device(bits), df(65536 * sizeof(float));
  t::half_to_float(dbits.as<uint16_t>(), df.as<float>(), 65536);
  std::vector<float> f = to_host<float>(df, 65536);
  for (int i = 0; i < 65536; ++i) {
    const float want = rrwkv::cpu::f16_to_f32(bits[i]);
    if (std::isnan(want)) ASSERT_TRUE(std::isnan(f[i])) << "f16 " << i;
    else ASSERT_EQ(f[i], want) << "f16 " << i;
  }
  t::bf16_to_float(dbits.as<uint16_t>(), df.as<float>(), 65536);
  f = to_host<float>(df, 65536);
  for (int i = 0; i < 65536; ++i) {
    const float want = rrwkv::cpu::bf16_to_f32(bits[i]);
    if (std::isnan(want)) ASSERT_TRUE(std::isnan(f[i])) << "bf16 " << i;
    else ASSERT_EQ(f[i], want) << "bf16 " << i;
  }
  // float -> bf16: exact values, ties to even both ways, signs, infinities, NaN
  std::vector<float> vals = {0.0f, -0.0f, 1.0f, -2.5f, 1e-40f, 3.0e38f, INFINITY, -INFINITY, NAN};
  for (uint32_t mant : {0x00008000u, 0x00018000u, 0x00007fffu, 0x00008001u, 0x0000ffffu})
    for (uint32_t exp : {0x3f800000u, 0x42000000u, 0xc1000000u}) {
      const uint32_t b = exp | mant;
      float v;
      std::memcpy(&v, &b, 4);
      vals.push_back(v);
    }
  DeviceBuffer dv = to_device(vals), dh(vals.size() * 2);
  t::float_to_bf16(dv.as<float>(), dh.as<uint16_t>(), static_cast<int64_t>(vals.size()));
  const std::vector<uint16_t> h = to_host<uint16_t>(dh, vals.size());
  for (size_t i = 0; i < vals.size(); ++i) {
    if (std::isnan(vals[i])) EXPECT_TRUE(std::isnan(t::from_bf16(h[i])));
    else EXPECT_EQ(h[i], t::to_bf16(vals[i])) << "value " << vals[i];
  }
}

TEST(GpuVendor, EmptyGridIsNoWork) {
  RRWKV_NEED_GPU();
  DeviceBuffer x = to_device(std::vector<float>(32, 2.0f));
  t::empty_launch(x.as<float>());
  EXPECT_EQ(to_host<float>(x, 32), std::vector<float>(32, 2.0f));
}

TEST(GpuVendor, RuntimeFailuresAreDeviceErrors) {
  RRWKV_NEED_GPU();
  EXPECT_THROW(DeviceBuffer(size_t(1) << 62), rrwkv::DeviceError);
  DeviceBuffer small(16);
  float out[8];
  EXPECT_THROW(small.download(out, 32), rrwkv::InvalidArgument);
}

}  // namespace
